"""Index side: seed reading, documents, analysis, schema, storage and index generations."""
