"""拼团 (group buy): offers on a SKU, groups and their members; see `operations` and `sweeps`."""
