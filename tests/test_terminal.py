"""What seed files, queries and file names hold never drives the operator's terminal."""

from __future__ import annotations

import doctest
import json
import re

import pytest

from tests.test_cli import run
from web import terminal

# ESC (colour, OSC window title, OSC-8 link), CSI as one C1 byte, BEL, and a right-to-left override
HOSTILE = "\x1b[31mRED\x1b[0m \x1b]0;owned\x07 \x1b]8;;https://evil.example\x07link\x1b]8;;\x07 \x9b2J \u202etxet"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def yaml_escaped(text: str) -> str:
    """The text as a YAML double-quoted scalar: control characters written as \\x / \\u escapes."""
    return '"' + "".join(c if c.isprintable() and c != '"' else f"\\u{ord(c):04x}" for c in text) + '"'


@pytest.fixture()
def hostile_folder(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "2021-01-01-a.md").write_text(
        "---\n"
        f"title: {yaml_escaped('Hostile ' + HOSTILE + ' police')}\n"
        'webUrl: "https://h.org/1"\n'
        f"excerpt: {yaml_escaped('police ' + HOSTILE)}\n"
        f"provider:\n  name: {yaml_escaped('Prov' + HOSTILE)}\n"
        f"topics:\n  - {yaml_escaped('AI' + HOSTILE)}\n"
        "---\n"
    )
    (seeds / "2021-01-02-\x1b]0;pwned\x07.md").write_text("---\ntitle: [unclosed\n---\n")
    return seeds


def test_printable_and_json_text_doctests():
    assert doctest.testmod(terminal).failed == 0


def test_no_control_character_from_data_reaches_the_terminal(hostile_folder, tmp_path):
    env = {"SEARCH_INDEX": str(tmp_path / "ix"), "SEARCH_SEEDS": str(hostile_folder)}
    built = run("index", env=env)
    assert built.returncode == 3  # the broken file is skipped, the good one indexed
    assert "skipped" in built.stderr and "\\x1b]0;pwned\\x07" in built.stderr
    outputs = {"index": built.stdout + built.stderr}
    for name, args in {
        "query": ("query", "police"),
        "query --no-group": ("query", "--no-group", "police"),
        "query --json": ("query", "--json", "police"),
        "query typed": ("query", "police \x1b]0;typed\x07 \x9b"),
        "stats": ("stats",),
        "stats --json": ("stats", "--json"),
    }.items():
        out = run(*args, env=env)
        assert out.returncode == 0, (name, out.stderr)
        outputs[name] = out.stdout + out.stderr
    for name, text in outputs.items():
        assert not RAW.search(text), (name, RAW.search(text))
    # what the index kept (the reader turns C0 controls into spaces) is still there, visibly escaped
    assert "\\x9b2J \\u202etxet" in outputs["query"]
    hit = json.loads(outputs["query --json"])["hits"][0]
    assert "\x9b2J \u202etxet" in hit["title"]  # JSON keeps the text exact, as \u escapes


def test_a_recorded_query_with_escape_sequences_prints_escaped_in_the_analytics_report(tmp_path):
    from search.analytics import FILE_NAME, Recorder

    recorder = Recorder(tmp_path / FILE_NAME)
    for _ in range(3):
        recorder.search("police \x1b]0;owned\x07 \x9b2J \u202eevil", (), 0, "api")
    recorder.flush()
    out = run("--index", str(tmp_path), "analytics")
    assert out.returncode == 0, out.stderr
    assert not RAW.search(out.stdout + out.stderr), out.stdout
    assert "\\x9b2j" in out.stdout.lower() and "\\u202e" in out.stdout  # still shown, as visible escapes
