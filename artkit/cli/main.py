"""The `artkit` entry point: joins the command modules into one Typer app.

Each module in `COMMAND_MODULES` exposes ``register(app)``; modules import their heavy
dependencies inside the commands so that `artkit --help` and `artkit predict` start fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from artkit import __version__
from artkit.cli.common import new_app, report_error
from artkit.cli.noise import filter_stderr
from artkit.cli.options import QuietOption
from artkit.console import set_quiet

COMMAND_MODULES = [
    "artkit.cli.plugins_cmd",
    "artkit.cli.data_cmd",
    "artkit.cli.train_cmd",
    "artkit.cli.evaluate_cmd",
    "artkit.cli.detect_cmd",
    "artkit.cli.export_cmd",
    "artkit.cli.predict_cmd",
    "artkit.cli.embed_cmd",
    "artkit.cli.benchmark_cmd",
    "artkit.cli.thresholds_cmd",
    "artkit.cli.report_cmd",
]

def _version(value: bool) -> None:
    if value:
        typer.echo(f"artkit {__version__}")
        raise typer.Exit()


def main(
    quiet: QuietOption = False,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """artkit: classify museum objects, tag their attributes, find paintings in room photos.

    Set ARTKIT_DEBUG=1 to see full tracebacks."""
    set_quiet(quiet)  # every invocation starts from its own flag (tests invoke many in a row)


def build_app() -> typer.Typer:
    """The CLI as it stands for the plugins loaded now (model subcommands come from them)."""
    built = new_app("Recognise artwork in images: train, evaluate, export, predict, detect.")
    built.callback()(main)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(built)
    return built


app = build_app()


def run() -> None:
    """Console-script entry point."""
    filter_stderr()
    try:
        app()
    except Exception as exc:  # errors raised while building the CLI itself
        report_error(exc)
        sys.exit(1)
