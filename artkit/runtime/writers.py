"""Prediction result files written as the run goes: CSV, JSON Lines or JSON.

Rows are appended and flushed after every batch, so an interrupted run loses nothing it had
finished, and ``--resume`` skips the paths a file already holds and appends the rest (a
row torn by the interruption is cut off first). CSV and JSON Lines grow in place; a JSON
document cannot be valid while half-written, so its rows go to a ``.partial.jsonl`` file
beside it and the JSON is written atomically from that at the end.

Every row holds the path, ``status`` (``ok`` or ``error``), the error reason, the labels
given and one score per label, in input order (:meth:`Prediction.to_dict`). A JSON file
starts with a :class:`PredictionsHeader`, the one definition of what made the file; the
report reads it back. A run that fails or is interrupted before its first row leaves no
file it created.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from artkit.atomic import atomic_path
from artkit.errors import ArtkitError
from artkit.runtime.prediction import Prediction

FIXED_COLUMNS = ["path", "status", "error", "labels"]
LEGACY_COLUMNS = ["path", "status", "error", "prediction"]
"""The fixed csv columns before the `labels` column took its attribute's name (still read,
and resumed in their own layout)."""


@dataclass(frozen=True)
class PredictionsHeader:
    """What made a predictions file: the header of a JSON file, read back by the report."""

    model: str | None = None
    """The ``.onnx`` file, as it was given."""
    artkit_model: str | None = None
    """The model plugin that trained it (``ModelCard.model``)."""
    task: str | None = None
    labels: list[str] = field(default_factory=list)
    decision: dict[str, Any] | None = None
    """The multi-label decision rule applied (``DecisionRule.to_json()``), else None."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> PredictionsHeader:
        """The header keys of `stored` (a JSON predictions file, or part of a header);
        the others, such as ``results``, are left out."""
        labels = stored.get("labels") or []
        return cls(stored.get("model"), stored.get("artkit_model"), stored.get("task"),
                   [str(x) for x in labels], stored.get("decision"))


def _cut_torn_tail(path: Path, chunk: int = 1 << 16) -> None:
    """Drop a last line without its newline (the row an interruption was writing),
    reading the file backwards from its end (memory stays flat for large outputs)."""
    with path.open("r+b") as handle:
        end = handle.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            start = max(0, position - chunk)
            handle.seek(start)
            data = handle.read(position - start)
            if position == end and data.endswith(b"\n"):
                return
            newline = data.rfind(b"\n")
            if newline >= 0:
                handle.truncate(start + newline + 1)
                return
            position = start
        handle.truncate(0)


RESUME_HINT = "the rows written so far are whole; fix this and rerun with --resume"


@contextmanager
def _writing(path: Path, hint: str | None = RESUME_HINT) -> Iterator[None]:
    """OSErrors (a read-only folder, a full disk) as one line naming the file."""
    try:
        yield
    except OSError as exc:
        raise ArtkitError(f"cannot write: {exc.strerror or exc}", path, hint=hint) from None


def _make_folder(output: Path) -> None:
    """The output's folder, or a one-line error saying why it cannot exist."""
    for ancestor in output.parents:
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ArtkitError(f"cannot write: {ancestor} is a file, not a folder", output)
            break
    with _writing(output, hint=None):
        output.parent.mkdir(parents=True, exist_ok=True)


class OutputLock:
    """An exclusive lock on ``<output>.lock``: a second predict writing the same file is
    refused instead of interleaving its rows with the first one's."""

    def __init__(self, output: Path, command: str = "predict"):
        import fcntl

        self.path = output.with_name(output.name + ".lock")
        _make_folder(output)
        with _writing(output, hint=None):
            self.handle = self.path.open("a")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.close()
            raise ArtkitError(f"another artkit {command} is writing this file", output,
                              hint="wait for it, or choose another --output") from None

    def release(self) -> None:
        self.path.unlink(missing_ok=True)
        self.handle.close()  # closing releases the lock


class ResultWriter:
    """Base: `done` holds the paths already in the file (when resuming)."""

    def __init__(self, path: Path, labels: list[str], header: PredictionsHeader,
                 resume: bool):
        self.path = path
        self.labels = labels
        self.header = header
        self.done: set[str] = set()
        self.handle: IO[str]
        self.lock: OutputLock | None = None
        self.fresh = True
        """The file was created (not appended to) by this writer."""
        self.rows = 0

    def write(self, rows: list[Prediction]) -> None:
        with _writing(self.path):
            self._write(rows)
            self.handle.flush()
        self.rows += len(rows)

    def _write(self, rows: list[Prediction]) -> None:
        raise NotImplementedError

    def close(self, finished: bool) -> None:
        """Close the file (whole rows only, whatever happened) and release the lock."""
        try:
            self._close(finished)
        finally:
            if self.lock is not None:
                self.lock.release()

    def _close(self, finished: bool) -> None:
        try:
            self.handle.close()
        except OSError:  # the failed write is reported already
            pass
        if not finished and self.fresh and not self.rows:  # nothing done: leave no file
            self.path.unlink(missing_ok=True)
        elif self.path.exists():
            _cut_torn_tail(self.path)


class JsonlWriter(ResultWriter):
    def __init__(self, path: Path, labels: list[str], header: PredictionsHeader,
                 resume: bool):
        super().__init__(path, labels, header, resume)
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists():
            self.fresh = False
            _cut_torn_tail(path)
            with path.open(encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    try:
                        self.done.add(json.loads(line)["path"])
                    except (json.JSONDecodeError, KeyError, TypeError):
                        raise ArtkitError(f"line {number} is not a prediction row; cannot "
                                          "resume into this file", path) from None
            self.handle = path.open("a", encoding="utf-8")
        else:
            self.handle = path.open("w", encoding="utf-8")

    def _write(self, rows: list[Prediction]) -> None:
        for row in rows:
            self.handle.write(json.dumps(row.to_dict()) + "\n")


class CsvWriter(ResultWriter):
    def __init__(self, path: Path, labels: list[str], header: PredictionsHeader,
                 resume: bool):
        super().__init__(path, labels, header, resume)
        self.columns = FIXED_COLUMNS + score_columns(labels, FIXED_COLUMNS)
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists() and path.stat().st_size > 0:
            self.fresh = False
            _cut_torn_tail(path)
            legacy = LEGACY_COLUMNS + score_columns(labels, LEGACY_COLUMNS)
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                columns = next(reader, None)
                if columns not in (self.columns, legacy):
                    raise ArtkitError("its columns are not this model's; cannot resume into it",
                                      path)
                self.done = {row[0] for row in reader if row}
            self.handle = path.open("a", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle)
        else:
            self.handle = path.open("w", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(self.columns)

    def _write(self, rows: list[Prediction]) -> None:
        for row in rows:
            values = [f"{float(s):.6g}" for s in row.scores] if row.scores is not None else \
                [""] * len(self.labels)
            self.writer.writerow([str(row.path), row.status, row.error or "",
                                  ";".join(row.labels), *values])


class JsonWriter(JsonlWriter):
    """JSON Lines into ``<name>.partial.jsonl``, turned into the JSON document at the end."""

    def __init__(self, path: Path, labels: list[str], header: PredictionsHeader,
                 resume: bool):
        self.final = path
        partial = path.with_name(path.name + ".partial.jsonl")
        if resume and path.exists() and not partial.exists():  # resume after a finished run
            try:
                results = json.loads(path.read_text(encoding="utf-8"))["results"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ArtkitError("not a prediction file; cannot resume into it", path) from None
            with _writing(partial):
                partial.write_text("".join(json.dumps(r) + "\n" for r in results),
                                   encoding="utf-8")
        super().__init__(partial, labels, header, resume)

    def _close(self, finished: bool) -> None:
        super()._close(finished)
        if not finished:
            return
        with _writing(self.final), atomic_path(self.final) as tmp, \
                tmp.open("w", encoding="utf-8") as out, self.path.open(encoding="utf-8") as rows:
            out.write(json.dumps(self.header.to_json(), indent=1)[:-2] + ',\n "results": [\n')
            for number, line in enumerate(rows):
                out.write((",\n" if number else "") + "  " + line.rstrip("\n"))
            out.write("\n ]\n}\n")
        os.unlink(self.path)


def score_columns(labels: list[str], fixed: list[str]) -> list[str]:
    """The csv's score columns: the labels, prefixed with ``score:`` when one of them
    is also the name of a fixed column."""
    return [f"score:{x}" for x in labels] if set(fixed) & set(labels) else list(labels)


WRITERS = {".csv": CsvWriter, ".jsonl": JsonlWriter, ".json": JsonWriter}


def check_format(path: Path) -> None:
    """A one-line error for an output whose suffix names no format (before any work)."""
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise ArtkitError(f"unknown output format '{suffix or path.name}'", path,
                          hint="use .csv, .json or .jsonl")


def open_writer(path: Path, labels: list[str],
                header: PredictionsHeader | Mapping[str, Any] | None = None,
                resume: bool = False) -> ResultWriter:
    """A writer for `path` chosen by its suffix (.csv, .json or .jsonl), holding the
    output lock. `header` may also be given as its JSON form."""
    check_format(path)
    if not isinstance(header, PredictionsHeader):
        header = PredictionsHeader.from_json({"labels": labels, **(header or {})})
    lock = OutputLock(path)
    try:
        with _writing(path, hint=None):
            writer = WRITERS[path.suffix.lower()](path, labels, header, resume)
    except BaseException:
        lock.release()
        raise
    writer.lock = lock
    return writer
