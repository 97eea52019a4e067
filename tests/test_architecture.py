"""docs/architecture.md stays true to the code: its layout table covers every package and
ground-floor module, every path it names exists, and its detection methods are the ones
registered."""

from __future__ import annotations

import re
from pathlib import Path

from artkit import registry

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _layout_rows() -> set[str]:
    section = DOC.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", section, re.M))


def test_the_layout_table_covers_every_package_and_ground_floor_module() -> None:
    rows = _layout_rows()
    artkit = ROOT / "artkit"
    expected = {f"artkit/{p.name}/" for p in artkit.iterdir()
                if p.is_dir() and (p / "__init__.py").exists()}
    expected |= {f"artkit/{p.name}" for p in artkit.glob("*.py")}
    expected |= {"plugins/", "plugins/lib/"}
    assert sorted(expected - rows) == []
    assert sorted(rows - expected) == []


def test_every_path_it_names_exists() -> None:
    named = set(re.findall(r"`((?:artkit|plugins|tests|docs)/[\w./-]*)`", DOC))
    missing = sorted(p for p in named if not (ROOT / p.rstrip("/")).exists())
    assert missing == []


def test_every_file_named_in_a_layout_row_exists_in_its_package() -> None:
    section = DOC.split("## Layout", 1)[1].split("\n## ", 1)[0]
    missing = []
    for folder, text in re.findall(r"^\| `((?:artkit|plugins)/[\w/]*/)` \| (.*)$", section,
                                   re.M):
        for name in re.findall(r"`([\w/]+(?:\.py|/))`", text):
            if not (ROOT / folder / name).exists():
                missing.append(f"{folder}{name}")
    assert missing == []


def test_the_detection_methods_it_lists_are_the_registered_ones() -> None:
    registered = set(registry.of_kind(registry.Kind.DETECTION_METHOD))
    sentence = re.search(r"Detection methods are a plugin kind.*?plugins", DOC, re.S)
    assert sentence is not None
    listed = set(re.findall(r"`([\w+]+)`", sentence.group(0))) - {"register_detection_methods"}
    assert listed == registered
