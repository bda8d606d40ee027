"""``search-cli index``: bring the index in line with the seed folder, once or as files change."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .terminal import echo, fail, file_name, json_text

if TYPE_CHECKING:
    from indexer.build import BuildReport

EXIT_OK, EXIT_SKIPPED = 0, 3
PROGRAM_EXITS_AFTER = False  # set by the search-cli program (web.cli.run), never when tests call the command

# ---------------------------------------------------------------------------
# index


def run_index(
    seeds: Path,
    index: Path,
    *,
    full: bool,
    wait: bool,
    quiet: bool,
    progress_bar: bool = False,
    semantic_model: str | None = None,
) -> BuildReport:
    """Build or update the index; raises on fatal errors.

    ``semantic_model``: embed the items with it ('none': stop; None: as the live generation did).

    A progress bar (files read, rate, time left) goes to stderr on a terminal, or when asked
    (``progress_bar``), never with ``quiet``.
    """
    from indexer import build, bulk_build, incremental, writer_lock

    if not seeds.is_dir():
        raise click.ClickException(f"seed folder {seeds} does not exist")
    try:
        bulk_build.bulk_writer_chosen()  # SEARCH_BUILD_WRITER: refused before anything is read
    except ValueError as exc:
        fail(str(exc), 2)
    show_bar = not quiet and (progress_bar or sys.stderr.isatty())
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if not show_bar:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="file", desc="indexing", file=sys.stderr, leave=False, mininterval=0.5)
        bar.update(1)
        if done == total:  # reading is the long part; say what the remaining seconds are for
            bar.set_postfix_str("writing the index", refresh=True)

    try:
        with writer_lock.writer_lock(index, wait=wait):
            if full:
                return build.full_build(seeds, index, progress, semantic_model=semantic_model)
            return incremental.update(seeds, index, progress, semantic_model=semantic_model)
    finally:
        if bar is not None:
            bar.close()


def print_problems(report: BuildReport, seeds: Path) -> None:
    """Each skipped file and each warning on a line of standard error (``index``, and ``serve``'s first build)."""
    for problem in report.problems:
        echo(f"skipped {file_name(seeds / problem.path)}: {problem.reason}", err=True)
    for path, warning in report.warnings:
        echo(f"warning {file_name(seeds / path)}: {warning}" if path else f"warning: {warning}", err=True)


def _print_report(report: BuildReport, seeds: Path, as_json: bool) -> None:
    print_problems(report, seeds)
    if as_json:
        data = {k: v for k, v in vars(report).items() if k not in ("problems", "warnings")}
        data["skipped"] = [{"path": p.path, "reason": p.reason} for p in report.problems]
        click.echo(json_text(data))
    else:
        echo(report.summary())


@click.command("index")
@click.option("--full", is_flag=True, help="Rebuild everything into a fresh generation.")
@click.option("--wait", is_flag=True, help="Wait for a running update instead of failing.")
@click.option("--watch", is_flag=True, help="Keep running and update the index whenever seed files change.")
@click.option("--debounce", default=1.0, show_default=True, type=float, help="With --watch: seconds of quiet first.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@click.option("--progress", "progress_bar", is_flag=True, help="A progress bar even when stderr is not a terminal.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def index_command(
    obj: Any, full: bool, wait: bool, watch: bool, debounce: float, quiet: bool, progress_bar: bool, as_json: bool
) -> None:
    """Bring the index in line with the seed folder (only changed files unless --full).

    Exit 0: all files indexed; 1: fatal, index unchanged; 3: done, some files skipped.
    """
    from indexer.embedder import EmbedderMissing
    from indexer.textfiles import SeedFolderEmpty
    from indexer.writer_lock import IndexBusy

    def run_once(full: bool, wait: bool) -> BuildReport | None:
        try:
            report = run_index(
                obj.seeds,
                obj.index,
                full=full,
                wait=wait,
                quiet=quiet or watch,
                progress_bar=progress_bar,
                semantic_model=obj.semantic_model,
            )
        except IndexBusy as exc:
            fail(str(exc))
        except (SeedFolderEmpty, click.ClickException) as exc:  # ClickException: the seed folder is not there
            if not watching:  # a command, or a watch's first run: nothing to watch yet
                fail(exc.format_message() if isinstance(exc, click.ClickException) else str(exc))
            echo(f"error: {exc}", err=True)  # a watch waits for the folder to be back or hold files again
            return None
        except EmbedderMissing as exc:
            if not watch:
                fail(f"{exc}; the previous index is unchanged")
            echo(f"error: {exc}; the previous index is unchanged", err=True)
            return None
        except OSError as exc:
            if not watch:
                fail(f"{exc.strerror or exc}: {exc.filename or obj.index}; the previous index is unchanged")
            echo(f"error: {exc}; the previous index is unchanged", err=True)
            return None
        _print_report(report, obj.seeds, as_json)
        return report

    one_update = not watch and not full and PROGRAM_EXITS_AFTER  # then the process ends
    if one_update:
        # the cyclic garbage it leaves (~35k objects at 100k
        # documents) is left to the exit, not collected when the update turns the collector back on;
        # a full build pauses the collector for its span only (build.collector_paused)
        gc.disable()
    watching = False
    report = run_once(full, wait)
    if watch:
        watching = True
        from indexer.watch import watch as watch_folder

        echo(f"watching {obj.seeds} for changes (Ctrl+C to stop)", err=True)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C is how a watch ends
            watch_folder(obj.seeds, lambda: run_once(False, True), debounce=debounce)
        sys.exit(EXIT_OK)
    code = EXIT_SKIPPED if report and report.problems else EXIT_OK
    if one_update:
        # the report is out and the index published: the interpreter's teardown (every module and
        # mapped array of the update, ~0.05-0.1 s) would only delay the prompt
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
