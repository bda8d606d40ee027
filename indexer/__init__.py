"""Index side: seed reading, documents, analysis, schema and index generations."""

from . import whoosh_fixes  # noqa: F401  (corrects Whoosh defects before any index is written or read)
