"""The command line as a user reads it: every help page, the tables, and docs/cli.md, which
must name every command and every option (as datasette's test_docs does for its docs)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from io import StringIO
from pathlib import Path

import pytest
import typer
import typer.main
from rich.console import Console
from typer.testing import CliRunner

from artkit import console as console_module
from artkit.cli.main import build_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def commands(command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    """Every command and group under `command`, with its path of names (() is `artkit`)."""
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        if not sub.hidden:
            yield from commands(sub, (*path, name))


@pytest.fixture(scope="module")
def tree() -> dict[tuple[str, ...], object]:
    """The commands of the installed plugins alone: other tests add models to the registry
    in this process (tests/onnx_helpers.py), which are not part of the documented CLI."""
    from artkit import registry

    kept = registry._registry
    registry.reset_registry()
    try:
        return dict(commands(typer.main.get_command(build_app())))
    finally:
        registry._registry = kept


def options(command) -> set[str]:
    """The long flags of a command (``--x`` and ``--no-x``), --help left out."""
    return {flag for param in command.params if param.param_type_name == "option"
            for flag in (*param.opts, *param.secondary_opts) if flag.startswith("--")}


def test_every_help_page_is_clean(tree):
    runner = CliRunner()
    for path in tree:
        result = runner.invoke(build_app(), [*path, "--help"], prog_name="artkit",
                               env={"COLUMNS": "100"})
        assert result.exit_code == 0, (path, result.output)
        page = result.output
        assert "Usage: artkit" in page, path
        assert "<bool>" not in page, path  # a flag takes no value
        # a default is a value a user can type, not an object's repr or a module path
        assert not re.search(r"\bartkit\.[a-z_]+\.", page), path
        assert not re.search(r"<\w+\.\w+: ", page), path


def test_a_summary_is_one_line_in_its_group_list():
    from artkit.cli.common import new_app

    app = new_app("A group.")

    @app.command("wrapped")
    def wrapped(flag: bool = typer.Option(False, "--flag", help="A flag.")) -> None:
        """A summary written over
        two lines of its docstring.

        More text."""

    @app.command("other")
    def other() -> None:
        """Another."""

    listed = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert "A summary written over two lines of its docstring." in listed
    assert "More text" not in listed
    page = CliRunner().invoke(app, ["wrapped", "--help"], env={"COLUMNS": "200"}).output
    assert "--flag" in page and "<bool>" not in page


def test_tables_shorten_paths_from_the_left(monkeypatch):
    narrow = Console(width=48, file=StringIO())
    monkeypatch.setattr(console_module, "console", narrow)
    folder = "/tmp/pytest-of-someone/pytest-123/test_a_long_name0/photos/rooms"
    rows = [{"file": f"{folder}/room_{i:04d}.jpg", "label": "painting", "score": 0.98}
            for i in range(3)]
    rows.append({"file": Path(folder) / "[1].png", "label": "[red]error[/red]", "score": 0.0})
    console_module.print_table("predictions", rows)
    shown = narrow.file.getvalue()
    lines = [line for line in shown.splitlines() if "…/" in line]
    for i in range(3):  # one line each, cut on the left at a folder boundary
        assert re.search(rf"│ …(/[\w-]+)*/room_{i:04d}\.jpg +│ painting +│ 0\.9800 │", shown)
    assert "/[1].png" in shown  # a path is not read as markup
    assert len(lines) == 4 and "/tmp" not in shown
    assert "[red]" not in shown and "│ error" in shown  # other cells are
    assert max(len(line) for line in shown.splitlines()) <= 48


@pytest.mark.parametrize(("text", "width", "shown"), [
    ("photos/room_0042.jpg", 40, "photos/room_0042.jpg"),
    ("/data/museum/photos/room_0042.jpg", 22, "…/photos/room_0042.jpg"),
    ("/data/museum/photos/room_0042.jpg", 21, "…/room_0042.jpg"),
    ("/data/museum/photos/room_0042.jpg", 8, "…042.jpg"),
    ("/data/museum/photos/room_0042.jpg", 0, ""),
])
def test_shorten_left(text, width, shown):
    assert console_module.shorten_left(text, width) == shown


def doc_sections() -> dict[tuple[str, ...], str]:
    """docs/cli.md's `### \\`artkit ...\\`` sections by command path."""
    text = DOC.read_text()
    found = {}
    for match in re.finditer(r"^### `artkit((?: [\w-]+)*)`\n(.*?)(?=^##|\Z)", text, re.M | re.S):
        found[tuple(match.group(1).split())] = match.group(2)
    return found


def test_every_command_and_option_is_in_the_cli_doc(tree):
    sections = doc_sections()
    assert sorted(sections) == sorted(tree), "docs/cli.md: one section per command"
    for path, command in tree.items():
        # an option shared by every subcommand may be documented once, in the group's section
        text = sections[path] + sections.get(path[:-1], "")
        for flag in options(command):
            assert re.search(rf"(?<![\w-]){flag}(?![\w-])", text), f"artkit {' '.join(path)} {flag}"


def test_the_cli_doc_names_no_option_that_does_not_exist(tree):
    for path, text in doc_sections().items():
        real = set().union(*(options(c) for p, c in tree.items() if p[:len(path)] == path))
        cells = [line.split(" | ")[0] for line in text.splitlines() if line.startswith("| `")]
        documented = {flag for cell in cells for flag in re.findall(r"--[\w-]+", cell)}
        assert documented <= real, f"artkit {' '.join(path)}: {sorted(documented - real)}"


def test_the_cli_doc_states_the_exit_codes():
    from artkit.cli.common import ExitCode

    section = DOC.read_text().split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ExitCode:
        assert re.search(rf"^\| {code.value} \| `{code.name}` \|", section, re.M), code
