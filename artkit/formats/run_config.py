"""A run's ``config.json``: what was trained, on what, and how; its one owner.

The core writes the fields every run has (model, task, labels, data, split settings, the
decision rule of a multi-label run); a model plugin may add its own keys (``input_size``,
``cam_layers``, ...), which are kept in :attr:`RunConfig.extra` and stored beside the core
ones. Files written by artkit 0.1 (no schema version; the thresholds and the
min/max-labels rule stored as separate keys, twice) are read into the current form.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from artkit.decisions.rule import DecisionRule
from artkit.errors import ArtkitError
from artkit.formats.versioned import ARTKIT_VERSION, open_versioned, split_known

SCHEMA_VERSION = 2
REQUIRED = ("model", "task", "labels", "data")
LEGACY_DECISION_KEYS = ("thresholds", "min_labels", "max_labels")


@dataclass
class RunConfig:
    model: str
    task: str
    labels: list[str]
    data: str
    """The data set the run was trained on (a folder or a csv file), as given."""
    format: str | None = None
    """The data set reader that read it."""
    options: dict[str, Any] = field(default_factory=dict)
    """The model plugin's options (``--vocab``, ``--epochs``, ...)."""
    seed: int = 0
    test_fraction: float = 0.2
    val_fraction: float = 0.1
    min_class_images: int = 0
    n_images: dict[str, int] = field(default_factory=dict)
    decision: DecisionRule | None = None
    """Multi-label runs: the tuned rule (``artkit tune-thresholds``); None until tuned."""
    artkit_version: str = ARTKIT_VERSION
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys the model plugin stored (``run.update_config(input_size=...)``)."""

    def decision_rule(self) -> DecisionRule | None:
        """The rule evaluation and export apply: the tuned one, the default for an untuned
        multi-label run, None for a multi-class run."""
        if self.task != "multilabel":
            return None
        return self.decision or DecisionRule()

    def updated(self, **values: Any) -> RunConfig:
        """A copy with `values` set: core fields by name, anything else into `extra`."""
        core, extra = split_known(type(self), values)
        return replace(self, **core, extra={**self.extra, **extra})

    def to_json(self) -> dict[str, Any]:
        stored = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name not in ("extra", "decision")}
        stored["decision"] = self.decision.to_json() if self.decision else None
        return {**self.extra, **stored}

    @classmethod
    def from_json(cls, stored: dict[str, Any], path: str | Path | None = None) -> RunConfig:
        """Validate and read a config; one-line errors name the file and the problem."""
        stored, version = open_versioned(stored, path, what="run config",
                                         schema=SCHEMA_VERSION, required=REQUIRED)
        try:
            if version >= 2:
                rule = stored.pop("decision", None)
                decision = None if rule is None else DecisionRule.from_json(rule)
            else:
                legacy = {k: stored.pop(k) for k in LEGACY_DECISION_KEYS if k in stored}
                decision = None if legacy.get("thresholds") is None else \
                    DecisionRule.from_parts(legacy["thresholds"], legacy.get("min_labels", 1),
                                            legacy.get("max_labels"))
            if decision is not None:
                decision.check(len(stored["labels"]))
        except (ValueError, TypeError) as exc:
            raise ArtkitError(f"bad decision rule in the run config: {exc}", path) from None
        values, extra = split_known(cls, stored, skip=("decision",))
        return cls(**values, decision=decision, extra=extra)
