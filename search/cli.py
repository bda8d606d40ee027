"""``search-cli``: build the index, query it, serve it, describe it."""

from __future__ import annotations

import contextlib
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from indexer import build, generations
from indexer.generations import IndexBusy, IndexMissing

from . import highlight
from .engine import SearchEngine, public_answer
from .query import QUERY_REFUSALS
from .request import SORTS, RequestError, build_request
from .terminal import clean, json_text, printable
from .timeline import bucket_label

EXIT_OK, EXIT_FATAL, EXIT_SKIPPED = 0, 1, 3


class Context:
    """Global options shared by every command."""

    def __init__(self, index: Path, seeds: Path) -> None:
        self.index = index
        self.seeds = seeds


def echo(text: str = "", err: bool = False) -> None:
    """Print a line whose text may come from seed files, queries or file names (see ``terminal``)."""
    click.echo(printable(text), err=err)


def _fail(message: str, code: int = EXIT_FATAL) -> None:
    echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--index",
    "index_dir",
    envvar="SEARCH_INDEX",
    default="./index",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Index directory (env SEARCH_INDEX).",
)
@click.option(
    "--seeds",
    "seeds_dir",
    envvar="SEARCH_SEEDS",
    default="./seeds",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Seed folder (env SEARCH_SEEDS).",
)
@click.version_option(package_name="news-search")
@click.pass_context
def main(ctx: click.Context, index_dir: Path, seeds_dir: Path) -> None:
    """Relevance-ranked search over a folder of news front-matter files."""
    ctx.obj = Context(index_dir, seeds_dir)


# ---------------------------------------------------------------------------
# index


def run_index(seeds: Path, index: Path, *, full: bool, wait: bool, quiet: bool) -> build.BuildReport:
    """Build or update the index, with a progress bar on a terminal; raises on fatal errors."""
    if not seeds.is_dir():
        raise click.ClickException(f"seed folder {seeds} does not exist")
    show_bar = not quiet and sys.stderr.isatty()
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not show_bar:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="file", desc="indexing", file=sys.stderr, leave=False)
        bar.update(1)

    try:
        with generations.writer_lock(index, wait=wait):
            if full:
                return build.full_build(seeds, index, progress)
            return build.update(seeds, index, progress)
    finally:
        if bar is not None:
            bar.close()


def _print_report(report: build.BuildReport, seeds: Path, as_json: bool) -> None:
    for problem in report.problems:
        echo(f"skipped {seeds / problem.path}: {problem.reason}", err=True)
    for path, warning in report.warnings:
        echo(f"warning {seeds / path}: {warning}" if path else f"warning: {warning}", err=True)
    if as_json:
        data = {k: v for k, v in vars(report).items() if k not in ("problems", "warnings")}
        data["skipped"] = [{"path": p.path, "reason": p.reason} for p in report.problems]
        click.echo(json_text(data))
    else:
        echo(report.summary())


@main.command("index")
@click.option("--full", is_flag=True, help="Rebuild everything into a fresh generation.")
@click.option("--wait", is_flag=True, help="Wait for a running update instead of failing.")
@click.option("--watch", is_flag=True, help="Keep running and update the index whenever seed files change.")
@click.option("--debounce", default=1.0, show_default=True, type=float, help="With --watch: seconds of quiet first.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def index_command(
    obj: Context, full: bool, wait: bool, watch: bool, debounce: float, quiet: bool, as_json: bool
) -> None:
    """Bring the index in line with the seed folder (only changed files unless --full).

    Exit 0: all files indexed; 1: fatal, index unchanged; 3: done, some files skipped.
    """

    def run_once(full: bool, wait: bool) -> build.BuildReport | None:
        try:
            report = run_index(obj.seeds, obj.index, full=full, wait=wait, quiet=quiet or watch)
        except IndexBusy as exc:
            _fail(str(exc))
        except OSError as exc:
            if not watch:
                _fail(f"{exc.strerror or exc}: {exc.filename or obj.index}; the previous index is unchanged")
            echo(f"error: {exc}; the previous index is unchanged", err=True)
            return None
        _print_report(report, obj.seeds, as_json)
        return report

    report = run_once(full, wait)
    if watch:
        from indexer.watch import watch as watch_folder

        echo(f"watching {obj.seeds} for changes (Ctrl+C to stop)", err=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how a watch ends
            watch_folder(obj.seeds, lambda: run_once(False, True), debounce=debounce)
        sys.exit(EXIT_OK)
    sys.exit(EXIT_SKIPPED if report and report.problems else EXIT_OK)


# ---------------------------------------------------------------------------
# query


def _open_engine(index: Path):
    engine = SearchEngine(index)
    try:
        engine.generation()
    except IndexMissing as exc:
        _fail(str(exc))
    return engine


def format_result(result: dict[str, Any], *, color: bool, width: int = 100) -> str:
    """Readable text for a terminal: ranked hits, then facet counts."""
    bold = ("\x1b[1m", "\x1b[0m") if color else ("", "")
    dim = ("\x1b[2m", "\x1b[0m") if color else ("", "")
    lines: list[str] = []
    total, page, limit = result["total"], result["page"], result["limit"]
    first = (page - 1) * limit + 1
    if result.get("corrected"):
        lines.append(f"Showing results for: {result['corrected']} (--no-typos searches for {result['query']!r})")
    elif result.get("suggestion"):
        lines.append(f"Did you mean: {result['suggestion']}?")
    if result.get("relaxed"):
        lines.append("No item has all the words; showing items with most of them.")
    elif result.get("partial"):
        full = result["total"] - result["partial"]
        lines.append(f"{full} with every word, then {result['partial']} with some of them.")
    if not total:
        lines.append(f"No results for {result['query']!r}.")
    else:
        last = first + len(result["hits"]) - 1
        stories = f" in {result['stories']} stories" if result.get("group") and result.get("stories") != total else ""
        lines.append(f"{total} results{stories}" + (f", showing {first}-{last}" if result["hits"] else ""))
    for rank, hit in enumerate(result["hits"], start=first):
        excerpt = highlight.to_text(hit["highlight"]["excerpt"], *bold)
        date = (hit["published"] or "")[:10]
        partial = "some of the words" if hit.get("partial") else ""
        meta = " · ".join(x for x in (hit["provider"], date, hit["kind"], partial) if x)
        lines.append("")
        lines.append(f"{rank:>3}. {bold[0]}{hit['title']}{bold[1]}")
        lines.append(f"     {dim[0]}{meta}{dim[1]}")
        lines.append(f"     {hit['url']}")
        if excerpt:
            lines.extend(textwrap.wrap(excerpt, width=width, initial_indent="     ", subsequent_indent="     "))
        if hit.get("explain"):
            lines.extend(
                textwrap.wrap(
                    explain_line(hit["explain"]),
                    width=width,
                    initial_indent="     why: ",
                    subsequent_indent="          ",
                )
            )
        for other in hit.get("more_items", []):
            source = " · ".join(x for x in (other["provider"], (other["published"] or "")[:10]) if x)
            lines.append(f"       + {other['title']} {dim[0]}({source}){dim[1]}")
        if hit.get("more", 0) > len(hit.get("more_items", [])):
            lines.append(f"       + {hit['more'] - len(hit['more_items'])} more in this story")
    if total:
        lines.append("")
        for field, entries in result["facets"].items():
            if not entries:
                continue
            shown = ", ".join(f"{'*' if e['selected'] else ''}{e['value']} ({e['count']})" for e in entries[:10])
            lines.append(f"{field}: {shown}")
        coverage = result.get("timeline") or {}
        if coverage.get("buckets"):
            lines.append(f"coverage by {coverage['interval']}: {sparkline(coverage)}")
    return "\n".join(lines)


def explain_line(explain: dict[str, Any]) -> str:
    """'bm25 8.47 (facial@title 3.89, ...) x coordination 1 + title 7.02 x prior 1.22 + story 3.1 = 18.03'."""
    parts, previous = [], 0.0
    for rule in explain["rules"]:
        if rule["rule"] == "bm25":
            terms = ", ".join(f"{t['term']}@{t['field']} {t['value']:.2f}" for t in rule["terms"])
            parts.append(f"bm25 {rule['value']:.2f}" + (f" ({terms})" if terms else ""))
        elif "factor" in rule:
            parts.append(f"x {rule['rule']} {rule['factor']:.3g}")
        else:
            parts.append(f"+ {rule['rule']} {rule['value'] - previous:.2f}")
        previous = rule["value"]
    return " ".join(parts) + f" = {explain['score']:.2f}"


BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(coverage: dict[str, Any]) -> str:
    """'Apr 2020 ▂ █    ▃ Jan 2021': the coverage timeline in one line of text."""
    buckets = coverage["buckets"]
    peak = max(b["count"] for b in buckets) or 1
    bars = "".join(BLOCKS[0 if not b["count"] else max(1, round(8 * b["count"] / peak))] for b in buckets)
    first, last = bucket_label(buckets[0], coverage["interval"]), bucket_label(buckets[-1], coverage["interval"])
    return f"{first} {bars} {last}"


@main.command("query")
@click.argument("words", nargs=-1, required=True)
@click.option("--limit", "-n", default="10", show_default=True, help="Hits per page (1-100).")
@click.option("--page", "-p", default="1", show_default=True, help="Page number.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--filter", "-f", "filters", multiple=True, metavar="FIELD=VALUE", help="Narrow by a facet value.")
@click.option(
    "--group/--no-group", default=True, show_default=True, help="One hit per story, its other items indented below."
)
@click.option(
    "--prefix/--no-prefix", default=True, show_default=True, help="The last word also matches words it begins."
)
@click.option("--typos/--no-typos", default=True, show_default=True, help="Misspelt words match close spellings.")
@click.option("--explain", is_flag=True, help="Break each hit's score into the ranking policy's rules.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON object (same as /api/search).")
@click.pass_obj
def query_command(
    obj: Context,
    words: tuple[str, ...],
    limit: str,
    page: str,
    sort: str,
    filters: tuple[str, ...],
    group: bool,
    prefix: bool,
    typos: bool,
    explain: bool,
    as_json: bool,
) -> None:
    """Ranked results for WORDS ("phrases", -exclude, field:value, published:[2020 to 2021])."""
    try:
        request = build_request(
            " ".join(words),
            page=page,
            limit=limit,
            sort=sort,
            filters=filters,
            group=group,
            prefix=prefix,
            typos=typos,
            explain=explain,
        )
    except RequestError as exc:
        _fail(str(exc), 2)
    engine = _open_engine(obj.index)
    try:
        result = engine.search(request)
    except QUERY_REFUSALS as exc:
        _fail(str(exc), 2)
    if as_json:
        click.echo(json_text(public_answer(result)))
    else:
        click.echo(format_result(clean(result), color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))


@main.command("similar")
@click.argument("url")
@click.option("--limit", "-n", default=10, show_default=True, type=click.IntRange(1, 100), help="How many items.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON object (same as /api/similar).")
@click.pass_obj
def similar_command(obj: Context, url: str, limit: int, as_json: bool) -> None:
    """Items most like the one at URL (more like this)."""
    result = _open_engine(obj.index).similar(url, limit=limit)
    if result is None:
        _fail(f"{url} is not in the index", 1)
    if as_json:
        click.echo(json_text(public_answer(result)))
        return
    echo(f"Items similar to: {result['title']}")
    for rank, hit in enumerate(result["hits"], start=1):
        meta = " · ".join(x for x in (hit["provider"], (hit["published"] or "")[:10]) if x)
        echo(f"{rank:>3}. {hit['title']}\n     {meta}\n     {hit['url']}")


# ---------------------------------------------------------------------------
# serve


@main.command("serve")
@click.option(
    "--host", envvar="SEARCH_HOST", default="127.0.0.1", show_default=True, help="Address to bind (env SEARCH_HOST)."
)
@click.option("--port", envvar="SEARCH_PORT", default=8000, show_default=True, type=int, help="Port (env SEARCH_PORT).")
@click.option("--threads", envvar="SEARCH_THREADS", default=4, show_default=True, type=int, help="Worker threads.")
@click.option("--no-access-log", is_flag=True, help="Do not log one line per request.")
@click.option(
    "--analytics/--no-analytics",
    envvar="SEARCH_ANALYTICS",
    default=True,
    show_default=True,
    help="Record normalized queries and opened results beside the index (env SEARCH_ANALYTICS=off opts out).",
)
@click.option(
    "--base-url",
    envvar="SEARCH_BASE_URL",
    default="",
    help="Public URL of the site, for absolute links in feeds (env SEARCH_BASE_URL; default: relative links).",
)
@click.option(
    "--thumbnails/--no-thumbnails",
    envvar="SEARCH_THUMBNAILS",
    default=True,
    show_default=True,
    help="Show the items' images beside results; readers' browsers fetch them from the publishers "
    "(env SEARCH_THUMBNAILS=off turns them off).",
)
@click.option(
    "--analytics-days",
    envvar="SEARCH_ANALYTICS_DAYS",
    default=90,
    show_default=True,
    type=click.IntRange(min=1),
    help="Delete analytics older than this (env SEARCH_ANALYTICS_DAYS).",
)
@click.option(
    "--analytics-max-mb",
    envvar="SEARCH_ANALYTICS_MAX_MB",
    default=50.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Size cap of the analytics file: the oldest hours go first (env SEARCH_ANALYTICS_MAX_MB).",
)
@click.pass_obj
def serve_command(
    obj: Context,
    host: str,
    port: int,
    threads: int,
    no_access_log: bool,
    analytics: bool,
    base_url: str,
    thumbnails: bool,
    analytics_days: int,
    analytics_max_mb: float,
) -> None:
    """Serve the web UI and JSON API with waitress; builds the index first if there is none."""
    import logging

    from web import create_app
    from web.server import create_server

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" chatter under load
    try:
        generations.current_generation(obj.index)
    except IndexMissing:
        echo(f"no index at {obj.index}: building it from {obj.seeds}", err=True)
        try:
            report = run_index(obj.seeds, obj.index, full=True, wait=True, quiet=False)
        except (IndexBusy, OSError) as exc:
            _fail(str(exc))
        for problem in report.problems:
            echo(f"skipped {obj.seeds / problem.path}: {problem.reason}", err=True)
        echo(report.summary(), err=True)
    config = {"INDEX_DIR": str(obj.index), "ACCESS_LOG": not no_access_log, "ANALYTICS": analytics}
    config.update(ANALYTICS_DAYS=analytics_days, ANALYTICS_MAX_MB=analytics_max_mb, THUMBNAILS=thumbnails)
    try:
        app = create_app({**config, "BASE_URL": base_url})
    except ValueError as exc:  # a malformed --base-url / SEARCH_BASE_URL
        _fail(str(exc))
    echo(f"serving {obj.index} on http://{host}:{port}/ (Ctrl+C to stop)", err=True)
    # waitress's own error replies (400, 431, ...) carry the security headers too: web.server
    server = create_server(
        app, host=host, port=port, threads=threads, ident="news-search", clear_untrusted_proxy_headers=True
    )
    server.run()


# ---------------------------------------------------------------------------
# analytics


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


@main.command("analytics")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650), help="Look this far back.")
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 1000), help="Rows per list.")
@click.option(
    "--min-searches", default=2, show_default=True, type=click.IntRange(1), help="For 'never clicked': at least."
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def analytics_command(obj: Context, days: int, limit: int, min_searches: int, as_json: bool) -> None:
    """Top queries, queries that found nothing, and queries whose results nobody opens."""
    from .analytics import FILE_NAME, report

    try:
        data = report(obj.index / FILE_NAME, days=days, limit=limit, min_searches=min_searches)
    except FileNotFoundError as exc:
        _fail(str(exc))
    if as_json:
        click.echo(json_text(data))
        return
    t = data["totals"]
    echo(
        f"last {days} days: {_count(t['searches'], 'search', 'searches')} of"
        f" {_count(t['queries'], 'different query', 'different queries')},"
        f" {t['zero_result_searches']:,} with no result, {_count(t['clicks'], 'result', 'results')} opened"
    )
    sections = (
        (
            "Top queries",
            "top_queries",
            lambda r: f"{r['searches']:>6}  {r['query'] or '(browse)'}  [{r['results']} results, {r['clicks']} opened]",
        ),
        ("Queries with no result", "zero_result_queries", lambda r: f"{r['searches']:>6}  {r['query']}"),
        (
            f"Queries never opened (searched {min_searches}+ times)",
            "never_clicked",
            lambda r: f"{r['searches']:>6}  {r['query']}  [{r['results']} results]",
        ),
    )
    for title, key, line in sections:
        echo(f"\n{title}:")
        for row in data[key] or []:
            echo(line(row))
        if not data[key]:
            echo("     -")


# ---------------------------------------------------------------------------
# export


@main.command("export")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["opensearch"]), default="opensearch", show_default=True)
@click.option("--index-name", default="news", show_default=True, help="Target index name in the bulk actions.")
@click.option("--batch", default=5_000, show_default=True, type=click.IntRange(1), help="Documents per bulk file.")
@click.pass_obj
def export_command(obj: Context, out_dir: Path, fmt: str, index_name: str, batch: int) -> None:
    """Write the index for OpenSearch/Elasticsearch: index.json, search_template.json, bulk-*.ndjson."""
    from .export import export_opensearch

    summary = export_opensearch(_open_engine(obj.index), out_dir, index_name, batch)
    echo(f"exported {summary['documents']:,} documents to {out_dir} ({len(summary['files'])} files)")
    echo("load them with:", err=True)
    echo(
        f"  curl -XPUT $OPENSEARCH/{index_name} -H 'Content-Type: application/json'"
        f" --data-binary @{out_dir}/index.json",
        err=True,
    )
    echo(
        f"  for f in {out_dir}/bulk-*.ndjson; do curl -XPOST $OPENSEARCH/_bulk -H 'Content-Type: application/x-ndjson'"
        ' --data-binary @"$f"; done',
        err=True,
    )
    echo(
        f"  curl -XPUT $OPENSEARCH/_scripts/news-search -H 'Content-Type: application/json'"
        f" --data-binary @{out_dir}/search_template.json",
        err=True,
    )


# ---------------------------------------------------------------------------
# stats


@main.command("stats")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def stats_command(obj: Context, as_json: bool) -> None:
    """Documents, files, fields, index size and last update."""
    stats = _open_engine(obj.index).stats()
    if as_json:
        click.echo(json_text(stats))
        return
    echo(f"index        {stats['index']} ({stats['generation']})")
    echo(f"documents    {stats['documents']:,}")
    echo(f"files        {stats['files']:,} indexed, {stats['skipped_files']} skipped")
    echo(f"size         {stats['size_bytes'] / 1e6:.1f} MB")
    echo(f"last update  {stats['last_update']} ({stats['last_update_mode']})")
    echo(f"fields       {', '.join(stats['fields'])}")
    echo("facets       " + ", ".join(f"{k}: {v} values" for k, v in stats["facets"].items()))


if __name__ == "__main__":  # pragma: no cover
    main()
