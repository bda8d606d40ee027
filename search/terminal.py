r"""Text for a terminal: nothing a seed file, a query or a file name holds may drive it.

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
from typing import Any

# C0 controls but tab and newline, DEL, C1 controls, and the invisible marks that reorder or hide text
_UNSAFE = [
    *(c for c in range(0x20) if c not in (0x09, 0x0A)),
    *range(0x7F, 0xA0),
    *range(0x200B, 0x2010),  # zero-width spaces and joiners, LRM, RLM
    *range(0x202A, 0x202F),  # bidi embeddings and overrides
    *range(0x2066, 0x206A),  # bidi isolates
    0xFEFF,
]
_VISIBLE = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
_JSON = {c: f"\\u{c:04x}" for c in _UNSAFE if c >= 0x20}  # json.dumps already escapes C0


def printable(text: str) -> str:
    """``text`` with every control or reordering character written as a visible escape."""
    return text.translate(_VISIBLE)


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
