"""Turn the INPUTS of a batch command into an ordered list of image paths.

An input may be a file, a folder (searched recursively), a glob pattern (``photos/*.jpg``,
``**`` allowed) or a ``.txt`` file that lists one path per line (blank lines and ``#``
comments ignored; relative lines are relative to the list file's folder). The result keeps
the order of the inputs; inside a folder or a glob, paths are sorted so two runs agree.

Folders and globs contribute only files with an image suffix (hidden files and sidecar
files such as ``.txt`` or ``.json`` are ignored and counted); a file named explicitly is
always kept, so that a broken or mis-named image is reported by the decoder, not dropped
silently. A named path that does not exist is kept too and fails as "file not found".
"""

from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artkit.data.decode import is_image_path
from artkit.errors import ArtkitError

GLOB_CHARS = frozenset("*?[")


@dataclass
class ExpandedInputs:
    paths: list[Path] = field(default_factory=list)
    ignored: int = 0
    """Files inside folders or globs without an image suffix (or hidden)."""
    empty_patterns: list[str] = field(default_factory=list)
    """Glob patterns or folders that gave no image."""


def _is_hidden(path: Path, root: Path) -> bool:
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return any(part.startswith(".") for part in parts)


def _add_many(found: list[Path], root: Path | None, result: ExpandedInputs,
              origin: str) -> None:
    kept = 0
    for path in sorted(found):
        if not path.is_file():
            continue
        if (root is not None and _is_hidden(path, root)) or not is_image_path(path):
            result.ignored += 1
            continue
        result.paths.append(path)
        kept += 1
    if kept == 0:
        result.empty_patterns.append(origin)


def _read_list(list_file: Path, result: ExpandedInputs, depth: int) -> None:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtkitError(f"cannot read the list of inputs: {exc}", list_file) from None
    entries = [line.strip() for line in lines]
    entries = [e for e in entries if e and not e.startswith("#")]
    for entry in entries:
        candidate = Path(entry).expanduser()
        if not candidate.is_absolute():
            candidate = list_file.parent / candidate
        _expand_one(str(candidate), result, depth + 1)


def _expand_one(text: str, result: ExpandedInputs, depth: int) -> None:
    path = Path(text).expanduser()
    if path.is_dir():
        _add_many(list(path.rglob("*")), path, result, text)
    elif path.is_file() and path.suffix.lower() == ".txt":
        if depth > 0:
            raise ArtkitError("a list file may not name another list file", path)
        _read_list(path, result, depth)
    elif not path.exists() and GLOB_CHARS & set(text):
        _add_many([Path(p) for p in glob.glob(str(path), recursive=True)], None, result, text)
    else:
        result.paths.append(path)


def expand_inputs(inputs: Sequence[str | Path]) -> ExpandedInputs:
    """Paths of every image the inputs name, in input order. Raises if there are none."""
    result = ExpandedInputs()
    for item in inputs:
        _expand_one(str(item), result, depth=0)
    if not result.paths:
        named = ", ".join(str(i) for i in inputs) or "(nothing)"
        raise ArtkitError(f"no images found in {named}",
                          hint="give image files, folders, glob patterns or a .txt list")
    return result
