"""One scored input file: what `Model.predict` yields and the result files hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np


@dataclass
class Prediction:
    """One input file after scoring, good or bad."""

    index: int
    """Position in the inputs."""
    path: Path
    status: Literal["ok", "error"]
    labels: list[str] = field(default_factory=list)
    """Multi-class: the best class; multi-label: the labels the decision rule turns on,
    best first. Empty for a file that failed."""
    scores: np.ndarray | None = None
    """One score per model label (``Model.labels`` order); None for a file that failed."""
    top: list[tuple[str, float]] = field(default_factory=list)
    """The best `top_k` labels with their scores."""
    error: str | None = None
    multilabel: bool = False
    model_labels: Sequence[str] = field(default=(), repr=False)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def label(self) -> str | None:
        """The best label (None for a failed file or a multi-label image with none on)."""
        return self.labels[0] if self.labels else None

    def to_dict(self) -> dict[str, Any]:
        """The row written to prediction files, keyed by attribute name: path, status,
        then the error, or the `label` (multi-class) or `labels` (multi-label, a list)
        and every label's score (Python floats)."""
        if not self.ok:
            return {"path": str(self.path), "status": self.status, "error": self.error}
        assert self.scores is not None
        chosen = {"labels": list(self.labels)} if self.multilabel else {"label": self.label}
        return {"path": str(self.path), "status": "ok", **chosen,
                "scores": dict(zip(self.model_labels, map(float, self.scores), strict=True))}
