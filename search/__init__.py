"""Query side: the live generation, query evaluation, ranking policy, facets, hits and suggestions."""
