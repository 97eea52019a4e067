"""artkit's own commands, added through the `register_commands` hook like any plugin's.

The CLI registers this module with the plugin registry before it asks the plugins for their
commands (as tox 4 does with its own commands, and simonw/llm with its default plugins), so
a third-party plugin adds a command exactly the way artkit does. Each module below exposes
``register(app)`` and imports its heavy dependencies inside its commands, so that
``artkit --help`` starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from artkit.hookspecs import hookimpl

if TYPE_CHECKING:
    import typer

BUILTIN_COMMANDS = (
    "artkit.cli.plugins_cmd",
    "artkit.cli.data_cmd",
    "artkit.cli.train_cmd",
    "artkit.cli.evaluate_cmd",
    "artkit.cli.detect_cmd",
    "artkit.cli.export_cmd",
    "artkit.cli.predict_cmd",
    "artkit.cli.embed_cmd",
    "artkit.cli.identify_cmd",
    "artkit.cli.benchmark_cmd",
    "artkit.cli.thresholds_cmd",
    "artkit.cli.report_cmd",
    "artkit.cli.serve_cmd",
)
"""The import list of the built-in command modules, in the order `artkit --help` lists them."""


@hookimpl(tryfirst=True)  # artkit's commands come first in `artkit --help`
def register_commands(cli: typer.Typer) -> None:
    for module in BUILTIN_COMMANDS:
        importlib.import_module(module).register(cli)
