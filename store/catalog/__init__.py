"""The catalog: categories, products, SKUs, stock, the catalog CSV and its import."""
