"""The layers of docs/architecture.md hold: read from every import statement in artkit/ and
plugins/, at module level and inside functions alike.

Imports under ``if TYPE_CHECKING:`` are left out (they never run). The rules:

- cli -> api -> core, and plugins -> core; nothing imports upwards;
- the core never imports the package root ``artkit`` (the root imports the API);
- no module cycles;
- no module below the CLI reaches it through a string (a child process running the CLI);
- at most ``MAX_GROUND_FLOOR`` modules directly under ``artkit/``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_GROUND_FLOOR = 10
SHARED_CLI = {"artkit.cli.common", "artkit.cli.options", "artkit.cli.main",
              "artkit.cli.results", "artkit.cli.noise"}
RANK = {"core": 1, "plugins": 2, "api": 3, "root": 4, "cli": 5}
"""A module may import modules of its own layer or of a lower rank (plugins import the core
like any third-party plugin; the core reaches plugins only through the registry)."""
CLI_BY_STRING = ('"artkit.cli', "'artkit.cli", "from artkit.cli", "import artkit.cli",
                 '"-m", "artkit"', "'-m', 'artkit'", '"artkit", "--')


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of artkit/ and plugins/ (installed as artkit_plugins) by dotted name."""
    found = {}
    for folder, package in (("artkit", "artkit"), ("plugins", "artkit_plugins")):
        for path in sorted((root / folder).rglob("*.py")):
            parts = [package, *path.relative_to(root / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def layer(module: str) -> str:
    if module.startswith("artkit_plugins"):
        return "plugins"
    if module in ("artkit", "artkit.__main__"):
        return "root"
    for name in ("cli", "api"):
        if module == f"artkit.{name}" or module.startswith(f"artkit.{name}."):
            return name
    return "core"


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(sub) for sub in ast.walk(node)}
    return skipped


def imported_modules(path: Path, module: str, known: Iterable[str]) -> set[str]:
    """The known modules `module` (at `path`) imports when it runs, wherever the import is."""
    known = set(known)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    skipped = _type_checking_nodes(tree)
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" \
                    else module.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([node.module] if node.module else []))
            # `from pkg import sub` depends on pkg.sub; `from pkg import name` on pkg
            names += [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                      for a in node.names]
    found = set()
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name != module and not name.startswith(module + "."):
            found.add(name)
    return found


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    files = module_files(root)
    return {module: imported_modules(path, module, files) for module, path in files.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} -> {t}" for m, targets in graph.items() for t in targets
                  if RANK[layer(t)] > RANK[layer(m)]
                  and not (layer(m) == "root" and layer(t) == "cli"))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_upwards() -> None:
    assert upward_imports(import_graph()) == []


def test_no_module_cycles() -> None:
    assert cycles(import_graph()) == []


def test_nothing_below_the_cli_reaches_it_through_a_string() -> None:
    offenders = [module for module, path in module_files().items()
                 if layer(module) not in ("cli", "root")
                 and any(text in path.read_text(encoding="utf-8") for text in CLI_BY_STRING)]
    assert offenders == []


def test_the_core_does_not_run_the_api_through_a_string() -> None:
    """A child process started by the core with code that imports the API (as a benchmark
    might) is an upward import the graph cannot see."""
    offenders = [module for module, path in module_files().items()
                 if layer(module) in ("core", "plugins")
                 and any(text in path.read_text(encoding="utf-8")
                         for text in ("from artkit.api", "import artkit.api"))]
    assert offenders == []


def test_the_ground_floor_is_small() -> None:
    floor = sorted(p.name for p in (ROOT / "artkit").glob("*.py")
                   if p.name not in ("__init__.py", "__main__.py"))
    assert len(floor) <= MAX_GROUND_FLOOR, floor


def test_no_module_shadows_the_standard_library() -> None:
    import sys

    shadows = sorted(m for m in module_files() if m.rpartition(".")[2] in
                     sys.stdlib_module_names and m.count(".") == 1)
    assert shadows == []


def command_of(module: str) -> str:
    """The command a CLI module belongs to: `artkit.cli.serve_cmd` and the package
    `artkit.cli.serve.*` (a command too big for one module) are both `serve`."""
    name = module.removeprefix("artkit.cli.").split(".")[0]
    return name.removesuffix("_cmd")


def test_command_modules_do_not_import_each_other() -> None:
    """A command's modules import the shared CLI modules and their own package, never
    another command's."""
    graph = import_graph()
    offenders = [f"{m} -> {t}" for m, targets in graph.items()
                 if layer(m) == "cli" and m not in SHARED_CLI and m != "artkit.cli"
                 for t in targets if layer(t) == "cli" and t not in SHARED_CLI
                 and command_of(t) != command_of(m)]
    assert offenders == []


@pytest.mark.parametrize(("source", "expected"), [
    ("def f():\n    from artkit.cli.common import print_metrics\n", {"artkit.cli.common"}),
    ("from artkit import __version__\n", {"artkit"}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import artkit.api.model\n",
     set()),
    ("from ..api import model\n", {"artkit.api.model"}),
])
def test_the_reader_sees_imports_wherever_they_are(tmp_path: Path, source: str,
                                                   expected: set[str]) -> None:
    path = tmp_path / "x.py"
    path.write_text(source)
    known = {"artkit", "artkit.cli", "artkit.cli.common", "artkit.api", "artkit.api.model",
             "artkit.detection.x"}
    assert imported_modules(path, "artkit.detection.x", known) == expected


def test_the_rules_catch_violations() -> None:
    graph = {"artkit.detection.a": {"artkit.api.model", "artkit"},
             "artkit.api.model": {"artkit.detection.a"}, "artkit": set()}
    assert upward_imports(graph) == ["artkit.detection.a -> artkit",
                                     "artkit.detection.a -> artkit.api.model"]
    assert cycles(graph) == [["artkit.api.model", "artkit.detection.a"]]
