"""The `artkit` entry point: one Typer app, its commands added by the plugins.

Commands come through the `register_commands` hook (:mod:`artkit.hookspecs`): artkit's own
from :mod:`artkit.cli.commands`, registered here as a built-in plugin, then those of any
installed plugin.
"""

from __future__ import annotations

import sys

import typer
from typer.main import get_command_name

from artkit import __version__, registry
from artkit.cli import commands
from artkit.cli.common import ExitCode, new_app, report_error
from artkit.cli.noise import filter_stderr
from artkit.cli.options import QuietOption
from artkit.console import set_quiet
from artkit.errors import PluginError


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


def command_names(app: typer.Typer) -> list[str]:
    """The names of the commands and command groups added to `app`, as Typer will name them."""
    names = [info.name or get_command_name(info.callback.__name__)
             for info in app.registered_commands if info.callback is not None]
    return names + [info.name or info.typer_instance.info.name or ""
                    for info in app.registered_groups if info.typer_instance is not None]


def build_app() -> typer.Typer:
    """The CLI as it stands for the plugins loaded now (a plugin installed after import, as
    in the tests, gets its commands and its model subcommands)."""
    built = new_app("Recognise artwork in images: train, evaluate, export, predict, detect.")
    built.callback()(main)
    plugins = registry.get_registry()
    if not plugins.pm.is_registered(commands):
        plugins.add(commands, name=commands.__name__, package=registry.BUILTIN_DIST,
                    version=__version__)
    plugins.pm.hook.register_commands(cli=built)
    names = command_names(built)
    taken = sorted({name for name in names if names.count(name) > 1})
    if taken:
        raise PluginError(f"command(s) {', '.join(taken)} added twice by the plugins' "
                          "register_commands", hint="ARTKIT_PLUGINS=NAME,... loads only the "
                          "named external plugins (docs/plugins.md)")
    return built


def __getattr__(name: str) -> typer.Typer:
    """``from artkit.cli.main import app``: the CLI for the plugins loaded now, built on
    demand, so that importing this module never fails on a plugin's commands."""
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def run() -> None:
    """Console-script entry point."""
    filter_stderr()
    try:
        build_app()()
    except Exception as exc:  # errors raised while building the CLI itself
        report_error(exc)
        sys.exit(ExitCode.FAILED)
