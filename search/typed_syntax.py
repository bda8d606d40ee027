"""What people type that Whoosh's parser would misread, mended before it parses.

A question's "?", a colon in a headline ("Clearview: police"), a boost that is no number
("police^abc"), a caret before a word ("^police") and a quoted value not closed yet
('topics:"computer vision') each made a query find nothing, or the wrong thing.
"""

from __future__ import annotations

import re

from indexer.schema import ALIASES, FACET_FIELDS, TEXT_FIELDS

from . import date_clauses

SEARCHABLE_FIELDS = (*TEXT_FIELDS, *FACET_FIELDS, "published")
FIELD_NAMES = frozenset((*SEARCHABLE_FIELDS, *ALIASES))

_QUESTION_MARK = re.compile(r"\?(?=\s|$|[)\]])")  # "Fx?" ends a question; it is not a wildcard
_FIELD_COLON = re.compile(r"(\w+):(\S?)")
_CARET = re.compile(r"\^([^\s)]*)")
_BOOST = re.compile(r"[0-9]*(?:\.[0-9]+)?")  # what Whoosh reads after a caret (nothing: no boost)
_NOT_A_BOOST_NUMBER = re.compile(r"[-+]?[0-9.][\w.+-]*|(?i:nan|inf|infinity)")
# a quoted value left open at the end ('topics:"computer vision', typed and not yet closed)
_OPEN_FIELD_QUOTE = re.compile(r'(?<![\w:])\w+:"[^"]*$')


def carets(text: str) -> str:
    """Boosts Whoosh reads kept; a number it cannot read dropped; a caret before anything else a space.

    Whoosh glued an unreadable boost to its word ("police^abc" matched nothing).

    >>> carets("police^2 amazon^1e3 ^facial x^-2 y^abc z^-police")
    'police^2 amazon  facial x y abc z police'
    """

    def one(m: re.Match) -> str:
        if _BOOST.fullmatch(m[1]):
            return m[0]
        # the word after it, without carets or signs of its own ("^^2", "x^-police" would exclude it)
        return "" if _NOT_A_BOOST_NUMBER.fullmatch(m[1]) else " " + m[1].lstrip("^+-")

    return _CARET.sub(one, text) if "^" in text else text


def text_colons(text: str) -> str:
    """A colon after a word that names no field, or with nothing after it, is punctuation.

    So "Clearview: police", "10:30" and a headline's "Source: ..." are words.

    Field names are matched in any case, as a user types them ("Provider:Reuters").

    Whoosh would read ``Clearview:police`` as a field query and the syntax path has no
    relaxed fallback, so a pasted headline found nothing where its words find items.

    >>> text_colons("Clearview: police Provider:reuters")
    'Clearview  police provider:reuters'
    >>> text_colons("Title: police")
    'Title  police'
    """
    return _FIELD_COLON.sub(
        lambda m: f"{m[1].lower()}:{m[2]}" if m[2] and m[1].lower() in FIELD_NAMES else f"{m[1]} {m[2]}", text
    )


def syntax_of(searched: str) -> str:
    """The text Whoosh parses, from the text searched.

    A question's "?" a space, date clauses in its spellings, colons read, and a field's open quote
    closed (Whoosh read it into the value, which no item has).

    >>> syntax_of('is it legal? provider:"The Verge')
    'is it legal  provider:"The Verge"'
    """
    syntax = text_colons(date_clauses.rewrite(_QUESTION_MARK.sub(" ", searched)))
    if syntax.count('"') % 2 and _OPEN_FIELD_QUOTE.search(syntax):
        syntax += '"'
    return syntax
