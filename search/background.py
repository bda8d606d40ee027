"""How common a word is in English at large: what tells a question's "why" from its subject.

In a news collection "why", "did" and "get" are rare (few headlines ask), so their idf is as high as
a subject's, and coordination (the share of the query's idf an item holds) rewarded an item for
holding them: "Why Maps Integration ... is Essential for your Business" ranked first for "why did
IBM get out of the facial recognition business". Their frequency in general English tells them
apart from subjects without a hand-made stop list: wordfreq's small English list (29k words from
subtitles, Wikipedia, news, books and the web), on the Zipf scale: 7 for "the", 0 for a word it
does not list.

The list is read from the installed wordfreq package's data file (its documented cBpack format:
bins of words, bin i at frequency 10^(-i/100)) rather than through ``import wordfreq``, whose
language-tag and text-repair imports cost about 0.5 s: every ``search-cli query`` would pay them.
"""

from __future__ import annotations

import gzip
import importlib.util
from functools import cache
from pathlib import Path

WORD_LIST = "small_en.msgpack.gz"


SCANNED_UP_TO = 32  # words looked up by scanning the bins; from then on, one table of every word


@cache
def _bins() -> tuple[list[str], ...]:
    """The word list's bins: bin i holds the words of frequency 10^(-i/100), each word in one bin."""
    import msgpack  # a wordfreq dependency; C extension, ~15 ms

    spec = importlib.util.find_spec("wordfreq")  # locates the package without running its imports
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("wordfreq is required (pip install wordfreq)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / WORD_LIST
    header, *bins = msgpack.unpackb(gzip.decompress(path.read_bytes()), raw=False)
    if header.get("format") != "cB":
        raise ValueError(f"{path}: unexpected word-list format {header!r}")
    return tuple(bins)


def _zipf_of_bin(i: int) -> float:
    return round(9 - i / 100, 2)  # Zipf = log10(frequency per billion words)


@cache
def _zipf_table() -> dict[str, float]:
    # dict.fromkeys per bin: a third of the time of a comprehension over 29k words
    table: dict[str, float] = {}
    for i, words in enumerate(_bins()):
        table.update(dict.fromkeys(words, _zipf_of_bin(i)))
    return table


_scanned: dict[str, float] = {}


def zipf(word: str) -> float:
    """``word``'s Zipf frequency in English (log10 of its occurrences per billion words; 0: not listed).

    A command looks up a handful of words: scanning the bins for each (0.3 ms at worst, a word not
    listed) costs a CLI query far less than building the table of all 29k (11 ms). A server, past
    ``SCANNED_UP_TO`` words, builds the table once.
    """
    found = _scanned.get(word)
    if found is not None:
        return found
    if len(_scanned) >= SCANNED_UP_TO:
        return _zipf_table().get(word, 0.0)
    found = next((_zipf_of_bin(i) for i, words in enumerate(_bins()) if word in words), 0.0)
    _scanned[word] = found
    return found
