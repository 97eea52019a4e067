"""int8 quantization of an exported image model, and what it costs and gains.

Static QDQ quantization (int8 per-channel weights, uint8 activations, ranges calibrated on
training images) is the kind that pays on a CPU: a probe here ran InceptionV3 about 2.5x
faster than float32, while ``quantize_dynamic`` ran convnets about 4x *slower* (its
ConvInteger path). ``quant_pre_process`` runs without sympy when symbolic shape inference
is skipped (shapes here are static apart from the batch axis).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artkit.errors import ArtkitError
from artkit.formats.model_card import ModelCard
from artkit.runtime.pipeline import iter_batches, stack_float32
from artkit.runtime.preprocess import image_loader, input_size

CALIBRATION_BATCH = 8


@dataclass
class QuantizeReport:
    path: Path
    size_ratio: float
    """int8 file size / float file size."""
    speed_ratio: float
    """int8 images/s / float images/s at the measured batch size."""
    speed_batch: int
    metric: str
    float_value: float
    int8_value: float
    max_score_diff: float
    n_test: int

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"measure": "file size int8 / float", "value": self.size_ratio},
            {"measure": f"speed int8 / float (batch {self.speed_batch})",
             "value": self.speed_ratio},
            {"measure": f"test {self.metric} float ({self.n_test} images)",
             "value": self.float_value},
            {"measure": f"test {self.metric} int8", "value": self.int8_value},
            {"measure": f"change in test {self.metric}",
             "value": self.int8_value - self.float_value},
            {"measure": "max |score int8 - score float|", "value": self.max_score_diff},
        ]


def _calibration_batches(paths: Sequence[Path], card: ModelCard) -> Iterator[np.ndarray]:
    loader = image_loader(input_size(card))
    for batch in iter_batches(list(paths), loader, batch_size=CALIBRATION_BATCH,
                              collate=stack_float32):
        if len(batch):
            yield batch.items


def quantize_file(float_path: Path, out_path: Path, calibration: Sequence[Path],
                  card: ModelCard) -> None:
    """Write the int8 QDQ model of `float_path` to `out_path` (not atomically: the caller
    passes a temporary path)."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    batches = _calibration_batches(calibration, card)

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(batches, None)
            return None if batch is None else {"images": batch}

    with tempfile.TemporaryDirectory(prefix="artkit-quant-") as scratch:
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        extra_options={"CalibTensorRangeSymmetric": False})
    if not out_path.exists() or out_path.stat().st_size == 0:
        raise ArtkitError("onnxruntime quantization wrote no model", out_path)


def images_per_second(session: Any, batch: np.ndarray, repeats: int = 3) -> float:
    """Best of `repeats` timed runs after one warm-up (the first run allocates)."""
    name = session.get_inputs()[0].name
    session.run(None, {name: batch})
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        session.run(None, {name: batch})
        best = min(best, time.perf_counter() - start)
    return len(batch) / best


def task_metric(card: ModelCard, scores: np.ndarray, targets: np.ndarray
                ) -> tuple[str, float]:
    """Accuracy (multi-class) or sample-averaged F2 with the stored decision rule."""
    if card.multilabel:
        from sklearn.metrics import fbeta_score

        decided = card.decision_rule().apply(scores)
        return "F2", float(fbeta_score(targets, decided, beta=2, average="samples",
                                       zero_division=0))
    return "accuracy", float(np.mean(np.argmax(scores, axis=1) == targets))
