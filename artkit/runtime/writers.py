"""Prediction result files written as the run goes: CSV, JSON Lines or JSON.

Rows are appended and flushed after every batch, so an interrupted run loses nothing it had
finished, and ``--resume`` skips the paths a file already holds and appends the rest (a
row torn by the interruption is cut off first). CSV and JSON Lines grow in place; a JSON
document cannot be valid while half-written, so its rows go to a ``.partial.jsonl`` file
beside it and the JSON is written atomically from that at the end.

Every row holds the path, ``status`` (``ok`` or ``error``), the error reason, the
prediction and one score per label, in input order.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import IO, Any

from artkit.errors import ArtkitError
from artkit.io import atomic_path
from artkit.runtime.prediction import Prediction

FIXED_COLUMNS = ["path", "status", "error", "prediction"]
FORMATS = (".csv", ".json", ".jsonl")


def _cut_torn_tail(path: Path) -> None:
    """Drop a last line without its newline (the row an interruption was writing)."""
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as handle:
            handle.truncate(data.rfind(b"\n") + 1)


class ResultWriter:
    """Base: `done` holds the paths already in the file (when resuming)."""

    def __init__(self, path: Path, labels: list[str], header: dict[str, Any], resume: bool):
        self.path = path
        self.labels = labels
        self.header = header
        self.done: set[str] = set()
        self.handle: IO[str]

    def write(self, rows: list[Prediction]) -> None:
        raise NotImplementedError

    def close(self, finished: bool) -> None:
        self.handle.close()


class JsonlWriter(ResultWriter):
    def __init__(self, path: Path, labels: list[str], header: dict[str, Any], resume: bool):
        super().__init__(path, labels, header, resume)
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists():
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

    def write(self, rows: list[Prediction]) -> None:
        for row in rows:
            self.handle.write(json.dumps(row.to_dict()) + "\n")
        self.handle.flush()


class CsvWriter(ResultWriter):
    def __init__(self, path: Path, labels: list[str], header: dict[str, Any], resume: bool):
        super().__init__(path, labels, header, resume)
        clash = set(FIXED_COLUMNS) & set(labels)
        self.score_columns = [f"score:{x}" for x in labels] if clash else list(labels)
        self.columns = FIXED_COLUMNS + self.score_columns
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume and path.exists() and path.stat().st_size > 0:
            _cut_torn_tail(path)
            with path.open(newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                if next(reader, None) != self.columns:
                    raise ArtkitError("its columns are not this model's; cannot resume into it",
                                      path)
                self.done = {row[0] for row in reader if row}
            self.handle = path.open("a", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle)
        else:
            self.handle = path.open("w", newline="", encoding="utf-8")
            self.writer = csv.writer(self.handle)
            self.writer.writerow(self.columns)

    def write(self, rows: list[Prediction]) -> None:
        for row in rows:
            prediction = (";".join(row.labels) if row.multilabel else row.label) if row.ok \
                else ""
            values = [f"{float(s):.6g}" for s in row.scores] if row.scores is not None else \
                [""] * len(self.labels)
            self.writer.writerow([str(row.path), row.status, row.error or "", prediction or "",
                                  *values])
        self.handle.flush()


class JsonWriter(JsonlWriter):
    """JSON Lines into ``<name>.partial.jsonl``, turned into the JSON document at the end."""

    def __init__(self, path: Path, labels: list[str], header: dict[str, Any], resume: bool):
        self.final = path
        partial = path.with_name(path.name + ".partial.jsonl")
        if resume and path.exists() and not partial.exists():  # resume after a finished run
            try:
                results = json.loads(path.read_text(encoding="utf-8"))["results"]
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ArtkitError("not a prediction file; cannot resume into it", path) from None
            partial.write_text("".join(json.dumps(r) + "\n" for r in results), encoding="utf-8")
        super().__init__(partial, labels, header, resume)

    def close(self, finished: bool) -> None:
        super().close(finished)
        if not finished:
            return
        with atomic_path(self.final) as tmp, tmp.open("w", encoding="utf-8") as out, \
                self.path.open(encoding="utf-8") as rows:
            out.write(json.dumps(self.header, indent=1)[:-2] + ',\n "results": [\n')
            for number, line in enumerate(rows):
                out.write((",\n" if number else "") + "  " + line.rstrip("\n"))
            out.write("\n ]\n}\n")
        os.unlink(self.path)


def open_writer(path: Path, labels: list[str], header: dict[str, Any],
                resume: bool = False) -> ResultWriter:
    """A writer for `path` chosen by its suffix (.csv, .json or .jsonl)."""
    suffix = path.suffix.lower()
    writers = {".csv": CsvWriter, ".jsonl": JsonlWriter, ".json": JsonWriter}
    if suffix not in writers:
        raise ArtkitError(f"unknown output format '{suffix or path.name}'", path,
                          hint="use .csv, .json or .jsonl")
    return writers[suffix](path, labels, header, resume)
