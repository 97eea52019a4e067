"""`artkit train MODEL`: one subcommand per model plugin, with that plugin's own options.

The options of each subcommand are generated from the plugin's `options` (a list of
:class:`~artkit.contracts.OptionSpec`) plus the options every training shares, so
``artkit train bow-svm --help`` shows ``--vocab`` without the core knowing bow-svm.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import typer

from artkit import registry
from artkit.api.train import cross_validate, train
from artkit.cli.common import apply_quiet, new_app, print_report_hint, typer_parameter
from artkit.cli.options import QuietOption
from artkit.cli.results import print_eval_result
from artkit.console import print_table
from artkit.contracts import OptionSpec
from artkit.errors import PluginError

#: The defaults of :func:`artkit.train`, which the shared options show and pass on.
TRAIN_DEFAULTS = {name: p.default for name, p in inspect.signature(train).parameters.items()}

CORE_OPTIONS: list[OptionSpec] = [
    OptionSpec("data", Path, None, "Data set folder (class folders, iMet csv, single-label "
               "csv); default: the built-in synthetic data set for the task."),
    OptionSpec("format", str, None, "Force a data set reader by name (see `artkit plugins`)."),
    OptionSpec("task", str, None, "multiclass or multilabel; default: what the data set is.",
               choices=("multiclass", "multilabel")),
    OptionSpec("name", str, None, "Run folder name under runs/MODEL/ (default: next number)."),
    OptionSpec("seed", int, TRAIN_DEFAULTS["seed"], "Seed of the split and of the training."),
    OptionSpec("test_fraction", float, TRAIN_DEFAULTS["test_fraction"],
               "Share of the images held out for test."),
    OptionSpec("val_fraction", float, TRAIN_DEFAULTS["val_fraction"],
               "Share of the remaining images used for validation."),
    OptionSpec("min_class_images", int, TRAIN_DEFAULTS["min_class_images"],
               "Leave out classes (attributes) with fewer images than this, with a warning "
               "naming them (0: keep all)."),
    OptionSpec("cv", int, 0, "K-fold stratified cross-validation: train K runs (NAME-foldK), "
               "each tested on its own fold, and report the mean and spread of the metrics "
               "(0: one train/val/test split)."),
]
QUIET = inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False,
                          annotation=QuietOption)


def build_command(specs: list[OptionSpec], body, doc: str):
    """A function with a generated signature that Typer turns into a command: the options
    of `specs`, then the shared ``--quiet``."""
    names = [s.name for s in specs]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise PluginError(f"option(s) {', '.join(sorted(duplicates))} declared twice")

    def command(**kwargs: Any) -> None:
        body(kwargs)

    parameters = [*(typer_parameter(s) for s in specs), QUIET]
    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = doc
    return command


def make_train_command(model: Any):
    core_names = {s.name for s in CORE_OPTIONS}
    clash = (core_names | {QUIET.name}) & {s.name for s in model.options}
    if clash:
        raise PluginError(f"model '{model.name}' redefines core option(s) {sorted(clash)}")

    def body(values: dict[str, Any]) -> None:
        apply_quiet(values.pop("quiet"))
        core = {k: values.pop(k) for k in list(values) if k in core_names}
        folds = core.pop("cv")
        if folds:
            core.pop("test_fraction")
            cv = cross_validate(model.name, folds, **core, **values)
            print_table(f"{model.name} — {folds}-fold cross-validation ({cv.path})", cv.rows())
            return
        run = train(model.name, **core, **values)
        print_eval_result(f"{model.name} — test split ({run.dir})", run.result())
        print_report_hint(run.dir)

    doc = f"{model.description}\n\nTasks: {', '.join(model.tasks)}."
    return build_command(list(CORE_OPTIONS) + list(model.options), body, doc)


def register(app: typer.Typer) -> None:
    train_app = new_app("Train a model plugin: `artkit train MODEL --help` shows its options.")
    for name, info in sorted(registry.of_kind(registry.Kind.MODEL).items()):
        first_line = (info.description or name).splitlines()[0]
        train_app.command(name, help=None, short_help=first_line)(make_train_command(info.obj))
    app.add_typer(train_app, name="train")
