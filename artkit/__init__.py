"""artkit: recognise artwork in images (classification, attribute tagging, painting detection).

The same API the ``artkit`` command line is built on::

    import artkit

    # score photos with an exported model (labels, preprocessing, thresholds inside the file)
    model = artkit.load("exported/bow-svm-1.onnx")
    for p in model.predict("photos/", batch_size=32):      # streamed, in input order
        print(p.path, p.status, p.labels, p.top)            # p.to_dict() for JSON

    # find paintings in photos of rooms (the bundled detector), crop and recognise them
    for d in artkit.detect("rooms/", crops="crops/", classify="exported/objects.onnx"):
        print(d.path, d.boxes, d.scores)

    # embeddings, search and near-duplicates with a run's backbone
    backbone = artkit.export(probe_run, "exported/backbone.onnx", embedding=True).path
    artkit.duplicates("photos/", model=backbone)

    # train, evaluate, tune, export
    run = artkit.train("bow-svm", data="my_collection/", vocab=1000)
    print(run.result().metrics)                             # test split
    run.evaluate(data="other_photos/")
    artkit.tune_thresholds(tagger_run)                      # a multi-label run
    artkit.export(run, "exported/mine.onnx")
    artkit.report(run)                                      # one HTML page: runs/.../report.html

Nothing is printed: pass ``progress=True`` for progress bars, or ``progress=callback`` to get
:class:`Event` objects. Failures raise :class:`ArtkitError` subclasses whose message is
one line naming the file and the problem. Plugin authors decorate hooks with
:data:`hookimpl` (see docs/plugins.md); docs/api.md has the full guide.
"""

# ruff: noqa: F401 - the TYPE_CHECKING block below re-exports for type checkers only

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from artkit.formats.versioned import ARTKIT_VERSION as __version__

#: Every public name and the module that defines it. `import artkit` loads none of them:
#: each is imported on first use (PEP 562), so the command line, which needs the version
#: and its own commands, starts without loading the whole API.
_EXPORTS: dict[str, str] = {
    "ArtkitError": "artkit.errors",
    "DataError": "artkit.errors",
    "ImageDecodeError": "artkit.errors",
    "PluginError": "artkit.errors",
    "DecisionRule": "artkit.decisions.rule",
    "Detection": "artkit.api.detect",
    "DetectResult": "artkit.api.detect",
    "detect": "artkit.api.detect",
    "evaluate_boxes": "artkit.api.detect",
    "evaluate_detections": "artkit.api.detect",
    "build_index": "artkit.api.embed",
    "duplicates": "artkit.api.embed",
    "embed": "artkit.api.embed",
    "read_embeddings": "artkit.api.embed",
    "read_local_features": "artkit.embeddings.local",
    "read_meta": "artkit.embeddings.local",
    "similar": "artkit.api.embed",
    "similar_sheet": "artkit.api.embed",
    "EmbedSummary": "artkit.api.embed",
    "SimilarResults": "artkit.api.embed",
    "Neighbours": "artkit.api.embed",
    "DuplicateGroups": "artkit.api.embed",
    "identify": "artkit.api.identify",
    "IdentifyResult": "artkit.api.identify",
    "PhotoIdentification": "artkit.api.identify",
    "Identified": "artkit.api.identify",
    "IdentifyRule": "artkit.identification.decide",
    "synth": "artkit.api.data",
    "data_info": "artkit.api.data",
    "SynthResult": "artkit.api.data",
    "DataInfo": "artkit.api.data",
    "benchmark": "artkit.api.benchmark",
    "BenchmarkResult": "artkit.api.benchmark",
    "Predictions": "artkit.api.model",
    "PredictSummary": "artkit.api.model",
    "Embedding": "artkit.api.model",
    "Model": "artkit.api.model",
    "Prediction": "artkit.api.model",
    "load": "artkit.api.model",
    "build_painting_detector": "artkit.api.painting_detector",
    "build_embedding_model": "artkit.api.embedding_model",
    "report": "artkit.api.report",
    "ThresholdReport": "artkit.api.thresholds",
    "tune_thresholds": "artkit.api.thresholds",
    "cross_validate": "artkit.api.train",
    "export": "artkit.api.train",
    "get_run": "artkit.api.train",
    "train": "artkit.api.train",
    "Event": "artkit.console",
    "EvalResult": "artkit.contracts",
    "ExportResult": "artkit.onnx_export.run_export",
    "ModelCard": "artkit.formats.model_card",
    "NotArtkitModelError": "artkit.formats.model_card",
    "RunConfig": "artkit.formats.run_config",
    "hookimpl": "artkit.hookspecs",
    "Run": "artkit.training.runs",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'artkit' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:  # what type checkers and IDEs see: the same names, imported eagerly
    from artkit.api.benchmark import BenchmarkResult, benchmark
    from artkit.api.data import DataInfo, SynthResult, data_info, synth
    from artkit.api.detect import (
        Detection,
        DetectResult,
        detect,
        evaluate_boxes,
        evaluate_detections,
    )
    from artkit.api.embed import (
        DuplicateGroups,
        EmbedSummary,
        Neighbours,
        SimilarResults,
        build_index,
        duplicates,
        embed,
        read_embeddings,
        similar,
        similar_sheet,
    )
    from artkit.api.embedding_model import build_embedding_model
    from artkit.api.identify import Identified, IdentifyResult, PhotoIdentification, identify
    from artkit.api.model import (
        Embedding,
        Model,
        Prediction,
        Predictions,
        PredictSummary,
        load,
    )
    from artkit.api.painting_detector import build_painting_detector
    from artkit.api.report import report
    from artkit.api.thresholds import ThresholdReport, tune_thresholds
    from artkit.api.train import cross_validate, export, get_run, train
    from artkit.console import Event
    from artkit.contracts import EvalResult
    from artkit.decisions.rule import DecisionRule
    from artkit.embeddings.local import read_local_features, read_meta
    from artkit.errors import ArtkitError, DataError, ImageDecodeError, PluginError
    from artkit.formats.model_card import ModelCard, NotArtkitModelError
    from artkit.formats.run_config import RunConfig
    from artkit.hookspecs import hookimpl
    from artkit.identification.decide import IdentifyRule
    from artkit.onnx_export.run_export import ExportResult
    from artkit.training.runs import Run
