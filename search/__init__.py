"""Query side: parsing, ranking, facets, and the search-cli command line."""

from . import whoosh_fixes  # noqa: F401  (corrects Whoosh defects before any search runs)
