"""Reading seed files: good files parse, bad files are named with a reason a person can act on."""

from __future__ import annotations

import codecs
import html
import os
import random
import re
import unicodedata

import pytest
import yaml

from indexer import seeds
from indexer.seeds import SeedFileError, SeedProblem, discover, parse_seed_bytes, parse_yaml, read_seed_file
from indexer.text import _CONTROL, _QUOTE_MAP, clean_text
from tests.conftest import BROKEN, FIXTURES, SEEDS

GOOD = b"""---
title: "Microsoft won&#8217;t sell it"
excerpt: "Caf\xc3\xa9 &amp; more"
publishedDateTime: 2021-03-16T17:33:00Z
webUrl: "https://www.example.com/a/"
quality: 86
provider:
  name: Example
  domain: example.com
topics:
  - AI
related:
  - title: "Related one"
    webUrl: "https://other.example.org/r1"
    quality: 50
    provider:
      name: Other
  - "not a mapping"
  - title: "No URL here"
---
body text is ignored
"""


def test_all_bundled_seed_files_parse_with_their_related_items():
    paths, problems = discover(SEEDS)
    assert problems == []
    assert len(paths) == 5
    files = [read_seed_file(SEEDS, p) for p in paths]
    assert sum(len(f.records) for f in files) == 5 + 50  # five articles and their 50 related entries
    assert all(f.records[0].kind == "article" for f in files)
    assert all(r.kind == "related" for f in files for r in f.records[1:])


def test_text_is_cleaned_and_related_items_inherit_topics_and_know_their_article():
    seed = parse_seed_bytes("x.md", GOOD)
    article, related = seed.records[0], seed.records[1]
    assert article.title == "Microsoft won't sell it"
    assert article.excerpt == "Café & more"
    assert article.key == "example.com/a"
    assert article.published.isoformat() == "2021-03-16T17:33:00"
    assert related.topics == ("AI",)
    assert related.parent == article.key
    assert len(seed.records) == 2
    # the bad related entries are dropped, each with a reason, and the good one kept
    assert seed.warnings == [
        "related item 2 skipped: must be a mapping, got text",
        "related item 3 skipped: no 'webUrl' or 'originalUrl': an item needs a URL",
    ]


def test_the_real_broken_file_is_named_with_its_reason():
    paths, _ = discover(BROKEN)
    broken = [p for p in paths if p.endswith(".md") and p != "README.md"]
    with pytest.raises(SeedFileError, match=r"front matter is not closed|invalid YAML at line \d+"):
        read_seed_file(BROKEN, broken[0])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "file is empty"),
        (b"\x00\x01binary", "file is binary"),
        (b"---\ntitle: \xff\xfe\n---\n", "not UTF-8 (invalid byte 0xff at offset 11"),
        (b"just text, no front matter\n", "no front matter"),
        (b"---\n- a\n- b\n---\n", "must be a mapping of fields, got a list"),
        (b"---\njust a string\n---\n", "must be a mapping of fields, got text"),
        (b"---\ntitle: a\ntitle: b\nwebUrl: https://x.org\n---\n", "duplicate key 'title' at line 3"),
        (b"---\ntitle: [1, 2]\nwebUrl: https://x.org\n---\n", "field 'title' must be text, got a list"),
        (b"---\ntitle: ok\nwebUrl: https://x.org\nquality: high\n---\n", "field 'quality' must be a whole number"),
        (
            b"---\ntitle: ok\nwebUrl: https://x.org\nquality: 7272227280\n---\n",
            "field 'quality' is out of range: 7272227280 (must be between -2,147,483,648 and 2,147,483,646)",
        ),
        (b"---\ntitle: ok\nwebUrl: https://x.org\nheat: -99999999999\n---\n", "field 'heat' is out of range"),
        (b"---\ntitle: ok\nwebUrl: ftp://x.org\n---\n", "is not an http(s) URL"),
        (b"---\ntitle: ok\n---\n", "no 'webUrl' or 'originalUrl'"),
        (b"---\nwebUrl: https://x.org\n---\n", "field 'title' is missing"),
        (b"---\ntitle: !!python/object/apply:os.system ['true']\nwebUrl: https://x.org\n---\n", "invalid YAML"),
        (b"---\ntitle: 'open\nwebUrl: https://x.org\n", "front matter is not closed"),
        (b"---\ntitle: ok\nwebUrl: https://x.org\ntopics: {a: 1}\n---\n", "field 'topics' must be a list"),
        (b"---\ntitle: ok\nwebUrl: https://x.org/" + b"a" * 2_100 + b"\n---\n", "a URL may have at most 2,048"),
        (  # was the catch-all "unexpected error while reading (OverflowError ...)" (an adversarial pass)
            b"---\ntitle: ok\nwebUrl: https://x.org\npublishedDateTime: 9999-12-31T23:59:59-05:00\n---\n",
            "field 'publishedDateTime' is outside the dates there are, once in UTC",
        ),
        (  # was "unexpected error while reading (AttributeError: 'NoneType' object has no attribute 'groupdict')"
            b"---\ntitle: ok\nwebUrl: https://x.org\npublishedDateTime: !!timestamp 'junk'\n---\n",
            "invalid value in YAML: a value tagged !!timestamp that is not a date-time",
        ),
    ],
)
def test_bad_files_get_a_clear_reason(data, reason):
    with pytest.raises(SeedFileError) as caught:
        parse_seed_bytes("bad.md", data)
    assert reason in str(caught.value)


def test_a_control_character_in_a_url_is_percent_encoded_as_a_browser_would():
    data = b'---\ntitle: ok\nwebUrl: "https://ctl.example/a?\\e[31m\\x9b"\n---\n'
    record = parse_seed_bytes("ctl.md", data).records[0]
    assert record.url == "https://ctl.example/a?%1B[31m%C2%9B"
    # a tab or a line break inside a URL is removed, as a browser's URL parser removes it (docs/security.md)
    broken = b'---\ntitle: ok\nwebUrl: "https://ctl.example/a\\tb\\nc"\n---\n'
    assert parse_seed_bytes("ctl.md", broken).records[0].url == "https://ctl.example/abc"


def test_yaml_alias_bomb_is_refused_quickly():
    lines = ["---", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 10) + "]")
    lines += ["title: boom", "webUrl: https://x.org", "---"]
    with pytest.raises(SeedFileError, match="aliases"):
        parse_seed_bytes("bomb.md", "\n".join(lines).encode())


def test_every_markdown_extension_jekyll_reads_is_a_seed_file_in_any_case(tmp_path):
    # "a.markdown" was passed over without a word, so a Jekyll collection lost its items
    names = ["a.markdown", "b.MD", "c.mkd", "d.mkdn", "e.mkdown", "f.txt", "g.Markdown"]
    for name in [*names, "h.md.bak", "i.html"]:
        (tmp_path / name).write_text("---\ntitle: x\nwebUrl: https://x.example/" + name + "\n---\n")
    assert discover(tmp_path) == (sorted(names), [])


def test_a_date_time_with_the_lower_case_t_and_z_rfc_3339_allows_is_read():
    data = b"---\ntitle: ok\nwebUrl: https://x.org\npublishedDateTime: '2020-06-10t10:00:00z'\n---\n"
    assert parse_seed_bytes("a.md", data).records[0].published.isoformat() == "2020-06-10T10:00:00"


def test_links_out_of_the_seed_folder_are_not_followed(tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_bytes(GOOD)
    root = tmp_path / "seeds"
    root.mkdir()
    (root / "good.md").write_bytes(GOOD)
    os.symlink(outside, root / "escape.md")
    os.symlink(root / "good.md", root / "inside-link.md")
    paths, problems = discover(root)
    assert paths == ["good.md", "inside-link.md"]
    assert problems == [SeedProblem("escape.md", "symbolic link points outside the seed folder; not followed")]


@pytest.mark.parametrize("name", sorted(p.name for p in (FIXTURES / "fuzz").iterdir()))
def test_inputs_found_by_the_fuzzer_give_a_reason(name):
    data = (FIXTURES / "fuzz" / name).read_bytes()
    try:
        parse_seed_bytes(name, data)
    except SeedFileError as exc:
        assert str(exc)


def test_an_impossible_date_is_a_reason_not_a_crash():
    with pytest.raises(SeedFileError, match=r"invalid value in YAML: month must be in 1\.\.12"):
        parse_seed_bytes(
            "x.md", b"---\ntitle: t\nwebUrl: https://x.org\npublishedDateTime: 2021-13-16T17:33:00Z\n---\n"
        )


TEXT = GOOD.decode("utf-8")
LATIN1 = TEXT.encode("latin-1")
E_ACUTE = LATIN1.index(b"\xe9")  # the é of "Café"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "not UTF-8 (UTF-16 LE with a byte-order mark;"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "not UTF-8 (UTF-16 BE with a byte-order mark;"),
        (codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), "not UTF-8 (UTF-32 LE with a byte-order mark;"),
        (TEXT.encode("utf-16-le"), "not UTF-8 (looks like UTF-16 LE;"),
        (TEXT.encode("utf-16-be"), "not UTF-8 (looks like UTF-16 BE;"),
        (TEXT.encode("utf-32-be"), "not UTF-8 (looks like UTF-32 BE;"),
    ],
)
def test_utf16_and_utf32_files_are_named_by_their_encoding_not_called_binary(data, reason):
    with pytest.raises(SeedFileError) as caught:
        parse_seed_bytes("wide.md", data)
    assert str(caught.value).startswith(reason) and str(caught.value).endswith("; save the file as UTF-8)")


def test_latin1_text_gets_the_invalid_byte_and_its_likely_encoding():
    with pytest.raises(SeedFileError) as caught:
        parse_seed_bytes("latin1.md", LATIN1)
    assert str(caught.value) == (
        f"not UTF-8 (invalid byte 0xe9 at offset {E_ACUTE}; looks like Latin-1/Windows-1252; save the file as UTF-8)"
    )
    # text that is mostly high bytes (here Cyrillic in Windows-1251) is not taken for Latin-1
    cyrillic = "---\ntitle: Новости дня\nwebUrl: https://x.org\n---\n".encode("cp1251")
    with pytest.raises(SeedFileError, match=r"^not UTF-8 \(invalid byte 0xcd at offset 11; save the file as UTF-8\)$"):
        parse_seed_bytes("cp1251.md", cyrillic)


NOISE = random.Random(7).randbytes(4096)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + NOISE,  # an image
        NOISE,  # random bytes
        bytes(b or 1 for b in NOISE),  # ... without a single zero byte
        codecs.BOM_UTF16_LE + NOISE,  # ... behind what looks like a byte-order mark
    ],
    ids=["png", "random", "random-no-zero", "random-after-bom"],
)
def test_binary_files_are_still_called_binary(data):
    with pytest.raises(SeedFileError, match=r"^file is binary, not text$"):
        parse_seed_bytes("image.md", data)


def test_a_utf8_byte_order_mark_is_read_like_plain_utf8():
    assert parse_seed_bytes("bom.md", codecs.BOM_UTF8 + GOOD).records == parse_seed_bytes("bom.md", GOOD).records


# YAML shapes the plain constructor must leave to PyYAML or build exactly as PyYAML does
EDGE_YAML = [
    "a: &x 1\nb: 2",  # an anchor without an alias
    "a: &x {k: v}\nb: *x",  # an alias: the same object twice
    "a: &a [x]\nb: &b [*a, *a]",
    "&a [*a]",  # a recursive list
    "a: *undefined",
    "<<: {a: 1}\nb: 2",  # a merge key
    "=: 3",
    "1: a\n2: b\nnull: c\ntrue: d",  # keys that are not text
    "? [a]\n: b",
    "a: b\na: c",  # a repeated key, also nested and after a merge
    "a:\n  b: 1\n  b: 2",
    "<<: {a: 1}\na: 2",
    "a: !!binary aGVsbG8=\nb: !!set {x, y}\nc: !!omap [a: 1]\nd: !!pairs [a: 1]",
    "a: !foo x",
    "a: !!python/object/apply:os.system ['true']",
    "a: !!str 12\nb: !!int '12'\nc: !!float '1'\nd: !!null x\ne: !!map {k: v}\nf: !!seq [1]",
    "a: !!str {k: v}",
    "a: !!map [1]",
    "a: !!bool maybe",
    "a: !!int x",
    "a: !!timestamp x",
    "a: 2021-13-01\nb: 2021-01-32",  # two bad dates: the first one PyYAML meets is named
    "a: [2021-02-30]\nb: 2021-13-01",
    "a: 1.5e3\nb: .inf\nc: -.nan\nd: 0o17\ne: 0x1F\nf: 1_000\ng: 1:20:30\nh: yes\ni: Off\nj: ~\nk: null\nl:",
    "a: 010\nb: 1.0\nc: 2021-01-26T14:23:00Z\nd: 2021-01-26\ne: 2021-01-26 14:23:00.5 +02:00",
    "'a': 1\n\"b\": 2\nc: 'x'\nd: \"y\\n\"\ne: |\n  lit\nf: >\n  fold",
    "a:\n  - x\n  - y: z\n    w: [1, {v: u}]",
    "[a, b]",
    "x",
    "",
    "42",
    "a: " + "[" * 3_000 + "]" * 3_000,
]


def _outcome(block: str) -> str:
    try:
        return repr(parse_yaml(block))  # repr: 1, 1.0 and True differ
    except Exception as exc:  # noqa: BLE001 - the error is part of the outcome
        return f"{type(exc).__name__}: {exc}"


def _file_outcome(path) -> str:
    try:
        seed = parse_seed_bytes(path.name, path.read_bytes())
        return repr((seed.records, seed.warnings))
    except SeedFileError as exc:
        return f"error: {exc}"


def test_the_plain_constructor_gives_exactly_what_pyyaml_gives(monkeypatch):
    files = sorted(p for folder in (SEEDS, FIXTURES) for p in folder.rglob("*") if p.is_file())
    assert len(files) > 100
    fast = [_file_outcome(p) for p in files], [_outcome(block) for block in EDGE_YAML]

    def pyyaml_only(self, node):
        raise seeds._NotPlain

    monkeypatch.setattr(seeds._StrictLoader, "_plain", pyyaml_only)
    assert ([_file_outcome(p) for p in files], [_outcome(block) for block in EDGE_YAML]) == fast


def test_plain_front_matter_is_built_without_pyyamls_constructor(monkeypatch):
    def refuse(self, node, deep=False):
        raise AssertionError("PyYAML's per-node constructor was used")

    monkeypatch.setattr(yaml.constructor.BaseConstructor, "construct_object", refuse)
    seed = parse_seed_bytes("x.md", GOOD)
    assert seed.records[0].title == "Microsoft won't sell it" and seed.records[1].quality == 50


def _clean_text_by_definition(value: str) -> str:
    """What indexer.text.clean_text does, each step applied to every text."""
    text = unicodedata.normalize("NFC", html.unescape(html.unescape(value))).translate(_QUOTE_MAP)
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", text)).strip()


def test_clean_text_skips_only_steps_that_change_nothing():
    rnd = random.Random(7)
    pieces = ["&amp;", "&amp;#8217;", "\u2019", "`", "\u00a0", "\t", "\n", "\x0b", "\x1c", "\x7f", "e\u0301"]
    pieces += ["\u212b", "\u2028", "\u3000", "\u202e", "\x00", "  ", "a", "Z", "&lt;", "\ufeff"]
    texts = [f" a{chr(cp)}{chr(cp)}b {chr(cp)}" for cp in range(0x3100)]
    texts += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 12))) for _ in range(20_000)]
    assert [clean_text(t) for t in texts] == [_clean_text_by_definition(t) for t in texts]
