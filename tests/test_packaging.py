"""The wheel installs `artkit` and `artkit_plugins` and nothing else at the top level.

The repository keeps its built-in plugins in the folder `plugins/`; pyproject.toml maps it to
the import name `artkit_plugins` so that artkit claims no generic top-level name. The wheel is
built offline from a copy of the source tree (no build isolation, so no download) and read
back as a zip.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a checkout may hold besides the source: never part of a build.
NOT_SOURCE = (".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "runs",
              "exported", "demo", ".cache", ".pytest_cache", ".ruff_cache", "data-info", "shared")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = base / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    [built] = out.glob("artkit-*.whl")
    with zipfile.ZipFile(built) as archive:
        yield archive


def _dist_info(archive: zipfile.ZipFile, name: str) -> str:
    [path] = [n for n in archive.namelist()
              if n.count("/") == 1 and n.split("/")[0].endswith(".dist-info")
              and n.endswith("/" + name)]
    return archive.read(path).decode()


def test_wheel_holds_artkit_and_artkit_plugins_only(wheel):
    names = wheel.namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"artkit", "artkit_plugins"}
    assert _dist_info(wheel, "top_level.txt").split() == ["artkit", "artkit_plugins"]
    assert not [n for n in names if n.startswith(("plugins/", "tests/", "benchmarks/"))]


def test_every_source_module_is_in_the_wheel(wheel):
    """The package list in pyproject.toml is explicit: a new subpackage must be added there."""
    names = set(wheel.namelist())
    for folder, package in (("artkit", "artkit"), ("plugins", "artkit_plugins")):
        for module in (ROOT / folder).rglob("*.py"):
            if "__pycache__" in module.parts:
                continue
            inside = module.relative_to(ROOT / folder).as_posix()
            assert f"{package}/{inside}" in names, (
                f"{folder}/{inside} is not packaged: add its package to [tool.setuptools] "
                "packages in pyproject.toml")


def test_report_templates_are_in_the_wheel(wheel):
    """`artkit report` renders package data: every template, script and style file."""
    names = set(wheel.namelist())
    templates = sorted(p for p in (ROOT / "artkit" / "reports" / "templates").iterdir()
                       if p.is_file())
    assert {p.suffix for p in templates} >= {".j2", ".js", ".css"}
    for path in templates:
        inside = path.relative_to(ROOT / "artkit").as_posix()
        assert f"artkit/{inside}" in names, (
            f"artkit/{inside} is not packaged: add it to [tool.setuptools.package-data]")


def test_entry_points_point_into_artkit_plugins(wheel):
    parser = configparser.ConfigParser()
    parser.read_string(_dist_info(wheel, "entry_points.txt"))
    targets = dict(parser["artkit"])
    assert targets  # every built-in plugin is registered through the group
    names = set(wheel.namelist())
    for name, target in targets.items():
        module = target.split(":")[0]
        assert module.startswith("artkit_plugins."), (name, target)
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, (name, target)


def test_the_installed_plugins_are_artkit_plugins():
    import importlib.metadata

    import artkit_plugins

    assert Path(artkit_plugins.__file__).resolve().parent == ROOT / "plugins"
    eps = [ep for ep in importlib.metadata.entry_points(group="artkit")
           if ep.dist is not None and ep.dist.name == "artkit"]
    assert eps and all(ep.value.startswith("artkit_plugins.") for ep in eps)


def test_plugins_folder_is_not_importable_as_plugins(tmp_path):
    """Outside the checkout, `import plugins` does not find artkit's folder."""
    code = ("import importlib.util; spec = importlib.util.find_spec('plugins'); "
            "print(spec.origin if spec else '')")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    origin = done.stdout.strip()
    assert not origin or not Path(origin).resolve().is_relative_to(ROOT), origin
