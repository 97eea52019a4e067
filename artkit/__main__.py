"""`python -m artkit` is the same as the `artkit` console script."""

from artkit.cli.main import run

run()
