"""How common a word is in English at large: what tells a question's "why" from its subject.

In a news collection "why", "did" and "get" are rare (few headlines ask), so their idf is as high as
a subject's, and coordination (the share of the query's idf an item holds) rewarded an item for
holding them: "Why Maps Integration ... is Essential for your Business" ranked first for "why did
IBM get out of the facial recognition business". Their frequency in general English (wordfreq's
small English list: subtitles, Wikipedia, news, books and the web, on the Zipf scale, 7 for "the"
and 0 for a word not listed) tells them apart from subjects without a hand-made stop list.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=65_536)
def zipf(word: str) -> float:
    """``word``'s Zipf frequency in English (log10 of its occurrences per billion words; 0: unknown)."""
    from wordfreq import zipf_frequency  # imported on first use: it reads its word list then

    return float(zipf_frequency(word, "en", wordlist="small"))
