"""British and American spellings of one word: "organisations" also finds "organizations", and back.

Snowball English stems the two spellings apart ("organis" / "organ", "optimis" / "optim", "colour" /
"color", "centr" / "center"), so a query in one spelling missed every item written in the other: a
word-form variant, not a typo (the typed word is often held by an item or two, so typo tolerance
never ran). The regular endings below are swapped both ways; the other spelling counts only when
its analyzed term is held by some item (``search.expansion`` asks), so a swap that makes no word
of the collection ("enterprize") is never searched.

>>> other_spellings("organisations")
['organizations']
>>> other_spellings("color")
['colour']
>>> other_spellings("floor"), other_spellings("four"), other_spellings("rise")
([], [], [])
"""

from __future__ import annotations

# (British, American) endings, longest first within a family so the longest ending swaps
ENDINGS = (
    ("isations", "izations"),
    ("isation", "ization"),
    ("ising", "izing"),
    ("isers", "izers"),
    ("iser", "izer"),
    ("ised", "ized"),
    ("ises", "izes"),
    ("ise", "ize"),
    ("ysing", "yzing"),
    ("ysed", "yzed"),
    ("yse", "yze"),
    ("ourites", "orites"),
    ("ourite", "orite"),
    ("ouring", "oring"),
    ("ourable", "orable"),
    ("oured", "ored"),
    ("ours", "ors"),
    ("our", "or"),
    ("tres", "ters"),
    ("tre", "ter"),
    ("bres", "bers"),
    ("bre", "ber"),
    ("ences", "enses"),
    ("ence", "ense"),
    ("ogues", "ogs"),
    ("ogue", "og"),
    ("ammes", "ams"),
    ("amme", "am"),
)
MIN_BASE = 3  # letters before the ending: "rise", "size", "four", "tour" are no spelling pairs


def other_spellings(word: str) -> list[str]:
    """The word in the other spelling (lower-case in, lower-case out), by its ending; [] if it has none.

    An ``-our`` / ``-or`` base may not end in "o" ("floor" is not "flour").
    """
    found: list[str] = []
    for british, american in ENDINGS:
        for ending, other in ((british, american), (american, british)):
            base = word[: -len(ending)]
            if word.endswith(ending) and len(base) >= MIN_BASE and base.isalpha():
                if ending in ("our", "ours", "or", "ors") and base.endswith("o"):
                    continue
                found.append(base + other)
        if found:
            return found
    return found
