"""`artkit.train(model, ...)`, `artkit.cross_validate(model, folds, ...)`,
`artkit.get_run(ref)` and `artkit.export(run, ...)`.

Training options are the model plugin's own (``vocab=1000`` for bow-svm, ``epochs=5`` for
the Keras networks): those not given take the plugin's declared defaults, as the CLI's
``artkit train MODEL --help`` shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from artkit import registry
from artkit.console import ProgressCallback, reporting
from artkit.data.splits import TEST_FRACTION, VAL_FRACTION
from artkit.errors import PluginError
from artkit.onnx_export.run_export import (
    CALIBRATION_IMAGES,
    CHECK_IMAGES,
    DEFAULT_OPSET,
    ExportResult,
    export_run,
)
from artkit.training.cross_validation import CrossValidation
from artkit.training.runs import Run, resolve_run


def model_options(model_name: str, given: dict[str, Any]) -> dict[str, Any]:
    """Every option of the model plugin: its defaults, overridden by `given` (checked)."""
    model = registry.get(registry.Kind.MODEL, model_name)
    specs = {spec.name: spec for spec in model.options}
    unknown = sorted(set(given) - set(specs))
    if unknown:
        raise PluginError(f"model '{model_name}' has no option(s) {', '.join(unknown)}",
                          hint="its options: " + (", ".join(specs) or "none"))
    for name, value in given.items():
        choices = specs[name].choices
        if choices and value is not None and value not in choices:
            raise PluginError(f"option {name} of model '{model_name}' must be one of "
                              f"{', '.join(choices)}, not {value!r}")
    return {name: given.get(name, spec.default) for name, spec in specs.items()}


def train(model: str, *, data: str | Path | None = None, format: str | None = None,
          task: str | None = None, name: str | None = None, seed: int = 0,
          test_fraction: float = TEST_FRACTION, val_fraction: float = VAL_FRACTION,
          min_class_images: int = 0, progress: bool | ProgressCallback | None = None,
          **options: Any) -> Run:
    """Train model plugin `model` and evaluate it on its test split; returns the run
    (``run.result()`` holds the test metrics). Without `data`, the built-in synthetic data
    set of the task (or the model's own default set) is used."""
    from artkit.training.trainer import train_model

    chosen = model_options(model, options)
    with reporting(progress):
        run, _ = train_model(model, options=chosen,
                             data=Path(data) if data is not None else None, format=format,
                             task=task, name=name, seed=seed, test_fraction=test_fraction,
                             val_fraction=val_fraction, min_class_images=min_class_images)
    return run


def cross_validate(model: str, folds: int = 5, *, data: str | Path | None = None,
                   format: str | None = None, task: str | None = None,
                   name: str | None = None, seed: int = 0, val_fraction: float = VAL_FRACTION,
                   min_class_images: int = 0,
                   progress: bool | ProgressCallback | None = None,
                   **options: Any) -> CrossValidation:
    """Train model plugin `model` once per fold of a `folds`-fold stratified split (each
    image tested once) and return the runs with the mean, std, min and max of every test
    metric over the folds (also saved as ``runs/<model>/<name>-cv.json``)."""
    from artkit.training.cross_validation import cross_validate as run_folds

    chosen = model_options(model, options)
    with reporting(progress):
        return run_folds(model, chosen, folds,
                         data=Path(data) if data is not None else None, format=format,
                         task=task, name=name, seed=seed, val_fraction=val_fraction,
                         min_class_images=min_class_images)


def get_run(ref: str | Path | Run | None = None, model: str | None = None) -> Run:
    """A run from a folder, ``MODEL/N``, or (None) the most recent finished run (of
    `model`, when given)."""
    return ref if isinstance(ref, Run) else resolve_run(ref, model=model)


def export(run: str | Path | Run | None = None, output: str | Path | None = None, *,
           opset: int = DEFAULT_OPSET, quantize: str | None = None,
           check_images: int = CHECK_IMAGES, calibration_images: int = CALIBRATION_IMAGES,
           embedding: bool = False,
           progress: bool | ProgressCallback | None = None) -> ExportResult:
    """Export a finished run to one self-describing ONNX file (self-checked against the
    original model on test images; nothing is written if they differ). With
    ``quantize="int8"`` the file at `output` is the int8 model. With ``embedding=True``
    only the run's backbone is exported, as an embedding model for :func:`artkit.embed`,
    :func:`artkit.similar` and :func:`artkit.duplicates` (linear-probe and knn runs)."""
    with reporting(progress):
        return export_run(get_run(run), output=Path(output) if output is not None else None,
                          opset=opset, quantize=quantize, check_images=check_images,
                          calibration_images=calibration_images, embedding=embedding)
