"""The layers of docs/architecture.md hold: read from the import statements themselves."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_CLI = {"artkit.cli.common", "artkit.cli.options", "artkit.cli.results",
              "artkit.cli.main"}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def test_nothing_outside_the_cli_imports_it() -> None:
    offenders = sorted(f"{p.relative_to(ROOT)}: {name}"
                       for folder in (ROOT / "artkit", ROOT / "plugins") for p in _files(folder)
                       if "cli" not in p.relative_to(ROOT).parts[:2]
                       for name in _imports(p) if name.startswith("artkit.cli"))
    # __main__ is the entry point: `python -m artkit` runs the CLI
    assert offenders == ["artkit/__main__.py: artkit.cli.main",
                         "artkit/__main__.py: artkit.cli.main.run"]


def test_the_core_and_plugins_do_not_import_the_api() -> None:
    allowed = {"artkit/__init__.py"}
    offenders = [f"{p.relative_to(ROOT)}: {name}"
                 for folder in (ROOT / "artkit", ROOT / "plugins") for p in _files(folder)
                 if p.relative_to(ROOT).parts[:2] not in (("artkit", "api"), ("artkit", "cli"))
                 and str(p.relative_to(ROOT)) not in allowed
                 for name in _imports(p) if name.startswith("artkit.api")]
    assert offenders == []


def test_command_modules_do_not_import_each_other() -> None:
    offenders = [f"{p.name}: {name}" for p in _files(ROOT / "artkit" / "cli")
                 for name in _imports(p)
                 if name.startswith("artkit.cli.") and name.rsplit(".", 1)[0] not in
                 SHARED_CLI and name not in SHARED_CLI and p.name != "main.py"]
    assert offenders == []


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from artkit.cli.common import print_metrics\nimport artkit.api.model\n")
    assert {"artkit.cli.common", "artkit.api.model"} <= _imports(bad)
