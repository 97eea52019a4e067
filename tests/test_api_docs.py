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
