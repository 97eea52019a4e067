"""The documentation stays in step with the code (as datasette's test_docs does)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from artkit import hookspecs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_every_hook_is_documented_with_its_docstring():
    text = (DOCS / "plugins.md").read_text()
    hooks = {name: func for name, func in vars(hookspecs).items()
             if name.startswith("register_")}
    assert "register_commands" in hooks
    for name, func in hooks.items():
        params = ", ".join(inspect.signature(func).parameters)
        assert f"### `{name}({params})`" in text
        assert inspect.getdoc(func) in text


def test_the_worked_example_is_the_tested_toy_plugin():
    text = (DOCS / "plugins.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    toy = (Path(__file__).parent / "toy_plugin" / "artkit_toy.py").read_text()
    assert block == toy


def test_every_optional_capability_is_documented():
    from artkit.contracts import OPTIONAL

    text = (DOCS / "plugins.md").read_text()
    section = text.split("## Optional capabilities", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", section, re.M)}
    assert sorted(rows) == sorted(OPTIONAL)
    for name, default in OPTIONAL.items():
        assert f"| `{default}` |" in rows[name]  # the documented default is the real one
