"""Run folders: ``runs/<model>/<n>/`` holding everything one training produced.

A run folder holds ``config.json`` (a :class:`~artkit.formats.run_config.RunConfig`),
``split.json``, ``history.csv``, ``metrics.json``, plots and the model's artefacts. Every file
is written atomically; ``config.json`` is written first and ``metrics.json`` last, so a run
without ``metrics.json`` is one that did not finish. A training that raised leaves
``failed.json`` (the error, and whether it was an interrupt that ``--resume`` can continue)
instead, so a half run is never mistaken for one still training (:attr:`Run.status`).

The root is ``./runs`` or ``$ARTKIT_RUNS``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from artkit import atomic
from artkit.contracts import EvalResult
from artkit.errors import ArtkitError
from artkit.formats.run_config import RunConfig

FAILED_FILE = "failed.json"
RunStatus = Literal["done", "failed", "interrupted", "unfinished"]


def runs_root() -> Path:
    return Path(os.environ.get("ARTKIT_RUNS", "runs"))


class Run:
    """One run folder."""

    def __init__(self, path: str | Path):
        self.dir = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r})"

    @property
    def name(self) -> str:
        """``<model>-<n>``: used to name exported files."""
        return f"{self.dir.parent.name}-{self.dir.name}"

    def path(self, *parts: str) -> Path:
        return self.dir.joinpath(*parts)

    # -- config, metrics, history -----------------------------------------------------------
    @property
    def config(self) -> RunConfig:
        path = self.path("config.json")
        if not path.exists():
            raise ArtkitError("not a run folder (no config.json)", self.dir)
        return RunConfig.from_json(atomic.read_json(path), path)

    def write_config(self, config: RunConfig) -> None:
        atomic.write_json(self.path("config.json"), config.to_json())

    def update_config(self, **values: Any) -> None:
        """Set core fields by name, or keys of the model plugin's own (``input_size``...)."""
        self.write_config(self.config.updated(**values))

    @property
    def metrics(self) -> dict[str, Any] | None:
        path = self.path("metrics.json")
        return atomic.read_json(path) if path.exists() else None

    @property
    def failure(self) -> dict[str, Any] | None:
        """What ``failed.json`` says (error, type, interrupted, at), or None."""
        path = self.path(FAILED_FILE)
        return atomic.read_json(path) if path.exists() else None

    @property
    def status(self) -> RunStatus:
        """done (``metrics.json``), failed or interrupted (``failed.json``), or unfinished:
        neither, a training still going on or a process that was killed."""
        if self.path("metrics.json").exists():
            return "done"
        failure = self.failure
        if failure is None:
            return "unfinished"
        return "interrupted" if failure.get("interrupted") else "failed"

    def mark_failed(self, error: BaseException) -> None:
        """Record why the training stopped (``failed.json``), for ``artkit runs``; a folder
        that cannot be written to keeps the error itself from being hidden by this one."""
        interrupted = isinstance(error, KeyboardInterrupt)
        with contextlib.suppress(OSError):
            self.write_json(FAILED_FILE, {
                "error": "interrupted" if interrupted else (str(error) or type(error).__name__),
                "type": type(error).__name__, "interrupted": interrupted,
                "at": datetime.now().isoformat(timespec="seconds")})

    def write_json(self, name: str, obj: Any) -> Path:
        return atomic.write_json(self.path(name), obj)

    def read_json(self, name: str) -> Any:
        return atomic.read_json(self.path(name))

    def unfinished(self) -> str | None:
        """Why the run has no results (its error, or no metrics.json); None if it finished."""
        if self.status == "done":
            return None
        failure = self.failure
        if failure is None:
            return "no metrics.json"
        return "it was interrupted" if failure.get("interrupted") else \
            f"it failed: {failure['error']}"

    def check_finished(self) -> None:
        """A one-line error saying why, unless the run finished."""
        why = self.unfinished()
        if why:
            raise ArtkitError(f"this run did not finish ({why})", self.dir)

    def result(self) -> EvalResult:
        """The saved test-split evaluation (``metrics.json``) of a finished run."""
        self.check_finished()
        stored = self.metrics
        return EvalResult(metrics=stored.get("metrics", {}),
                          per_class=stored.get("per_class", []),
                          plots=[Path(p) for p in stored.get("plots", [])],
                          headline=tuple(stored.get("headline", ())),
                          intervals={k: (float(v[0]), float(v[1])) for k, v in
                                     (stored.get("intervals") or {}).items()})

    def evaluate(self, data: str | Path | None = None, format: str | None = None,
                 progress: Any = None) -> EvalResult:
        """Evaluate on the run's own test split, or on every image of another data set
        (the metrics and plots are saved in the run folder, as ``artkit evaluate`` does).
        `progress`: None (silent), True (rich bars) or a callback of
        :class:`artkit.console.Event`."""
        from artkit.console import reporting
        from artkit.training.evaluation import evaluate_run

        with reporting(progress):
            return evaluate_run(self, data=Path(data) if data is not None else None,
                                format=format)

    def history(self) -> list[dict[str, str]]:
        path = self.path("history.csv")
        if not path.exists():
            return []
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))

    def append_history(self, row: dict[str, Any]) -> None:
        """Add one epoch to ``history.csv`` (rewritten atomically, so it is never torn)."""
        rows = self.history() + [{k: str(v) for k, v in row.items()}]
        fields: list[str] = []
        for r in rows:
            fields += [k for k in r if k not in fields]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        atomic.write_text(self.path("history.csv"), buffer.getvalue())

    def truncate_history(self, epochs: int) -> None:
        """Keep the first `epochs` rows (resuming drops epochs the checkpoint does not have)."""
        rows = self.history()[:epochs]
        self.path("history.csv").unlink(missing_ok=True)
        for row in rows:
            self.append_history(row)


def new_run(model: str, name: str | None = None, root: Path | None = None) -> Run:
    """Create ``runs/<model>/<n>`` with the next free number, or ``runs/<model>/<name>``
    (under `root` instead of the runs root when given)."""
    base = (root or runs_root()) / model
    base.mkdir(parents=True, exist_ok=True)
    if name:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise ArtkitError(f"run name '{name}' may only hold letters, digits, '.', '_', '-'")
        path = base / name
        if path.exists() and any(path.iterdir()):
            raise ArtkitError("run folder already exists", path,
                              hint="choose another --name or delete it")
        path.mkdir(exist_ok=True)
        return Run(path)
    while True:
        numbers = [int(p.name) for p in base.iterdir() if p.name.isdigit()]
        path = base / str(max(numbers, default=0) + 1)
        try:
            path.mkdir()  # atomic: two concurrent trainings never share a folder
            return Run(path)
        except FileExistsError:
            continue


def all_runs() -> list[Run]:
    root = runs_root()
    if not root.exists():
        return []
    found = [Run(p.parent) for p in root.glob("*/*/config.json")]
    return sorted(found, key=lambda r: r.path("config.json").stat().st_mtime)


def resolve_run(ref: str | Path | None = None, model: str | None = None) -> Run:
    """A run from a folder path, ``<model>/<n>``, or (None) the most recent finished run."""
    if ref is None:
        finished = [r for r in all_runs() if r.status == "done"
                    and (model is None or r.config.model == model)]
        if not finished:
            what = f" of model '{model}'" if model else ""
            raise ArtkitError(f"no finished run{what} found under {runs_root()}",
                              hint="train one first with `artkit train MODEL`")
        return finished[-1]
    for candidate in (Path(ref), runs_root() / str(ref)):
        if candidate.joinpath("config.json").exists():
            return Run(candidate)
    raise ArtkitError("no such run (expected a run folder with config.json)", ref)
