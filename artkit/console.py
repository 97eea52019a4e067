"""Where artkit's messages, tables and progress go: the active *reporter*.

Core code and plugins report through the module functions here (:func:`info`, :func:`warn`,
:func:`table`, :func:`make_progress`, :func:`track`) and never print themselves. Who is
listening decides what the user sees:

- as a library (``artkit.load(...)``, ``artkit.train(...)``) the default reporter prints
  nothing: messages go to the ``artkit`` logger (silent until the application configures
  logging) and progress is dropped;
- an API call with ``progress=callback`` gets :class:`Event` objects, one per message, table
  and progress step; ``progress=True`` gets rich bars on stderr;
- the CLI installs :class:`RichReporter` for every command (``--quiet`` silences its bars
  and informational lines; tables of results still print).
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any, Literal, TypeVar

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions
from rich.errors import MarkupError
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

console = Console()
err_console = Console(stderr=True)
logger = logging.getLogger("artkit")
logger.addHandler(logging.NullHandler())  # a library prints nothing unless asked to

T = TypeVar("T")


@dataclass(frozen=True)
class Event:
    """One thing a long call reports to a ``progress=`` callback.

    `kind` is ``info`` or ``warning`` (a message), ``table`` (a titled list of rows),
    ``start`` / ``advance`` / ``end`` (a progress task: `message` names it, `completed`
    and `total` count its steps; `total` is None when unknown)."""

    kind: Literal["info", "warning", "table", "start", "advance", "end"]
    message: str
    completed: float = 0.0
    total: float | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)


ProgressCallback = Callable[[Event], None]


@dataclass
class _TaskState:
    description: str
    total: float | None
    completed: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


class EventProgress:
    """The part of rich's `Progress` that artkit uses, turned into :class:`Event` calls
    (or into nothing, without a callback)."""

    def __init__(self, emit: ProgressCallback | None):
        self.emit = emit
        self.tasks: dict[int, _TaskState] = {}

    def __enter__(self) -> EventProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        """Nothing to draw."""

    def stop(self) -> None:
        for task in list(self.tasks):
            self._send("end", task)
        self.tasks.clear()

    def add_task(self, description: str, total: float | None = None, completed: float = 0,
                 **_fields: Any) -> int:
        task = len(self.tasks) + 1
        while task in self.tasks:
            task += 1
        self.tasks[task] = _TaskState(description, total, float(completed))
        self._send("start", task)
        return task

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def update(self, task: int, *, completed: float | None = None, advance: float | None = None,
               total: float | None = None, description: str | None = None,
               **_fields: Any) -> None:
        state = self.tasks[task]
        if total is not None:
            state.total = total
        if description is not None:
            state.description = description
        if completed is not None:
            state.completed = float(completed)
        if advance:
            state.completed += advance
        self._send("advance", task)

    def reset(self, task: int, *, total: float | None = None, description: str | None = None,
              **_fields: Any) -> None:
        state = self.tasks[task]
        state.completed, state.started = 0.0, time.perf_counter()
        state.total = total if total is not None else state.total
        state.description = description or state.description
        self._send("start", task)

    def _send(self, kind: Literal["start", "advance", "end"], task: int) -> None:
        if self.emit is not None:
            state = self.tasks[task]
            self.emit(Event(kind, state.description, state.completed, state.total))


class Reporter:
    """The library default: messages to the ``artkit`` logger, no progress, no tables."""

    quiet = True

    def info(self, message: str) -> None:
        logger.info(message)

    def warn(self, message: str) -> None:
        logger.warning(message)

    def table(self, title: str, rows: list[dict[str, Any]]) -> None:
        logger.debug("%s: %d rows", title, len(rows))

    def progress(self, rate_unit: str | None = None) -> Any:
        return EventProgress(None)


class CallbackReporter(Reporter):
    """Everything as :class:`Event` objects to one function (a notebook widget, a service's
    job status, a test)."""

    def __init__(self, callback: ProgressCallback):
        self.callback = callback

    def info(self, message: str) -> None:
        super().info(message)
        self.callback(Event("info", message))

    def warn(self, message: str) -> None:
        super().warn(message)
        self.callback(Event("warning", message))

    def table(self, title: str, rows: list[dict[str, Any]]) -> None:
        self.callback(Event("table", title, rows=list(rows)))

    def progress(self, rate_unit: str | None = None) -> Any:
        return EventProgress(self.callback)


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


SEPARATORS = "/" + (os.sep if os.sep != "/" else "")


def shorten_left(text: str, width: int) -> str:
    """`text` in at most `width` terminal cells, cut from the left, at a folder boundary
    where the rest still fits: ``…/photos/room_0042.jpg``."""
    if cell_len(text) <= width:
        return text
    if width < 1:
        return ""
    kept, room = "", width - 1  # one cell for the ellipsis
    for char in reversed(text):
        room -= cell_len(char)
        if room < 0:
            break
        kept = char + kept
    boundary = next((i for i, char in enumerate(kept) if char in SEPARATORS), 0)
    return "…" + kept[boundary:]


class PathCell:
    """A path in a table cell. Rich cuts a cell that does not fit from the right, which
    loses the file name; this one is shortened from the left (:func:`shorten_left`) and
    asks for room for its file name before other columns are squeezed."""

    def __init__(self, path: str):
        self.path = path

    def __rich_measure__(self, _console: Console, _options: ConsoleOptions) -> Measurement:
        whole = cell_len(self.path)
        name = cell_len(re.split(f"[{re.escape(SEPARATORS)}]", self.path)[-1])
        return Measurement(min(whole, name + 2), whole)  # "…/" and the name

    def __rich_console__(self, _console: Console, options: ConsoleOptions) -> Iterator[Text]:
        yield Text(shorten_left(self.path, options.max_width), no_wrap=True)


def looks_like_path(value: Any) -> bool:
    """A `Path`, or a string without spaces or markup that holds a path separator."""
    if isinstance(value, PurePath):
        return True
    if not isinstance(value, str) or not any(sep in value for sep in SEPARATORS) \
            or any(char.isspace() for char in value):
        return False
    try:
        return Text.from_markup(value).plain == value
    except MarkupError:  # brackets in a file name that are not markup
        return True


def print_table(title: str, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
    """Print dict rows as a rich table on stdout (numbers right-aligned, floats to 4 places,
    paths shortened from the left so that file names stay visible)."""
    if not rows:
        console.print(f"[dim]{title}: nothing to show[/dim]")
        return
    columns = columns or list(dict.fromkeys(k for r in rows for k in r))
    shown = Table(title=title, title_justify="left")
    for column in columns:
        numeric = all(isinstance(r.get(column), int | float) for r in rows if column in r)
        shown.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        values = [row.get(c, "") for c in columns]
        shown.add_row(*(PathCell(str(v)) if looks_like_path(v) else format_value(v)
                        for v in values))
    console.print(shown)


class RichReporter(Reporter):
    """Terminal output: informational lines and bars on stderr (so stdout stays clean for
    tables and JSON), warnings always, tables on stdout."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def info(self, message: str) -> None:
        if not self.quiet:
            err_console.print(message)

    def warn(self, message: str) -> None:
        err_console.print(f"[yellow]warning:[/yellow] {message}")

    def table(self, title: str, rows: list[dict[str, Any]]) -> None:
        print_table(title, rows)

    def progress(self, rate_unit: str | None = None) -> Any:
        columns = [
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
        if rate_unit:
            columns.append(TextColumn("{task.fields[rate]}"))
        return Progress(*columns, console=err_console, disable=self.quiet, transient=False)


_active: list[Reporter] = [Reporter()]


def reporter() -> Reporter:
    return _active[-1]


def set_reporter(new: Reporter) -> None:
    """Replace the process-wide reporter (the CLI does this once per command)."""
    _active[0] = new
    del _active[1:]


@contextmanager
def reporting(progress: bool | ProgressCallback | None) -> Iterator[None]:
    """Within the block, report as an API caller asked: True for rich bars, a callable for
    events, None/False for the current reporter (silent in a library)."""
    if progress is None or progress is False:
        yield
        return
    _active.append(RichReporter() if progress is True else CallbackReporter(progress))
    try:
        yield
    finally:
        _active.pop()


def set_quiet(quiet: bool) -> None:
    """Terminal output for one CLI command: bars and informational lines unless `quiet`."""
    set_reporter(RichReporter(quiet))


def info(message: str) -> None:
    reporter().info(message)


def warn(message: str) -> None:
    reporter().warn(message)


def table(title: str, rows: list[dict[str, Any]]) -> None:
    """A table of results worth showing (the CLI prints it; a library caller gets an event)."""
    reporter().table(title, rows)


def make_progress(*, rate_unit: str | None = None) -> Any:
    """A progress display for long loops, with rich's `Progress` interface.

    With `rate_unit` (e.g. "img") a terminal display also shows the throughput."""
    return reporter().progress(rate_unit)


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate with a progress bar (a thin wrapper so every loop looks the same)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress() as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
