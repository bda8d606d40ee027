"""The analyzer: NLTK's tokenizer and the query-time pattern agree, and known words need no NLTK import."""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

from nltk.tokenize import RegexpTokenizer

from indexer import analysis
from tests.conftest import AI_CORPUS, POWER_APPS, SEEDS

ROOT = Path(__file__).resolve().parent.parent


def test_the_query_time_pattern_tokenizes_exactly_as_nltks_regexp_tokenizer():
    nltk = RegexpTokenizer(analysis.WORD_PATTERN)
    texts = [p.read_text(encoding="utf-8") for folder in (SEEDS, AI_CORPUS, POWER_APPS) for p in folder.rglob("*.*")]
    texts += ["won't Microsoft’s Lézard naïve 2020-06 Wi-Fi _x_ ''quoted'' a’b’c", "", "   "]
    # where stdlib ``re`` splits otherwise than NLTK's engine: superscripts, combining accents, joiners
    texts += ["x²³ E=mc² cafe\u0301 e\u0301te\u0301 a\u200db \u0663\u0664 \u01c5emal n\u0303o"]
    assert len(texts) > 100
    for text in texts:
        assert list(analysis._regex_spans(text)) == list(nltk.span_tokenize(text))


def test_split_words_gives_nltks_words_on_ascii_and_other_text():
    nltk = RegexpTokenizer(analysis.WORD_PATTERN)
    texts = [p.read_text(encoding="utf-8") for folder in (SEEDS, AI_CORPUS, POWER_APPS) for p in folder.rglob("*.*")]
    texts = [line for text in texts for line in text.splitlines()]  # many lines are ASCII, some not
    texts += ["won't Microsoft’s Lézard naïve 2020-06 Wi-Fi _x_ ''quoted'' a’b’c", "", "   ", "it's o'clock '' a_b 9'9"]
    texts += ["x²³ E=mc² cafe\u0301 e\u0301te\u0301 a\u200db \u0663\u0664 \u01c5emal n\u0303o"]
    assert sum(t.isascii() for t in texts) > 100 and sum(not t.isascii() for t in texts) > 10
    for text in texts:
        assert analysis.split_words(text) == [text[a:b] for a, b in nltk.span_tokenize(text)]


def test_analysis_doctests():
    assert doctest.testmod(analysis).failed == 0


def test_a_query_of_indexed_words_loads_no_nltk(seeds_index):
    probe = (
        "import sys; from search.engine import SearchEngine; from search.request import build_request;"
        f"e = SearchEngine({str(seeds_index)!r}); r = e.search(build_request('facial recognition police'));"
        "assert r['total'] > 0; print('nltk' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
    stemmer_module = "from indexer import analysis; print(type(analysis._snowball.__self__).__module__)"
    unseen = probe.replace("facial recognition police", "facial recognition policemanship")
    unseen = unseen.replace("print('nltk' in sys.modules)", stemmer_module)
    out = subprocess.run([sys.executable, "-c", unseen], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "nltk.stem.snowball"  # a word no item holds is stemmed by NLTK itself


LIGHT_THEN_FULL = """
import sys, time
from indexer import analysis
started = time.perf_counter()
stem = analysis._stemmer()
took = time.perf_counter() - started
light = sorted(name for name in sys.modules if name.startswith("nltk"))
import nltk
from nltk.stem.snowball import EnglishStemmer
import nltk.stem.snowball
words = sys.stdin.read().split()
full = EnglishStemmer().stem
print(light, "nltk.download" if hasattr(nltk, "download") else "", type(stem.__self__) is not EnglishStemmer)
print(sum(stem(w) != full(w) for w in words), len(words))
"""


def test_the_stemmer_is_nltks_own_module_loaded_without_the_package_and_stems_as_nltk_does():
    # every word of the corpora (and hostile ones), stemmed by the lightly loaded module and by the
    # class of a full ``import nltk`` afterwards, which still works in the same process
    words = set()
    for folder in (SEEDS, AI_CORPUS, POWER_APPS):
        for path in folder.rglob("*.*"):
            words.update(w.lower() for w in analysis.split_words(path.read_text(encoding="utf-8")))
    words.update(["generously", "dying", "skies", "news", "andes", "'s", "won't", "ﬁnally", "crédit", "x²"])
    out = subprocess.run(
        [sys.executable, "-c", LIGHT_THEN_FULL],
        input="\n".join(sorted(words)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    first, second = out.stdout.splitlines()
    assert first == "[] nltk.download True", out.stderr  # nothing of NLTK left behind; the real package loads after
    assert second == f"0 {len(words)}" and len(words) > 5000
