"""The examples in docs/api.md run, in order, as a user would paste them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.mark.slow
def test_every_api_example_runs(synth_multiclass: Path, synth_multilabel: Path,
                                synth_detection: Path, isolated_folders: Path) -> None:
    (isolated_folders / "collection").symlink_to(synth_multiclass)
    (isolated_folders / "tags").symlink_to(synth_multilabel)
    (isolated_folders / "rooms").symlink_to(synth_detection / "images")
    blocks = _blocks()
    assert len(blocks) >= 6
    namespace: dict = {}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"docs/api.md block {number}", "exec"), namespace)
        except Exception as exc:  # name the block that broke
            raise AssertionError(f"docs/api.md example {number} failed: {exc!r}") from exc
    assert (isolated_folders / "exported" / "objects.onnx").is_file()
    assert (isolated_folders / "exported" / "tags.onnx").is_file()


def test_every_public_name_loads_and_is_listed() -> None:
    """`from artkit import X` works for every name of `__all__`, each is in docs/api.md's
    table of public names, and `dir(artkit)` shows them all."""
    import importlib

    import artkit
    import artkit.onnx_export.run_export  # noqa: F401 - a package named like a function: `export`

    listed = DOC.read_text().split("## Public names", 1)[1]
    for name in set(artkit.__all__) - {"__version__"}:
        defined = getattr(importlib.import_module(artkit._EXPORTS[name]), name)
        assert getattr(artkit, name) is defined, name
        assert f"`{name}`" in listed, f"docs/api.md does not list {name}"
    assert set(artkit.__all__) <= set(dir(artkit))
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        artkit.nothing_here  # noqa: B018


def test_import_artkit_loads_no_api_module() -> None:
    """`import artkit` stays light: the API's modules (and numpy, TensorFlow...) load when a
    name is first used, so the command line starts without them."""
    import subprocess
    import sys

    probe = ("import sys, artkit; print(artkit.__version__); "
             "print(sorted(m for m in sys.modules if m.startswith(('artkit.api', 'numpy'))))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    version, loaded = done.stdout.splitlines()
    assert version and loaded == "[]"
