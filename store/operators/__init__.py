"""Console operators and their sign-in."""
