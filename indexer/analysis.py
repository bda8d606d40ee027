"""Text analysis: NLTK's tokenizer and Snowball stemmer composed as Whoosh analyzers.

Only data-free parts of NLTK are used (RegexpTokenizer, SnowballStemmer), so nothing needs
``nltk.download``. The same analyzer runs at index and query time.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from nltk.stem.snowball import EnglishStemmer
from nltk.tokenize import RegexpTokenizer
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

_nltk_tokenizer = RegexpTokenizer(WORD_PATTERN)
_nltk_stemmer = EnglishStemmer()


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Snowball (Porter2) stem of a lower-cased word; cached because news vocabularies repeat."""
    return _nltk_stemmer.stem(word)


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
        spans = _nltk_tokenizer.span_tokenize(value) if tokenize else [(0, len(value))]
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


def analyze(text: str) -> list[str]:
    """The index terms of ``text`` (handy for tests and query planning)."""
    return [t.text for t in news_analyzer()(text)]


def title_signature(title: str) -> str:
    """A title's index terms joined: equal for titles that differ only in case, accents, stop words."""
    return " ".join(analyze(title))
