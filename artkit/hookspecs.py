"""The plugin contract: one registration hook per plugin kind.

A plugin module implements any of these with ``@artkit.hookimpl`` and calls `register` once
per object it provides. The objects follow the Protocols in :mod:`artkit.contracts`.
Built-in plugins (the repository's `plugins/` folder, installed as `artkit_plugins`) use
exactly these hooks and are found through the same ``artkit`` entry-point group as
third-party packages.
"""

from __future__ import annotations

import pluggy

from artkit.contracts import Register

hookspec = pluggy.HookspecMarker("artkit")
hookimpl = pluggy.HookimplMarker("artkit")


@hookspec
def register_models(register: Register) -> None:
    """Register model plugins (:class:`~artkit.contracts.ModelPlugin`): ``register(model)``.

    Each model needs a unique `name` (the word after ``artkit train``), the `tasks` it can
    train, its CLI `options`, and `train` / `load` methods."""


@hookspec
def register_feature_extractors(register: Register) -> None:
    """Register local-descriptor extractors (:class:`~artkit.contracts.FeatureExtractor`):
    ``register(extractor)``. Used by bag-of-visual-words models through ``--features NAME``."""


@hookspec
def register_evaluators(register: Register) -> None:
    """Register evaluators (:class:`~artkit.contracts.Evaluator`): ``register(evaluator)``.

    The evaluator whose `task` matches a run's task scores it after training and in
    ``artkit evaluate``."""


@hookspec
def register_dataset_readers(register: Register) -> None:
    """Register data set readers (:class:`~artkit.contracts.DatasetReader`):
    ``register(reader)``. ``--data PATH`` asks each reader's `can_read`; ``--format NAME``
    picks one by name."""


@hookspec
def register_detection_methods(register: Register) -> None:
    """Register painting-detection methods (:class:`~artkit.contracts.DetectionMethod`):
    ``register(method)``. ``artkit detect --method NAME`` picks one."""
