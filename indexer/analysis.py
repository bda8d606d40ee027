"""Text analysis: NLTK's tokenizer and Snowball stemmer composed as Whoosh analyzers.

Only data-free parts of NLTK are used (RegexpTokenizer, SnowballStemmer), so nothing needs
``nltk.download``. The same analyzer runs at index and query time.

Importing NLTK costs half a second, so it is loaded only where a command needs it: a full build
calls ``use_nltk()`` and writes every indexed word's stem beside the index (``remember_stems``); an
update and a query tokenize as below and load the stemmer only for a word never stemmed before;
a query whose words the index has seen tokenizes with the same pattern through the ``regex``
engine (what NLTK's ``RegexpTokenizer.span_tokenize`` runs, through ``nltk.redos``; stdlib ``re``
splits superscript digits, combining accents and joiners otherwise; tests/test_analysis.py
checks they agree) and finds its stems in that map, and only an unseen word loads the stemmer:
NLTK's Snowball module alone, in milliseconds, not the package (``_light_english_stemmer``).

>>> analyze("Microsoft's police-recognition tools, Lézard")
['microsoft', 'polic', 'recognit', 'tool', 'lezard']
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import re
import sys
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import regex
from whoosh.analysis import (
    Analyzer,
    CharsetFilter,
    LowercaseFilter,
    StemFilter,
    StopFilter,
    Token,
    Tokenizer,
)
from whoosh.support.charset import accent_map

# Words, with inner apostrophes kept ("won't", "Microsoft's") so Snowball can strip possessives.
WORD_PATTERN = r"\w+(?:['\u2019]\w+)*"
_APOSTROPHES = str.maketrans({"\u2019": "'"})

_WORDS = regex.compile(WORD_PATTERN)  # NLTK's RegexpTokenizer compiles its pattern with ``regex`` too
_STEMS: dict[str, str] = {}  # word -> stem, from builds and earlier calls: a stem never changes
_MAX_STEMS = 2_000_000


def _regex_spans(text: str) -> Iterator[tuple[int, int]]:
    return (m.span() for m in _WORDS.finditer(text))


_span_tokenize: Callable[[str], Iterable[tuple[int, int]]] = _regex_spans
_snowball: Callable[[str], str] | None = None


def use_nltk() -> None:
    """Tokenize with NLTK's RegexpTokenizer and load its Snowball stemmer (for builds)."""
    global _span_tokenize
    with _LOADING:
        from nltk.tokenize import RegexpTokenizer

        _span_tokenize = RegexpTokenizer(WORD_PATTERN).span_tokenize
    _stemmer()


_LOADING = threading.RLock()  # one loader at a time: the light load below swaps entries of sys.modules
_STEMMER_MODULE = "nltk.stem.snowball"
_LIGHT_PARENTS = ("nltk", "nltk.stem", "nltk.corpus")


def _light_english_stemmer() -> type:
    """NLTK's ``EnglishStemmer`` class, loaded without running the ``nltk`` package's ``__init__``.

    ``import nltk`` imports the whole toolkit (corpus readers, collocations, metrics, and scipy when
    it is installed): 0.2-0.5 s, 2.4 s beside scipy, paid by every update bringing one new word,
    for a module that needs only ``nltk.redos``, ``nltk.termsec`` and ``nltk.stem.{api,util,porter}``.
    So NLTK's own file is executed under its own name with bare packages standing in for its
    parents (``nltk.corpus`` is read only with ``ignore_stopwords=True``, never here), and
    ``sys.modules`` is then put back as it was: a later ``import nltk`` loads the real package in full.
    """
    spec = importlib.util.find_spec("nltk")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nltk is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    before = set(sys.modules)
    try:
        for name in _LIGHT_PARENTS:
            parent = types.ModuleType(name)
            parent.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
            sys.modules[name] = parent
        sys.modules["nltk.corpus"].stopwords = None  # type: ignore[attr-defined]
        return importlib.import_module(_STEMMER_MODULE).EnglishStemmer
    finally:
        for name in set(sys.modules) - before:
            if name == "nltk" or name.startswith("nltk."):
                del sys.modules[name]


def _stemmer() -> Callable[[str], str]:
    global _snowball
    if _snowball is None:
        with _LOADING:
            if _snowball is None:
                english = None
                if "nltk" not in sys.modules:
                    with contextlib.suppress(ImportError, AttributeError):  # another NLTK layout: the plain import
                        english = _light_english_stemmer()
                if english is None:
                    from nltk.stem.snowball import EnglishStemmer as english
                _snowball = english().stem
    return _snowball


def load_stemmer_in_background() -> None:
    """Load NLTK's stemmer in a thread: a server's first unseen word then does not wait for the import."""
    threading.Thread(target=_stemmer, name="load-stemmer", daemon=True).start()


def stem(word: str) -> str:
    """Snowball (Porter2) stem of a lower-cased word; remembered because news vocabularies repeat."""
    found = _STEMS.get(word)
    if found is None:
        found = _stemmer()(word)
        if len(_STEMS) < _MAX_STEMS:
            _STEMS[word] = found
    return found


def remember_stems(stems: Mapping[str, str]) -> None:
    """Stems known from a build (word -> stem): queries with these words need no stemmer."""
    _STEMS.update(stems)


def stems_of(words: Iterable[str]) -> dict[str, str]:
    """Every word's stem (for persisting beside an index)."""
    return {word: stem(word) for word in words}


class NltkTokenizer(Tokenizer):
    """Whoosh tokenizer over NLTK's RegexpTokenizer, with positions and character offsets."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NltkTokenizer)

    def __hash__(self) -> int:
        return hash(NltkTokenizer)

    def __call__(
        self,
        value: str,
        positions: bool = False,
        chars: bool = False,
        keeporiginal: bool = False,
        removestops: bool = True,
        start_pos: int = 0,
        start_char: int = 0,
        tokenize: bool = True,
        mode: str = "",
        **kwargs: Any,
    ) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        spans = _span_tokenize(value) if tokenize else [(0, len(value))]
        for pos, (start, end) in enumerate(spans):
            token.text = value[start:end].translate(_APOSTROPHES)
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = token.text
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            yield token


def pieces(text: str) -> list[str]:
    """``text`` cut around its words: ``[between, word, between, ..., word, between]`` (words at odd places).

    The words are those the analyzers' tokenizer finds; joined, the pieces are ``text``. Cut in one call of the
    same engine and pattern as NLTK's tokenizer, whether or not NLTK is loaded (highlighting a page);
    stdlib ``re`` for ASCII text, which has no character the two engines tell apart.
    """
    return (_ASCII_PIECES if text.isascii() else _PIECES).split(text)


_PIECES = regex.compile(f"({WORD_PATTERN})")  # the words captured: ``split`` keeps them between the rest
_ASCII_PIECES = re.compile(f"({WORD_PATTERN})", re.ASCII)
_ASCII_WORDS = re.compile(WORD_PATTERN)  # on ASCII text \w is [A-Za-z0-9_] in both engines; stdlib's is faster


def split_words(text: str) -> list[str]:
    """The words of ``text`` exactly as the analyzers' tokenizer splits them, found in one call.

    NLTK's engine and pattern without its span-by-span wrapper, and stdlib ``re`` for ASCII text
    (a third faster; the engines differ only on other characters). tests/test_analysis.py checks
    both against NLTK's tokenizer.
    """
    return _ASCII_WORDS.findall(text) if text.isascii() else _WORDS.findall(text)


def news_analyzer() -> Analyzer:
    """Tokenize, lower-case, fold accents, drop stop words, stem: for title and excerpt."""
    return (
        NltkTokenizer()
        | LowercaseFilter()
        | CharsetFilter(accent_map)
        | StopFilter(minsize=1)
        | StemFilter(stemfn=stem, cachesize=None)
    )


def vocabulary_analyzer() -> Analyzer:
    """Unstemmed, accent-folded words: the vocabulary for did-you-mean suggestions."""
    return NltkTokenizer() | LowercaseFilter() | CharsetFilter(accent_map)


@functools.cache
def _news() -> Analyzer:
    return news_analyzer()


def term_of_word(analyzer: Analyzer, word: str) -> str:
    """The term ``analyzer`` makes of one word of the tokenizer's pattern ("" for a stop word).

    The analyzers are the tokenizer and per-token filters, so a word's term does not depend on the
    words around it: callers may remember it per word (tests/test_bulk.py checks whole corpora).
    """
    found = [t.text for t in analyzer(word, mode="index")]
    if len(found) > 1:  # a word of the tokenizer's pattern is one token; never index wrongly
        raise ValueError(f"{word!r} analyzed into {len(found)} terms")
    return found[0] if found else ""


_TERMS: dict[str, str] = {}  # word -> the news analyzer's term for it ("" for a stop word)


def analyze(text: str) -> list[str]:
    """The index terms of ``text`` (the news analyzer's, each word's term remembered: titles repeat words)."""
    terms = []
    for word in split_words(text):
        term = _TERMS.get(word)
        if term is None:
            term = term_of_word(_news(), word)
            if len(_TERMS) < _MAX_STEMS:
                _TERMS[word] = term
        if term:
            terms.append(term)
    return terms


def index_terms(text: str) -> set[str]:
    """The distinct terms the news analyzer indexes for ``text`` (event clustering re-reads changed items)."""
    return set(analyze(text))


def title_signature(title: str) -> str:
    """A title's index terms joined: equal for titles that differ only in case, accents, stop words."""
    return " ".join(analyze(title))
