"""Product search: shopper text, the index, its build and the synonym lexicon."""
