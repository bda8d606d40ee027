"""Query side: parsing, ranking, facets, and the search-cli command line."""
