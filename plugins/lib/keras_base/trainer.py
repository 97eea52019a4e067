"""One Keras training, start to finish: data, network, fit with the callbacks, artefacts.

The run folder ends up holding ``history.csv``, ``curves.png``, ``checkpoint.keras``
(model + optimizer after the last epoch, for ``--resume``), ``train_state.json`` and
``model.weights.h5`` (the best epoch's weights, which `load` and the ONNX export use).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from artkit.console import info, warn
from artkit.contracts import TrainContext
from artkit.errors import ArtkitError
from artkit.training.runs import Run, resolve_run
from artkit_plugins.lib.keras_base.options import TRAINING_OPTIONS

if TYPE_CHECKING:  # pragma: no cover
    from artkit_plugins.lib.keras_base.plugin import KerasModelPlugin

WEIGHTS = "model.weights.h5"
CURVES = "curves.png"
DEFAULT_EPOCHS = next(o.default for o in TRAINING_OPTIONS if o.name == "epochs")
#: Options a resumed run may change; all others come from the interrupted run.
RESUME_OVERRIDES = ("epochs", "resume", "strategy")


def one_hot(dataset_targets: np.ndarray, task: str, n_labels: int) -> np.ndarray:
    if task == "multilabel":
        return dataset_targets.astype(np.float32)
    return np.eye(n_labels, dtype=np.float32)[dataset_targets]


def balanced_weights(targets: np.ndarray, task: str, n_labels: int) -> np.ndarray:
    """Per-image weights n / (k * count): class (multi-class) or mean over the image's
    labels (multi-label; an image without labels keeps 1). Same as scikit-learn's
    ``compute_class_weight("balanced")`` for multi-class."""
    if task == "multiclass":
        counts = np.bincount(targets, minlength=n_labels).astype(np.float64)
        present = counts > 0
        per_class = np.zeros(n_labels)
        per_class[present] = len(targets) / (present.sum() * counts[present])
        return per_class[targets].astype(np.float32)
    counts = targets.sum(axis=0).astype(np.float64)
    present = counts > 0
    per_label = np.zeros(n_labels)
    per_label[present] = len(targets) / (present.sum() * counts[present])
    positives = targets.sum(axis=1)
    summed = targets @ per_label
    return np.where(positives > 0, summed / np.maximum(positives, 1), 1.0).astype(np.float32)


def resume_command(ctx: TrainContext, run: Run, model_name: str) -> str:
    """The command line that continues `run` on the same images."""
    config = run.config
    data = ctx.dataset.extra.get("csv") or str(ctx.dataset.root)
    parts = ["artkit", "train", model_name, "--data", data, "--format", ctx.dataset.reader,
             "--seed", str(config.seed), "--test-fraction", str(config.test_fraction),
             "--val-fraction", str(config.val_fraction)]
    if config.min_class_images:
        parts += ["--min-class-images", str(config.min_class_images)]
    return shlex.join([*parts, "--resume", str(run.dir)])


def _prepare_resume(plugin: KerasModelPlugin, ctx: TrainContext,
                    options: dict[str, Any]) -> tuple[Run, dict[str, Any], dict[str, Any]]:
    """Check the interrupted run matches, adopt its options, copy its history.

    Returns (old run, merged options, its training state)."""
    old = resolve_run(options["resume"])
    old_config = old.config
    command = resume_command(ctx, old, plugin.name)
    if old_config.model != plugin.name:
        raise ArtkitError(f"this is a {old_config.model} run, not {plugin.name}",
                          old.dir)
    from artkit_plugins.lib.keras_base.callbacks import BEST_WEIGHTS, CHECKPOINT, STATE

    if not old.path(CHECKPOINT).exists() or not old.path(STATE).exists():
        raise ArtkitError("no checkpoint to resume from (no epoch finished)", old.dir)
    if old.read_json("split.json") != ctx.run.read_json("split.json") or \
            old_config.labels != ctx.dataset.labels:
        raise ArtkitError("--resume must train on the same images as the interrupted run "
                          "(same data, seed and fractions)", old.dir, hint=command)
    state = old.read_json(STATE)
    given = {k: options[k] for k in RESUME_OVERRIDES if k in options}
    merged = {**old_config.options, **given}
    # --epochs left at its default keeps the interrupted run's; another value is the new total
    if int(options["epochs"]) == DEFAULT_EPOCHS:
        merged["epochs"] = int(old_config.options["epochs"])
    for row in old.history()[:state["epochs_done"]]:
        ctx.run.append_history(row)
    if old.path(BEST_WEIGHTS).exists():
        shutil.copyfile(old.path(BEST_WEIGHTS), ctx.run.path(BEST_WEIGHTS))
    ctx.run.update_config(options=merged, resumed_from=str(old.dir))
    info(f"resuming {old.dir} after epoch {state['epochs_done']} "
         f"(up to {merged['epochs']} epochs)")
    return old, merged, state


def train_keras(plugin: KerasModelPlugin, ctx: TrainContext) -> None:
    import keras

    from artkit_plugins.lib.keras_base.augment import balance_plan
    from artkit_plugins.lib.keras_base.callbacks import (
        CHECKPOINT,
        EpochRecorder,
        LiveProgress,
        ResumableEarlyStopping,
    )
    from artkit_plugins.lib.keras_base.curves import plot_curves
    from artkit_plugins.lib.keras_base.distribute import (
        check_global_batch,
        distributable,
        make_strategy,
    )
    from artkit_plugins.lib.keras_base.metrics import compile_model
    from artkit_plugins.lib.keras_base.pipeline import (
        SkippedImages,
        make_dataset,
        save_augmented_examples,
    )

    options = dict(ctx.options)
    old_run, state = None, None
    if options.get("resume"):
        old_run, options, state = _prepare_resume(plugin, ctx, options)
    # First TensorFlow call: a multi-worker strategy must start before the runtime does.
    strategy = make_strategy(options.get("strategy", "auto"))
    check_global_batch(options["batch_size"], strategy)
    size = plugin.check_input_size(options["input_size"])
    dataset, task, labels = ctx.dataset, ctx.dataset.task, ctx.dataset.labels
    if len(ctx.val_idx) == 0:
        raise ArtkitError("a Keras training needs a validation split (--val-fraction > 0) "
                          "for early stopping", dataset.root)
    keras.utils.set_random_seed(ctx.seed)
    rng = np.random.default_rng(ctx.seed)

    train_targets = dataset.targets[ctx.train_idx]
    extras = balance_plan(train_targets, task, options["augment_to"], rng)
    rows = np.concatenate([np.arange(len(ctx.train_idx)), extras]).astype(np.int64)
    train_paths = [dataset.paths[ctx.train_idx[i]] for i in rows]
    # the rows after the training images are the copies, transformed afresh each epoch
    copies = np.arange(len(rows)) >= len(ctx.train_idx)
    weights = None
    if options["class_weight"] == "balanced":
        weights = balanced_weights(train_targets, task, len(labels))[rows]
    if options.get("save_augmented") and len(extras):
        written = save_augmented_examples([dataset.paths[ctx.train_idx[i]] for i in extras],
                                          size, options["save_augmented"])
        info(f"wrote {written} augmented examples to {options['save_augmented']}")

    skipped = SkippedImages()
    batch = options["batch_size"]
    train_data = distributable(make_dataset(
        train_paths, one_hot(dataset.targets[ctx.train_idx[rows]], task, len(labels)), size,
        batch, weights=weights, augment=copies,
        shuffle_seed=ctx.seed, cache_dir=ctx.run.path("tfdata-cache"), skipped=skipped))
    val_data = distributable(make_dataset(
        [dataset.paths[i] for i in ctx.val_idx],
        one_hot(dataset.targets[ctx.val_idx], task, len(labels)), size, batch,
        skipped=skipped))

    with strategy.scope():  # variables and optimizer slots live on every replica
        if old_run is not None:
            model = keras.saving.load_model(old_run.path(CHECKPOINT))
        else:
            model = plugin.build_network(len(labels), task, size, options)
            compile_model(model, task, len(labels), options)

    initial_epoch = state["epochs_done"] if state else 0
    early = None
    if options["patience"] > 0:
        early = ResumableEarlyStopping(options["patience"], ctx.run,
                                       restore=state.get("early_stopping") if state else None)
    recorder = EpochRecorder(ctx.run, early)
    steps = max(len(rows) // batch, 1)  # the last partial batch is dropped
    callbacks: list[Any] = [c for c in (early, recorder) if c is not None]
    progress = LiveProgress(options["epochs"], initial_epoch, steps, batch)
    callbacks.append(progress)
    if options["tensorboard"]:
        if importlib.util.find_spec("tensorboard") is None:
            raise ArtkitError("--tensorboard needs the tensorboard package",
                              hint="pip install 'artkit[tensorboard]'")
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(ctx.run.path("tensorboard"))))

    info(f"training {plugin.name} ({task}, {len(labels)} labels) at {size}x{size} px on "
         f"{len(ctx.train_idx)} images" + (f" + {len(extras)} augmented copies"
                                           if len(extras) else ""))
    try:
        fit(model, train_data, val_data, epochs=options["epochs"], initial_epoch=initial_epoch,
            callbacks=callbacks)
    except KeyboardInterrupt:
        progress.progress.stop()
        done = recorder.epochs_done or initial_epoch
        if done:
            warn(f"stopped after epoch {done}; the checkpoint of that epoch is saved in "
                 f"{ctx.run.dir}. Resume with:\n  {resume_command(ctx, ctx.run, plugin.name)}")
        else:
            warn("stopped before the first epoch ended: nothing to resume")
        raise
    finally:
        shutil.rmtree(ctx.run.path("tfdata-cache"), ignore_errors=True)

    if skipped.reasons:
        warn(f"skipped {len(skipped.reasons)} image(s) that do not decode:")
        for path, reason in sorted(skipped.reasons.items()):
            warn(f"  {path}: {reason}")
    save_weights_atomic(model, ctx.run.path(WEIGHTS))
    history = ctx.run.history()
    plot_curves(history, ctx.run.path(CURVES), f"{plugin.name} — {ctx.run.name}")
    best_epoch = (early.best_epoch + 1) if early is not None else len(history)
    ctx.run.update_config(
        input_size=size, cam_layers=plugin.cam_layers(options),
        training={"epochs_run": len(history), "best_epoch": best_epoch,
                  "stopped_early": bool(early is not None and early.stopped_epoch > 0),
                  "augmented_copies": int(len(extras)),
                  "skipped_images": sorted(skipped.reasons)})


def fit(model: Any, train_data: Any, val_data: Any, *, epochs: int, initial_epoch: int,
        callbacks: list[Any]) -> None:
    """`model.fit` on the data of :func:`make_dataset` (already shuffled: Keras's own
    `shuffle` does not apply to a ``tf.data`` set)."""
    with warnings.catch_warnings():
        # The validation images' count is unknown until a pass ends (broken ones are
        # dropped), which Keras reports after every validation pass; that is expected here.
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        model.fit(train_data, validation_data=val_data, epochs=epochs,
                  initial_epoch=initial_epoch, shuffle=False, callbacks=callbacks, verbose=0)


def save_weights_atomic(model: Any, path: Path) -> None:
    """`model.save_weights` insists on a ``.weights.h5`` name, so the temporary file keeps
    that ending; it is moved into place only when complete."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part.weights.h5")
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
