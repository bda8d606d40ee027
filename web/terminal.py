r"""Text for a terminal: answers formatted to read, and nothing a seed file, a query or a file name holds may drive it.

A title with ESC or CSI (U+009B) in it could recolour the screen, set the window title or
plant an OSC-8 link; a right-to-left override could make a line read differently than it
is. Every string the command line prints passes through here, so those characters arrive
as visible escapes (``\x1b``, ``\u202e``) instead of being obeyed.

>>> printable("ok\x1b]0;owned\x07 \x9b31m")
'ok\\x1b]0;owned\\x07 \\x9b31m'
>>> json_text({"t": "a\x9bb"})
'{\n  "t": "a\\u009bb"\n}'
"""

from __future__ import annotations

import json
import textwrap
from typing import Any

from indexer.text import BIDI_CONTROLS, CONTROL_CHARS, SURROGATES

# C0 controls but tab and newline, DEL, C1 controls, and the invisible marks that reorder or hide text
_UNSAFE = [
    *CONTROL_CHARS,
    *range(0x200B, 0x2010),  # zero-width spaces and joiners, LRM, RLM
    *BIDI_CONTROLS,  # bidi embeddings, overrides and isolates
    0xFEFF,
]
_VISIBLE = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
# a lone surrogate is a byte of a file name or an argument that was not UTF-8 (surrogateescape):
# printed, it would go out as that raw byte (0x9b is CSI); shown as the byte it was
_VISIBLE.update({c: f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c < 0xDD00 else f"\\u{c:04x}" for c in SURROGATES})
_JSON = {c: f"\\u{c:04x}" for c in (*_UNSAFE, *SURROGATES) if c >= 0x20}  # json.dumps already escapes C0
# a file name may hold a newline or a tab: one name must stay on its line ("skipped NAME: reason")
_NAME = {**_VISIBLE, 0x0A: "\\n", 0x09: "\\t"}


def echo(text: str = "", err: bool = False) -> None:
    """Print a line whose text may come from seed files, queries or file names."""
    import click

    click.echo(printable(text), err=err)


def fail(message: str, code: int = 1) -> None:
    """Print ``error: message`` to standard error and exit with ``code`` (1: fatal; 2: fix the input)."""
    echo(f"error: {message}", err=True)
    raise SystemExit(code)


def printable(text: str) -> str:
    """``text`` with every control or reordering character written as a visible escape."""
    return text.translate(_VISIBLE)


def file_name(path: object) -> str:
    r"""A file's name for one line of a report: ``printable``, and its newlines and tabs escaped too.

    >>> file_name("bad\nskipped x.md: forged.md"), file_name("caf\udce9.md")
    ('bad\\nskipped x.md: forged.md', 'caf\\xe9.md')
    """
    return str(path).translate(_NAME)


def clean(value: Any) -> Any:
    """``value`` (a JSON-like answer) with ``printable`` applied to every string in it."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {clean(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    return value


def json_text(value: Any) -> str:
    r"""Indented JSON for a terminal: the same data, with unsafe characters as ``\uXXXX`` escapes."""
    return json.dumps(value, ensure_ascii=False, indent=2).translate(_JSON)


def plural(n: int, one: str, many: str) -> str:
    """'1 search', '2 searches'."""
    return f"{n:,} {one if n == 1 else many}"


def format_result(result: dict[str, Any], *, color: bool, width: int = 100) -> str:
    """Readable text for a terminal: ranked hits, then facet counts."""
    from search import highlight

    bold = ("\x1b[1m", "\x1b[0m") if color else ("", "")
    dim = ("\x1b[2m", "\x1b[0m") if color else ("", "")
    lines: list[str] = []
    total, page, limit = result["total"], result["page"], result["limit"]
    first = (page - 1) * limit + 1
    if result.get("corrected"):
        also = " and close spellings" if result.get("corrected_also") else ""
        lines.append(f"Showing results for: {result['corrected']}{also} (--no-typos searches for {result['query']!r})")
    elif result.get("suggestion"):
        lines.append(f"Did you mean: {result['suggestion']}?")
    if result.get("relaxed"):
        lines.append("No item has all the words; showing items with most of them.")
    elif result.get("partial") and result["partial"] == result["total"]:
        lines.append("None with every word; these have some of them.")
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
        if hit.get("missing"):
            partial = "missing: " + " ".join(hit["missing"])
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
    """'bm25 8.47 (facial@title 3.89, ...) x coordination 0.9 (common words: how 0.26) + title 7 x prior 1.2 = 18'."""
    parts, previous = [], 0.0
    for rule in explain["rules"]:
        if rule["rule"] == "words":  # a tier, not a score
            parts.append("[every word]" if rule["all_words"] else "[lacks a word]")
            continue
        if rule["rule"] == "bm25":
            terms = ", ".join(f"{t['term']}@{t['field']} {t['value']:.2f}" for t in rule["terms"])
            parts.append(f"bm25 {rule['value']:.2f}" + (f" ({terms})" if terms else ""))
        elif "factor" in rule:
            # words common in English weigh less in coordination: say which, and how much they count
            words = [w for w in rule.get("words", []) if w["common_weight"] < 1]
            common = ", ".join(f"{w['word']} {w['common_weight']:.2f}" for w in words)
            parts.append(f"x {rule['rule']} {rule['factor']:.3g}" + (f" (common words: {common})" if common else ""))
        else:
            parts.append(f"+ {rule['rule']} {rule['value'] - previous:.2f}")
        previous = rule["value"]
    return " ".join(parts) + f" = {explain['score']:.2f}"


BLOCKS = " ▁▂▃▄▅▆▇█"


def sparkline(coverage: dict[str, Any]) -> str:
    """'Apr 2020 ▂ █    ▃ Jan 2021': the coverage timeline in one line of text."""
    from search.timeline import bucket_label

    buckets = coverage["buckets"]
    peak = max(b["count"] for b in buckets) or 1
    bars = "".join(BLOCKS[0 if not b["count"] else max(1, round(8 * b["count"] / peak))] for b in buckets)
    first, last = bucket_label(buckets[0], coverage["interval"]), bucket_label(buckets[-1], coverage["interval"])
    return f"{first} {bars} {last}"
