"""The SVM pipeline on disk: a skops file, loaded only if it holds what artkit writes.

A pickle (joblib) runs code when it is loaded, so a run folder from someone else could run
theirs. ``svm.skops`` (``skops.io``) stores the object tree instead and builds it back from
types it is allowed to build. skops trusts plain data, numpy arrays and scikit-learn's public
estimators by itself; the other types in artkit's pipeline (scikit-learn internals such as
the calibrators) are allowed because a reference pipeline, built the way `fit_svm` builds the
real one, holds them. Any other type in the file is refused before anything is built.

Run folders of artkit 0.1 hold ``svm.joblib``; it is loaded only with ``ARTKIT_TRUST_PICKLES=1``.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from artkit.errors import ArtkitError

MODEL_FILE = "svm.skops"
PICKLE_FILE = "svm.joblib"  # artkit 0.1
TRUST_PICKLES = "ARTKIT_TRUST_PICKLES"


def save_model(model: Any, path: str | Path) -> Path:
    """Write `model` to `path` (a skops file), atomically."""
    import skops.io as sio

    from artkit import atomic

    with atomic.atomic_path(path) as tmp:
        sio.dump(model, tmp)
    return Path(path)


@functools.lru_cache(maxsize=1)
def expected_types() -> frozenset[str]:
    """The type names that skops does not trust by itself but artkit's own pipeline holds:
    those of tiny reference pipelines built like the real one (both class weightings, a
    named and a numeric gamma), for the installed scikit-learn and skops."""
    import numpy as np
    import skops.io as sio

    from artkit_plugins.lib.bow.svm import build_pipeline

    rng = np.random.default_rng(0)
    features = rng.normal(size=(12, 3)).astype(np.float32)
    targets = np.repeat(np.arange(3), 4)
    found: set[str] = set()
    for class_weight, gamma in ((None, "scale"), ("balanced", 0.5)):
        model = build_pipeline(class_weight, seed=0, c=1.0, gamma=gamma, folds=2, workers=1)
        model.fit(features, targets)
        found.update(sio.get_untrusted_types(data=sio.dumps(model)))
    return frozenset(found)


def load_model(run_dir: Path) -> Any:
    """The fitted pipeline of a bow-svm run folder; an `ArtkitError` for a file that holds
    anything artkit does not write, and for an artkit 0.1 pickle unless the user opted in."""
    path = Path(run_dir) / MODEL_FILE
    if path.exists():
        return _load_skops(path)
    legacy = Path(run_dir) / PICKLE_FILE
    if legacy.exists():
        return _load_pickle(legacy)
    raise ArtkitError(f"not a finished bow-svm run (missing {MODEL_FILE})", run_dir)


def _load_skops(path: Path) -> Any:
    import zipfile

    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ArtkitError(f"not a readable skops file ({type(exc).__name__}: {exc})",
                          path) from None
    unexpected = sorted(set(untrusted) - expected_types())
    if unexpected:
        raise ArtkitError(
            f"refused: holds types that artkit never writes ({', '.join(unexpected)}); "
            "loading them could run code", path,
            hint="retrain the model, or use an exported .onnx file")
    try:
        model = sio.load(path, trusted=list(untrusted))
    except Exception as exc:  # skops raises many kinds for damaged trees
        raise ArtkitError(f"not a loadable skops file ({type(exc).__name__}: {exc})",
                          path) from None
    _check_shape(model, path)
    return model


def _check_shape(model: Any, path: Path) -> None:
    """The loaded object is artkit's pipeline: scaler, then calibrated classifier."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = getattr(model, "steps", None) if isinstance(model, Pipeline) else None
    if (not steps or len(steps) != 2 or not isinstance(steps[0][1], StandardScaler)
            or not isinstance(steps[1][1], CalibratedClassifierCV)):
        raise ArtkitError("not a bow-svm model (expected StandardScaler -> "
                          "CalibratedClassifierCV)", path)


def _load_pickle(path: Path) -> Any:
    if os.environ.get(TRUST_PICKLES) != "1":
        raise ArtkitError(
            "an artkit 0.1 pickle, not loaded: a pickle can run any code when it is loaded",
            path,
            hint=f"retrain with `artkit train bow-svm ...`, or, only if you trust this run "
                 f"folder, set {TRUST_PICKLES}=1")
    import joblib

    from artkit.console import warn

    warn(f"{path}: loading a pickle because {TRUST_PICKLES}=1")
    return joblib.load(path)
