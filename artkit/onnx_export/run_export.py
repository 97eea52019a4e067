"""Export one trained run: the plugin's graph, artkit's metadata, the self-check, the
atomic write, and optionally int8 quantization (the named file is then the int8 model, and
the float model it was quantized from is kept beside it as ``X.float.onnx``).

The model plugin only builds the graph (``export_onnx(run, opset)``); everything every
model shares happens here, so each plugin gets the same guarantees: the file is written
only after onnxruntime has reproduced the original model on the run's own test images,
and an interruption at any point leaves no ``.onnx`` behind.
"""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from artkit import registry
from artkit.atomic import atomic_path
from artkit.console import info
from artkit.contracts import OnnxGraph, capability
from artkit.data.dataset import Dataset
from artkit.data.splits import Split
from artkit.errors import ArtkitError
from artkit.formats.model_card import EMBEDDING_TASK, ModelCard
from artkit.onnx_export.quantize import QuantizeReport
from artkit.onnx_export.selfcheck import CheckResult, self_check
from artkit.training.evaluation import run_dataset
from artkit.training.runs import Run

DEFAULT_OPSET = 17
CHECK_IMAGES = 16
CALIBRATION_IMAGES = 64
#: Exported files are meant to be shipped: readable by all (temporary files start as 0600).
SHARED_FILE_MODE = 0o644
#: The output of an embedding model (``--embedding``): (N, D) pooled backbone features.
EMBEDDING_OUTPUT = "embedding"


@dataclass
class ExportResult:
    path: Path
    card: ModelCard
    check: CheckResult
    int8: QuantizeReport | None = None
    float_path: Path | None = None
    """With int8 quantization: the float model it was quantized from (`path` is the int8)."""


def default_output(run: Run, embedding: bool = False) -> Path:
    return Path("exported") / f"{run.name}{'.embedding' if embedding else ''}.onnx"


def float_path(path: Path) -> Path:
    """Where an int8 export keeps its float model: ``exported/x.onnx`` ->
    ``exported/x.float.onnx``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.float{path.suffix or '.onnx'}")


def build_card(run: Run, graph: OnnxGraph, session: Any, opset: int,
               embedding: bool = False) -> ModelCard:
    config = run.config
    prep = graph.preprocessing
    image = graph.input_kind == "image"
    if embedding:  # the backbone alone: no labels, no decision rule, no head metrics
        dim = session.get_outputs()[0].shape[-1]
        return ModelCard(
            model=config.model, options=config.options, task=EMBEDDING_TASK, labels=[],
            input_kind=graph.input_kind, preprocessing=prep, outputs=[EMBEDDING_OUTPUT],
            run=run.name, opset=opset, embedding_dim=int(dim),
            exported_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            input_size=tuple(int(v) for v in prep["size"]))  # type: ignore[arg-type]
    return ModelCard(
        model=config.model, options=config.options, task=config.task,
        labels=list(config.labels), input_kind=graph.input_kind, preprocessing=prep,
        outputs=sorted(o.name for o in session.get_outputs()),
        test_metrics=(run.metrics or {}).get("metrics", {}), run=run.name, opset=opset,
        exported_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        decision=config.decision_rule(),
        input_size=tuple(int(v) for v in prep["size"]) if image else None,  # type: ignore
        colour_order=prep.get("colour_order", "RGB") if image else "RGB")


def _dataset_and_split(run: Run) -> tuple[Dataset, Split]:
    try:
        return run_dataset(run)
    except ArtkitError as exc:
        raise ArtkitError(f"cannot read the run's data set for the self-check: {exc}",
                          run.dir) from None


def export_run(run: Run, output: Path | None = None, opset: int = DEFAULT_OPSET,
               quantize: str | None = None, check_images: int = CHECK_IMAGES,
               calibration_images: int = CALIBRATION_IMAGES,
               embedding: bool = False) -> ExportResult:
    """Export `run`; with `embedding`, only its backbone, as an embedding model (output
    ``embedding``, card task ``embedding``; see the ``export_embedding_onnx`` capability)."""
    import onnx

    from artkit.runtime.session import create_session

    config = run.config
    run.check_finished()
    model = registry.get(registry.Kind.MODEL, config.model)
    exporter = "export_embedding_onnx" if embedding else "export_onnx"
    if not callable(capability(model, exporter)):
        raise ArtkitError(f"model '{config.model}' cannot export to ONNX"
                          + (" as an embedding model" if embedding else "")
                          + f" (its plugin has no {exporter})")
    if embedding and quantize:
        raise ArtkitError("--quantize is not offered with --embedding")
    dataset, split = _dataset_and_split(run)
    info(f"building the ONNX graph of {run.dir} (opset {opset})"
         + (", the backbone as an embedding model" if embedding else ""))
    with warnings.catch_warnings():
        # The plugin's converter and its framework (tf2onnx, Keras) warn about their own
        # internals; an export prints nothing: what matters is in the self-check.
        warnings.simplefilter("ignore")
        graph: OnnxGraph = getattr(model, exporter)(run, opset)
        if quantize and not graph.quantizable:
            raise ArtkitError(f"--quantize {quantize} is not offered for '{config.model}': "
                              "its graph would not get faster or smaller (export without "
                              "--quantize)")
        session = create_session(graph.model.SerializeToString(), device="cpu")
        card = build_card(run, graph, session, opset, embedding)
        check_paths = [dataset.paths[i]
                       for i in (split.test if len(split.test) else split.val)]
        info(f"self-check on {min(check_images, len(check_paths))} test images")
        check = self_check(graph, session, card, check_paths[:check_images])
    card.self_check = {"n_images": check.n_images, "max_abs_diff": check.max_abs_diff}
    card.embed(graph.model)
    path = Path(output) if output is not None else default_output(run, embedding)
    result = ExportResult(path=path, card=card, check=check)
    # With --quantize the named file is the int8 model and the float one goes beside it;
    # both are complete temporary files before either is moved into place.
    with atomic_path(float_path(path) if quantize else path) as tmp:
        onnx.save(graph.model, str(tmp))
        tmp.chmod(SHARED_FILE_MODE)
        if quantize:
            result.float_path = float_path(path)
            result.int8 = _quantize(tmp, path, card, dataset, split, calibration_images)
    return result


def _quantize(float_file: Path, out: Path, card: ModelCard, dataset: Dataset, split: Split,
              calibration_images: int) -> QuantizeReport:
    """Quantize the (temporary) float model `float_file` to int8 at `out`, atomically; the
    int8 metadata names the float model by its final name, `float_path(out)`."""
    import onnx

    from artkit.onnx_export.quantize import images_per_second, quantize_file, task_metric
    from artkit.runtime.scoring import score_batches
    from artkit.runtime.session import create_session

    train = [dataset.paths[i] for i in split.train]
    step = max(1, len(train) // max(1, calibration_images))
    calibration = train[::step][:calibration_images]
    info(f"int8 quantization (static QDQ) calibrated on {len(calibration)} training images")
    with atomic_path(out) as tmp:
        quantize_file(float_file, tmp, calibration, card)
        sessions = {kind: create_session(p, device="cpu")
                    for kind, p in (("float", float_file), ("int8", tmp))}
        test_paths = [dataset.paths[i] for i in split.test]
        scores: dict[str, list[np.ndarray]] = {"float": [], "int8": []}
        kept: list[int] = []
        speed_batch: np.ndarray | None = None
        for kind, session in sessions.items():
            for scored in score_batches(session, card, test_paths, batch_size=32):
                scores[kind].append(scored.outputs["scores"])
                if kind == "float":
                    kept += scored.batch.indices
                    if speed_batch is None or len(scored.batch) > len(speed_batch):
                        speed_batch = scored.batch.items
        if not kept or speed_batch is None:
            raise ArtkitError("no test image could be read to measure the int8 model")
        float_scores, int8_scores = (np.concatenate(scores[k]) for k in ("float", "int8"))
        targets = dataset.targets[split.test][kept]
        metric, float_value = task_metric(card, float_scores, targets)
        _, int8_value = task_metric(card, int8_scores, targets)
        speed = (images_per_second(sessions["int8"], speed_batch)
                 / images_per_second(sessions["float"], speed_batch))
        report = QuantizeReport(
            path=out, size_ratio=tmp.stat().st_size / float_file.stat().st_size,
            speed_ratio=speed, speed_batch=len(speed_batch), metric=metric,
            float_value=float_value, int8_value=int8_value,
            max_score_diff=float(np.max(np.abs(int8_scores - float_scores))),
            n_test=len(kept))
        quantized = onnx.load(str(tmp))
        card.replace(quantization={
            "method": "static QDQ int8 (per-channel weights, uint8 activations)",
            "calibration_images": len(calibration), "float_model": float_path(out).name,
            "size_ratio": report.size_ratio, "speed_ratio": report.speed_ratio,
            f"test_{metric}_float": float_value, f"test_{metric}_int8": int8_value,
        }).embed(quantized)
        onnx.save(quantized, str(tmp))
        tmp.chmod(SHARED_FILE_MODE)
    return report
