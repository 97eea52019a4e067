"""The model card: artkit's metadata inside an exported ONNX file, and its one owner.

The file is all a user ships, so it carries the labels, the task, how to prepare an image
(input size, colour order, the normalisation the graph applies), the multi-label decision
rule, the model plugin and its options, and the test metrics of the run it came from. It is
stored as one JSON document under the ``artkit`` key of the model's ``metadata_props`` (a
plain string map every ONNX tool keeps and shows, e.g. Netron).

The card has a schema version. A file from a newer artkit (a higher version) or one with
keys missing gets a one-line error naming what is wrong. Files written by artkit 0.1
(schema 1: no version, the thresholds and the min/max-labels rule as separate keys) still
load; they are read into the current form.

Imports onnx only inside functions: predict reads the card through its onnxruntime session
(:meth:`ModelCard.from_session`) and never needs the onnx package.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from artkit.decisions.rule import DecisionRule
from artkit.errors import ArtkitError
from artkit.formats.versioned import ARTKIT_VERSION, open_versioned, split_known

KEY = "artkit"
SCHEMA_VERSION = 2
REQUIRED = ("artkit_version", "model", "task", "labels", "input_kind", "outputs")
EMBEDDING_TASK = "embedding"
REEXPORT = "re-export it with `artkit export onnx RUN`"


class NotArtkitModelError(ArtkitError):
    """An ONNX file that artkit did not write (no artkit metadata), or a damaged one."""


@dataclass
class ModelCard:
    """What artkit knows about an exported model, besides its graph."""

    model: str
    """The model plugin that trained it (``bow-svm``, ``mobilenet``, ...)."""
    task: str
    labels: list[str]
    input_kind: str
    """``image`` (float32 (N, H, W, 3) RGB 0..255) or ``descriptors`` (one image's local
    descriptors; `preprocessing` names the extractor)."""
    outputs: list[str]
    artkit_version: str = ARTKIT_VERSION
    schema_version: int = SCHEMA_VERSION
    options: dict[str, Any] = field(default_factory=dict)
    input_size: tuple[int, int] | None = None
    """(height, width) of image models."""
    colour_order: str = "RGB"
    preprocessing: dict[str, Any] = field(default_factory=dict)
    decision: DecisionRule | None = None
    """Multi-label models: the thresholds and min/max labels predict applies."""
    test_metrics: dict[str, Any] = field(default_factory=dict)
    run: str | None = None
    exported_at: str | None = None
    opset: int | None = None
    self_check: dict[str, Any] | None = None
    quantization: dict[str, Any] | None = None
    embedding_dim: int | None = None
    """Embedding models (``task == "embedding"``, no labels): the length of the vector of
    their ``embedding`` output. None (and not stored) for every other model."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Keys this artkit does not know (kept as they are when the card is rewritten)."""

    @property
    def multilabel(self) -> bool:
        return self.task == "multilabel"

    @property
    def is_embedding(self) -> bool:
        """An embedding model (``artkit export onnx --embedding``): one ``embedding``
        output, no labels."""
        return self.task == EMBEDDING_TASK

    def decision_rule(self) -> DecisionRule:
        """The stored rule, or the default (0.5, at least one label) of an untuned model."""
        return self.decision or DecisionRule()

    def replace(self, **changes: Any) -> ModelCard:
        return replace(self, **changes)

    # -- the stored form -------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        stored = {f.name: getattr(self, f.name) for f in fields(self)
                  if f.name not in ("extra", "decision")}
        stored["decision"] = self.decision.to_json() if self.decision else None
        if self.input_size is not None:
            stored["input_size"] = [int(v) for v in self.input_size]
        stored = {**self.extra, **{k: v for k, v in stored.items() if v is not None}}
        return stored

    @classmethod
    def from_json(cls, stored: dict[str, Any], path: str | Path | None = None) -> ModelCard:
        """Validate and read a card; one-line errors name the file and what is wrong."""
        stored, version = open_versioned(stored, path, what="artkit metadata",
                                         schema=SCHEMA_VERSION, required=REQUIRED,
                                         error=NotArtkitModelError, hint=REEXPORT)
        try:
            decision = _decision_of(stored, version)
            if decision is not None:
                decision.check(len(stored["labels"]))
        except (ValueError, TypeError) as exc:
            raise NotArtkitModelError(f"bad decision rule in the artkit metadata: {exc}",
                                      path, hint=REEXPORT) from None
        values, extra = split_known(cls, stored, skip=("decision",))
        if values.get("input_size") is not None:
            values["input_size"] = tuple(int(v) for v in values["input_size"])
        return cls(**values, decision=decision, extra=extra)

    # -- files and sessions ------------------------------------------------------------------
    @classmethod
    def from_props(cls, props: dict[str, str], path: str | Path | None) -> ModelCard:
        """The card in an ONNX metadata_props map."""
        if KEY not in props:
            raise NotArtkitModelError("not an artkit model: the ONNX file has no artkit "
                                      "metadata", path, hint="export it with `artkit export "
                                      "onnx`")
        try:
            stored = json.loads(props[KEY])
        except json.JSONDecodeError as exc:
            raise NotArtkitModelError(f"damaged artkit metadata ({exc})", path) from None
        return cls.from_json(stored, path)

    @classmethod
    def read(cls, path: str | Path) -> ModelCard:
        """The card of the ONNX file at `path` (one-line errors for a missing file, a
        non-ONNX file, or an ONNX file artkit did not write)."""
        path = Path(path)
        return cls.from_props(props_of(load_onnx(path)), path)

    @classmethod
    def from_session(cls, session: Any, path: str | Path) -> ModelCard:
        """The card through an onnxruntime session (no onnx import, no second parse)."""
        return cls.from_props(dict(session.get_modelmeta().custom_metadata_map), path)

    def embed(self, model: Any) -> None:
        """Store this card in an in-memory `onnx.ModelProto`, replacing any earlier one."""
        for index, prop in enumerate(model.metadata_props):
            if prop.key == KEY:
                del model.metadata_props[index]
                break
        entry = model.metadata_props.add()
        entry.key, entry.value = KEY, json.dumps(self.to_json(), sort_keys=True)

    def write(self, source: str | Path, destination: str | Path | None = None) -> Path:
        """Rewrite the ONNX file `source` with this card, atomically (a crash leaves the old
        file whole), in place or into `destination`."""
        from artkit.atomic import write_bytes

        model = load_onnx(Path(source))
        self.embed(model)
        return write_bytes(destination or source, model.SerializeToString())


def _decision_of(stored: dict[str, Any], version: int) -> DecisionRule | None:
    """Schema 2 keeps the rule under ``decision``; schema 1 (artkit 0.1) kept
    ``thresholds``, ``min_labels`` and ``max_labels`` apart."""
    if version >= 2:
        rule = stored.pop("decision", None)
        return None if rule is None else DecisionRule.from_json(rule)
    thresholds = stored.pop("thresholds", None)
    min_labels, max_labels = stored.pop("min_labels", 1), stored.pop("max_labels", None)
    if thresholds is None and stored.get("task") != "multilabel":
        return None
    return DecisionRule.from_parts(thresholds, min_labels, max_labels)


def load_onnx(path: Path) -> Any:
    """The ONNX model at `path` without external weights (the card is all that is read)."""
    import onnx

    if not path.exists():
        raise ArtkitError("model file not found", path)
    if path.is_dir():
        raise ArtkitError("is a folder, not an ONNX model file", path)
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, onnx raises others
        raise NotArtkitModelError(f"not a readable ONNX file ({type(exc).__name__})",
                                  path) from None


def props_of(model: Any) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}

