"""The documentation stays in step with the code (as datasette's test_docs does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from artkit import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_hook_is_documented_with_its_docstring():
    text = (DOCS / "plugins.md").read_text()
    for name, func in vars(hookspecs).items():
        if name.startswith("register_"):
            assert f"### `{name}(register)`" in text
            assert inspect.getdoc(func) in text


def test_the_worked_example_is_the_tested_toy_plugin():
    text = (DOCS / "plugins.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    toy = (Path(__file__).parent / "toy_plugin" / "artkit_toy.py").read_text()
    assert block == toy
