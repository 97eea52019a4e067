"""`artkit plugins`: every installed plugin with its kind, origin and version."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from artkit import registry
from artkit.cli.options import JsonOption
from artkit.console import console, print_table


def plugins_command(
    as_json: JsonOption = False,
    kind: Annotated[registry.Kind | None, typer.Option(
        "--kind", metavar="KIND",
        help="Only this kind: " + ", ".join(registry.Kind) + ".")] = None,
) -> None:
    """List every plugin: kind, name, the package it came from, its version, what it does."""
    loaded = registry.get_registry()
    rows = [{"kind": p.kind, "name": p.name, "package": p.package, "version": p.version,
             "module": p.source, "description": p.description}
            for p in loaded.all() if kind is None or p.kind == kind]
    if as_json:
        console.print_json(json.dumps({"plugins": rows, "failed": loaded.failed}))
        return
    print_table("artkit plugins", rows,
                ["kind", "name", "package", "version", "description"])
    for name, reason in loaded.failed.items():
        console.print(f"[yellow]failed to load:[/yellow] {name}: {reason}")


def register(app: typer.Typer) -> None:
    app.command("plugins")(plugins_command)
