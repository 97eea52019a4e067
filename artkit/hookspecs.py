"""The plugin contract: one registration hook per plugin kind, and one for commands.

A plugin module implements any of these with ``@artkit.hookimpl`` and calls `register` once
per object it provides. The objects follow the Protocols in :mod:`artkit.contracts`.
Built-in plugins (the repository's `plugins/` folder, installed as `artkit_plugins`) use
exactly these hooks and are found through the same ``artkit`` entry-point group as
third-party packages. `register_commands` gets the command line itself, so artkit's own
commands are added the same way (`artkit.cli.commands`); the core never imports the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from artkit.contracts import Register

if TYPE_CHECKING:
    import typer

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


@hookspec
def register_commands(cli: typer.Typer) -> None:
    """Add commands to the ``artkit`` command line: ``cli.command("name")(function)``, or a
    group of them with ``cli.add_typer(group, name="name")``.

    artkit's own commands are added through this hook too, before any plugin's; a name
    that is already taken is refused. Import heavy libraries inside the command function:
    every plugin adds its commands whenever ``artkit`` starts, ``artkit --help`` included."""
