"""The `wxshop` command line: one module per command group, plus serve, demo and chat."""
