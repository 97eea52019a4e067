"""Pieces every command shares: common options, error reporting, result tables."""

from __future__ import annotations

import inspect
import os
import sys
import traceback
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from artkit.console import console, err_console, print_table, set_quiet
from artkit.contracts import OptionSpec
from artkit.errors import ArtkitError

DataOption = Annotated[Path | None, typer.Option(
    "--data", help="Data set folder (class folders, iMet csv, single-label csv or COCO json); "
    "default: the built-in synthetic data set.")]
FormatOption = Annotated[str | None, typer.Option(
    "--format", help="Force a data set reader by name (see `artkit plugins`).")]


class ExitCode(IntEnum):
    """What an artkit command's exit status says (docs/cli.md#exit-codes)."""

    OK = 0
    FAILED = 1
    """Nothing could be done: an error, a named input that does not exist, or a batch in
    which no input could be processed."""
    USAGE = 2
    """Bad options or arguments (Click's own status)."""
    PARTIAL = 3
    """With ``--strict``: the batch finished, but some inputs were skipped."""


def apply_quiet(quiet: bool) -> None:
    if quiet:
        set_quiet(True)


def debug_enabled() -> bool:
    return os.environ.get("ARTKIT_DEBUG", "") not in ("", "0")


def report_error(exc: BaseException) -> None:
    """One red line for the user; the traceback only with ARTKIT_DEBUG=1."""
    if debug_enabled():
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, ArtkitError):
        # escape: a message may hold brackets (paths, "pip install 'artkit[ray]'")
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", markup=True,
                          highlight=False)
    else:
        err_console.print(
            f"[red]error:[/red] unexpected {type(exc).__name__}: {exc} "
            "(run with ARTKIT_DEBUG=1 for the traceback, and please report it)",
            highlight=False)


def tidy_help(command: TyperCommand | TyperGroup, ctx: typer.Context) -> None:
    """Two fixes to Typer's rich help, made on each command as its group hands it out.

    A flag takes no value, yet Typer prints ``<bool>`` as its type: an empty metavar hides
    it. A command's summary in its group's list keeps the line breaks of its docstring's
    first paragraph (mid-sentence at any terminal width): it becomes one line."""
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    if command.short_help is None and command.help:
        command.short_help = " ".join(inspect.cleandoc(command.help).split("\n\n")[0].split())


class ArtkitGroup(TyperGroup):
    """A Typer group that turns exceptions into one-line errors and ExitCode.FAILED, and
    tidies the help of its commands (:func:`tidy_help`)."""

    def get_command(self, ctx: typer.Context, cmd_name: str) -> TyperCommand | TyperGroup | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            tidy_help(command, ctx)
        return command

    def format_help(self, ctx: typer.Context, formatter: Any) -> None:
        tidy_help(self, ctx)
        super().format_help(ctx, formatter)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted[/yellow]")
            ctx.exit(130)
        except BrokenPipeError:  # output piped into `head` and the like: not an error
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(ExitCode.OK)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for the user
            report_error(exc)
            ctx.exit(ExitCode.FAILED)


def new_app(help: str) -> typer.Typer:
    return typer.Typer(help=help, cls=ArtkitGroup, no_args_is_help=True,
                       pretty_exceptions_enable=False, rich_markup_mode="rich")


def print_metrics(title: str, metrics: dict[str, Any],
                  intervals: dict[str, Any] | None = None) -> None:
    """Metrics as a table; with `intervals`, a 95% CI column beside the value."""
    rows = []
    for name, value in metrics.items():
        row = {"metric": name, "value": value}
        if intervals:
            bounds = intervals.get(name)
            row["95% CI"] = f"[{bounds[0]:.3f}, {bounds[1]:.3f}]" if bounds else ""
        rows.append(row)
    print_table(title, rows)


def print_report_hint(target: Any, *extra: str) -> None:
    """The last line of train, evaluate, predict and detect: the command that makes the
    HTML report of what they wrote."""
    from artkit.api.report import report_command

    console.print(f"report: {report_command(target, *extra)}", highlight=False, markup=False,
                  soft_wrap=True)  # one line to copy, however narrow the terminal


def typer_parameter(spec: OptionSpec) -> inspect.Parameter:
    """Turn an OptionSpec into a keyword parameter Typer understands."""
    if spec.type is bool:
        flag = spec.flag
        declaration = f"{flag}/--no-{flag[2:]}"
        option = typer.Option(spec.default, declaration, help=spec.help)
        annotation: Any = bool
    elif spec.choices:
        option = typer.Option(spec.default, spec.flag, help=spec.help)
        literal = Literal.__getitem__(tuple(spec.choices))
        annotation = literal if spec.default is not None else literal | None
    else:
        option = typer.Option(spec.default, spec.flag, help=spec.help)
        annotation = spec.type if spec.default is not None else spec.type | None
    return inspect.Parameter(spec.name, inspect.Parameter.KEYWORD_ONLY, default=option,
                             annotation=annotation)
