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

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("artkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+src"

from artkit.api.detect import Detection, detect, evaluate_detections  # noqa: E402
from artkit.api.embed import (  # noqa: E402
    build_index,
    duplicates,
    embed,
    read_embeddings,
    similar,
    similar_sheet,
)
from artkit.api.model import Embedding, Model, Prediction, load  # noqa: E402
from artkit.api.painting_detector import build_painting_detector  # noqa: E402
from artkit.api.report import report  # noqa: E402
from artkit.api.thresholds import ThresholdReport, tune_thresholds  # noqa: E402
from artkit.api.train import cross_validate, export, get_run, train  # noqa: E402
from artkit.console import Event  # noqa: E402
from artkit.contracts import EvalResult  # noqa: E402
from artkit.decisions.rule import DecisionRule  # noqa: E402
from artkit.errors import (  # noqa: E402
    ArtkitError,
    DataError,
    ImageDecodeError,
    PluginError,
)
from artkit.export.run_export import ExportResult  # noqa: E402
from artkit.formats.model_card import ModelCard, NotArtkitModelError  # noqa: E402
from artkit.formats.run_config import RunConfig  # noqa: E402
from artkit.hookspecs import hookimpl  # noqa: E402
from artkit.training.runs import Run  # noqa: E402

__all__ = [
    "__version__", "ArtkitError", "DataError", "DecisionRule", "Detection", "Embedding",
    "EvalResult", "Event", "ExportResult", "ImageDecodeError", "Model", "ModelCard",
    "NotArtkitModelError", "PluginError", "Prediction", "Run", "RunConfig", "ThresholdReport",
    "build_index", "build_painting_detector", "cross_validate", "detect", "duplicates", "embed",
    "evaluate_detections", "export", "get_run", "hookimpl", "load", "read_embeddings", "report",
    "similar", "similar_sheet", "train", "tune_thresholds",
]
