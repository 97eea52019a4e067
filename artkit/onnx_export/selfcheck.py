"""Export's self-check: the run's own test images through the original framework and
through onnxruntime; the export fails (and writes nothing) if they disagree.

Scores are probabilities, so their tolerance is absolute (1e-4). Class activation maps are
unbounded sums over hundreds of channels, so their difference is measured relative to their
largest magnitude (absolute below 1) with a tolerance of 1e-3: a real MobileNet at 224 px
showed 7e-5 of pure float32 reordering, and a CAM is thresholded at a fraction (0.2) of its
maximum, so 1e-3 of that maximum cannot move a box by a pixel's worth of decision."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from artkit.contracts import OnnxGraph
from artkit.errors import ArtkitError
from artkit.formats.model_card import ModelCard
from artkit.runtime.pipeline import Batch, iter_batches, stack_float32
from artkit.runtime.preprocess import loader_for

TOLERANCE = 1e-4
CAM_TOLERANCE = 1e-3


@dataclass
class CheckResult:
    n_images: int
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    scale: dict[str, float] = field(default_factory=dict)
    """The magnitude each output's difference is measured against (1 for scores)."""
    skipped: list[str] = field(default_factory=list)

    def tolerance(self, output: str) -> float:
        return (TOLERANCE if output == "scores" else CAM_TOLERANCE) * self.scale[output]

    def failed(self) -> list[str]:
        return [k for k, d in self.max_abs_diff.items() if d > self.tolerance(k)]

    def rows(self) -> list[dict[str, Any]]:
        return [{"output": k, "max |reference - onnxruntime|": f"{d:.2e}",
                 "tolerance": f"{self.tolerance(k):.2e}"}
                for k, d in self.max_abs_diff.items()]


def _output_names(session: Any) -> list[str]:
    return [o.name for o in session.get_outputs()]


def _compare(result: CheckResult, reference: dict[str, np.ndarray],
             got: dict[str, np.ndarray]) -> None:
    for name, want in reference.items():
        if name not in got:
            raise ArtkitError(f"the ONNX graph has no output '{name}' that the reference gives")
        if got[name].shape != want.shape:
            raise ArtkitError(f"output '{name}': onnxruntime shape {got[name].shape}, "
                              f"reference shape {want.shape}")
        diff = float(np.max(np.abs(got[name].astype(np.float64) - want))) if want.size else 0.
        scale = 1.0 if name == "scores" else max(1.0, float(np.max(np.abs(want), initial=0.0)))
        result.max_abs_diff[name] = max(result.max_abs_diff.get(name, 0.0), diff)
        result.scale[name] = max(result.scale.get(name, 1.0), scale)


def self_check(graph: OnnxGraph, session: Any, card: ModelCard,
               paths: Sequence[Path]) -> CheckResult:
    """Compare `graph.reference` with the onnxruntime `session` on `paths`; raise above the
    tolerance. Images that fail to decode are skipped (and listed)."""
    names = _output_names(session)
    input_name = session.get_inputs()[0].name
    result = CheckResult(n_images=0)
    descriptors = card.input_kind == "descriptors"
    batches = iter_batches(list(paths), loader_for(card), batch_size=16, workers=2,
                           collate=list if descriptors else stack_float32)
    batch: Batch
    for batch in batches:
        result.skipped += [f"{f.path}: {f.reason}" for f in batch.failures]
        if not len(batch):
            continue
        inputs = batch.items if descriptors else [batch.items]
        for x in inputs:
            got = dict(zip(names, session.run(names, {input_name: x}), strict=True))
            _compare(result, graph.reference(x), got)
        result.n_images += len(batch)
    if result.n_images == 0:
        raise ArtkitError("self-check impossible: none of the run's test images could be read",
                          hint="; ".join(result.skipped[:3]))
    if result.failed():
        detail = ", ".join(f"{k} {result.max_abs_diff[k]:.3g} (tolerance "
                           f"{result.tolerance(k):.3g})" for k in result.failed())
        raise ArtkitError(f"self-check failed: onnxruntime and the original model differ on "
                          f"{result.n_images} test images (max abs diff: {detail}); nothing "
                          "was written")
    return result

