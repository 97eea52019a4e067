"""The `artkit` command line: one module per command group, joined in `main`."""
