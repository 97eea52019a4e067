"""Turn the INPUTS of a batch command into a stream of image paths, in a stable order.

An input may be a file, a folder (searched recursively), a glob pattern (``photos/*.jpg``,
``**`` allowed) or a ``.txt`` file that lists one path per line (blank lines and ``#``
comments ignored; relative lines are relative to the list file's folder). The result keeps
the order of the inputs; inside a folder, entries are visited depth first in name order,
which is the order of sorting the full paths, so two runs agree.

Folders and globs contribute only entries with an image suffix (hidden files and sidecar
files such as ``.txt`` or ``.json`` are ignored and counted). Some entries with an image
suffix are not readable images, and they are kept so that the decoder reports them as
skipped, never dropped silently: a dangling symbolic link, a folder named like an image
(whose contents are searched too), a file without read permission. A file named
explicitly is always kept. A path named as an input (not inside a ``.txt`` list) that does
not exist is an error before any work (:func:`check_named`); a listed path that does not
exist, or one gone by the time it is decoded, is skipped as "file not found".

:class:`InputStream` lists on a background thread: the first batch starts while a tree of
100,000 files is still being walked, and ``total`` is known as soon as the walk ends.
"""

from __future__ import annotations

import glob
import os
import queue
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from artkit.console import warn
from artkit.data.decode import is_image_path
from artkit.errors import ArtkitError

GLOB_CHARS = frozenset("*?[")
_DONE = object()


@dataclass
class ExpandedInputs:
    paths: list[Path] = field(default_factory=list)
    ignored: int = 0
    """Files inside folders or globs without an image suffix (or hidden)."""
    empty_patterns: list[str] = field(default_factory=list)
    """Glob patterns or folders that gave no image."""


@dataclass
class _Counts:
    ignored: int = 0
    empty_patterns: list[str] = field(default_factory=list)


def _walk(root: Path, counts: _Counts) -> Iterator[Path]:
    """Image entries below `root`, depth first, each folder's entries in name order.

    Hidden entries are counted as ignored and not descended into; symbolic links to
    folders are not followed (no loops)."""
    try:
        with os.scandir(root) as scan:
            entries = sorted(scan, key=lambda e: e.name)
    except OSError as exc:
        warn(f"{root}: cannot list this folder ({exc.strerror or exc}); skipped")
        return
    for entry in entries:
        path = Path(entry.path)
        if entry.name.startswith("."):
            counts.ignored += 1
            continue
        if is_image_path(path):
            yield path  # files, dangling links and folders named like images alike
        elif not entry.is_dir():
            counts.ignored += 1
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path, counts)


def _many(found: Iterator[Path], origin: str, counts: _Counts) -> Iterator[Path]:
    kept = 0
    for path in found:
        kept += 1
        yield path
    if kept == 0:
        counts.empty_patterns.append(origin)


def _glob(pattern: Path, counts: _Counts) -> Iterator[Path]:
    for text in sorted(glob.glob(str(pattern), recursive=True)):
        path = Path(text)
        if is_image_path(path):
            yield path
        elif path.is_file():
            counts.ignored += 1


def _read_list(list_file: Path, counts: _Counts, depth: int) -> Iterator[Path]:
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ArtkitError(f"cannot read the list of inputs: {exc}", list_file) from None
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        candidate = Path(entry).expanduser()
        if not candidate.is_absolute():
            candidate = list_file.parent / candidate
        yield from _expand_one(str(candidate), counts, depth + 1)


def _expand_one(text: str, counts: _Counts, depth: int) -> Iterator[Path]:
    path = Path(text).expanduser()
    if path.is_dir():
        yield from _many(_walk(path, counts), text, counts)
    elif path.is_file() and path.suffix.lower() == ".txt":
        if depth > 0:
            raise ArtkitError("a list file may not name another list file", path)
        yield from _read_list(path, counts, depth)
    elif not path.exists() and not path.is_symlink() and GLOB_CHARS & set(text):
        yield from _many(_glob(path, counts), text, counts)
    else:
        yield path


def check_named(inputs: Sequence[str | Path]) -> None:
    """A one-line error naming the first input, as it was written, that is neither a file,
    a folder, a symbolic link nor a glob pattern: a typo is caught before any work."""
    for item in inputs:
        text = str(item)
        path = Path(text).expanduser()
        if not path.exists() and not path.is_symlink() and not GLOB_CHARS & set(text):
            raise ArtkitError(f"{text}: no such file or folder",
                              hint="give image files, folders, glob patterns or a .txt list")


def iter_inputs(inputs: Sequence[str | Path], counts: _Counts | None = None
                ) -> Iterator[Path]:
    """Every image path the inputs name, in input order, lazily. Raises if there are none."""
    counts = counts if counts is not None else _Counts()
    found = 0
    for item in inputs:
        for path in _expand_one(str(item), counts, depth=0):
            found += 1
            yield path
    if not found:
        named = ", ".join(str(i) for i in inputs) or "(nothing)"
        raise ArtkitError(f"no images found in {named}",
                          hint="give image files, folders, glob patterns or a .txt list")


def expand_inputs(inputs: Sequence[str | Path]) -> ExpandedInputs:
    """All of :func:`iter_inputs` at once, with what was ignored."""
    check_named(inputs)
    counts = _Counts()
    paths = list(iter_inputs(inputs, counts))
    return ExpandedInputs(paths, counts.ignored, counts.empty_patterns)


class InputStream:
    """Image paths listed on a background thread while they are consumed.

    Iterate once. `total` is the number of paths to process (after `exclude`, e.g. the
    rows a resumed output already holds), None until the listing ends; `excluded` counts
    those left out; `ignored` and `empty_patterns` are complete at the end too."""

    def __init__(self, source: Callable[[_Counts], Iterator[Path]],
                 exclude: Collection[str] = ()):
        self.exclude = exclude
        self.counts = _Counts()
        self.total: int | None = None
        self.excluded = 0
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._list, args=(source,), name="artkit-list",
                         daemon=True).start()

    @classmethod
    def listing(cls, inputs: Sequence[str | Path] | str | Path,
                exclude: Collection[str] = ()) -> InputStream:
        """The paths INPUTS name (files, folders, globs, lists), as :func:`iter_inputs`;
        a named input that does not exist is an error here, before anything is listed."""
        items = [inputs] if isinstance(inputs, str | Path) else list(inputs)
        check_named(items)
        return cls(lambda counts: iter_inputs(items, counts), exclude)

    @classmethod
    def of(cls, paths: Iterable[Path], exclude: Collection[str] = ()) -> InputStream:
        """Exactly these paths (already listed: nothing is walked or expanded)."""
        return cls(lambda counts: iter(Path(p) for p in paths), exclude)

    def _list(self, source: Callable[[_Counts], Iterator[Path]]) -> None:
        listed = 0
        try:
            for path in source(self.counts):
                if self.exclude and str(path) in self.exclude:
                    self.excluded += 1
                    continue
                listed += 1
                self._queue.put(path)
            self.total = listed
            self._queue.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            self._queue.put(exc)

    @property
    def ignored(self) -> int:
        return self.counts.ignored

    @property
    def empty_patterns(self) -> list[str]:
        return self.counts.empty_patterns

    def __iter__(self) -> Iterator[Path]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
