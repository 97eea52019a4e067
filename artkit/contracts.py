"""The contracts between artkit's core and its plugins.

Core code talks to plugins only through these types; it never names a model, feature
extractor, evaluator, reader or detection method. A plugin object needs the attributes and
methods of the matching Protocol (duck typing: no base class to inherit).

Plugins must import heavy libraries (TensorFlow, scikit-learn, ...) inside their methods,
not at module level: every plugin module is imported to list plugins, and `artkit predict`
must start without TensorFlow.

Optional capabilities (an attribute or method a plugin may leave out) are declared once, in
:data:`OPTIONAL`, with the value that stands for "left out"; each Protocol's docstring
describes its own (a test checks that they agree with :data:`OPTIONAL`, and that
docs/plugins.md does). The core reads them only through :func:`capability`, never with
``getattr``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from artkit.errors import PluginError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from artkit.data.dataset import Dataset
    from artkit.training.runs import Run

Task = Literal["multiclass", "multilabel", "detection"]


@dataclass(frozen=True)
class OptionSpec:
    """One command-line option that a plugin contributes (e.g. ``--vocab`` for bow-svm).

    `name` is the Python name (``vocab``); the flag is ``--vocab``, with underscores turned into
    dashes. `type` is one of str, int, float, bool (a ``--x/--no-x`` flag) or Path. `choices`
    restricts a str option. The core turns these into Typer options, so
    ``artkit train MODEL --help`` shows them without the core knowing the model."""

    name: str
    type: type
    default: Any
    help: str
    choices: Sequence[str] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


@dataclass
class TrainContext:
    """Everything a model plugin needs to train one run.

    `train_idx`, `val_idx`, `test_idx` index into `dataset.paths` / `dataset.targets`.
    The plugin writes its artefacts with `run.path(...)` / `run.write_*` and appends one
    dict per epoch to the history with `run.append_history`."""

    dataset: Dataset
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray
    run: Run
    options: dict[str, Any]
    seed: int


@runtime_checkable
class Predictor(Protocol):
    """A trained model loaded for scoring images."""

    labels: list[str]

    def predict_paths(self, paths: Sequence[Path]) -> np.ndarray:
        """Scores, shape (n, n_labels): class probabilities (multiclass) or per-label
        probabilities (multilabel), in the order of `paths`."""


@runtime_checkable
class ModelPlugin(Protocol):
    """A trainable model: ``artkit train NAME``.

    Optional capabilities (declared in :data:`OPTIONAL`, read with :func:`capability`; the
    default stands for "absent"):

    - ``default_data: str | None = None``: the built-in synthetic set (a task of
      ``artkit data synth``, e.g. ``"painting-sculpture"``) to train on when neither
      ``--data`` nor ``--task`` is given. None: the model's first task.
    - ``export_onnx: Callable[[Run, int], OnnxGraph] | None = None``: ``export_onnx(run,
      opset)`` builds the ONNX graph of a trained run (see :class:`OnnxGraph`). Without it,
      ``artkit export onnx`` refuses the run, and ``artkit predict`` / ``artkit detect``
      cannot use the model.
    - ``export_embedding_onnx: Callable[[Run, int], OnnxGraph] | None = None``: the run's
      backbone alone, one output ``embedding`` (N, D) (``artkit export onnx --embedding``,
      for ``artkit embed``, ``similar`` and ``duplicates``). Without it, ``--embedding``
      refuses the run.
    - ``scratch_runs_root: Callable[[dict[str, Any]], Path | None] | None = None``: a folder
      to hold this process's run instead of ``runs/`` (None: ``runs/``), given the
      training's options; a non-chief worker of a distributed training returns a temporary
      folder, so that only the chief writes the run.
    - ``default_cam_rank: int | None = None``: where the model stands among the CAM models
      ``artkit detect`` falls back on when it gets no ``--model`` and no painting detector
      is bundled, lowest first: the latest export of the model in ``exported/``, else a
      fresh export of its latest finished run. None: never used so.
    """

    name: str
    description: str
    tasks: tuple[Task, ...]
    """Tasks it can train; the first is the default when the data set does not decide."""
    options: Sequence[OptionSpec]

    def train(self, ctx: TrainContext) -> None:
        """Fit on ``ctx.train_idx`` (``ctx.val_idx`` for early stopping / tuning) and save
        everything `load` needs into ``ctx.run``."""

    def load(self, run: Run) -> Predictor:
        """Rebuild the trained model from a run folder."""


@runtime_checkable
class FeatureExtractor(Protocol):
    name: str
    description: str
    options: Sequence[OptionSpec]

    def extract(self, image: np.ndarray, **options: Any) -> tuple[np.ndarray, np.ndarray]:
        """Local descriptors of one RGB uint8 image: (xy float32 (n, 2), descriptors
        float32 (n, d)). An image with nothing to describe returns n == 0."""


@dataclass
class EvalResult:
    """What an evaluator returns: headline metrics, a per-class table and the plots it saved."""

    metrics: dict[str, float]
    per_class: list[dict[str, Any]] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    headline: tuple[str, ...] = ()
    """Names of the metrics shown in `artkit runs` and side-by-side comparisons."""
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    """95% bootstrap confidence intervals of headline metrics (:mod:`artkit.metrics.bootstrap`),
    saved in metrics.json as ``"intervals": {name: [low, high]}``."""


@runtime_checkable
class Evaluator(Protocol):
    name: str
    description: str
    task: Task

    def evaluate(self, y_true: np.ndarray, scores: np.ndarray, labels: Sequence[str],
                 out_dir: Path, **kwargs: Any) -> EvalResult:
        """Compare scores with the truth, save plots into `out_dir`, return the metrics.

        Keywords the core passes: ``decision``, the run's tuned
        :class:`~artkit.decisions.rule.DecisionRule` (multi-label runs; None until tuned), and
        ``plot=False`` where only the numbers are wanted (threshold sweeps)."""


@runtime_checkable
class DatasetReader(Protocol):
    name: str
    description: str

    def can_read(self, path: Path) -> bool:
        """True when `path` has this reader's layout (used to pick a reader automatically)."""

    def read(self, path: Path) -> Dataset:
        """Read the data set; raise `artkit.errors.DataError` naming the file on bad input."""


@dataclass
class Detections:
    """Boxes found in one photo, in that photo's pixel coordinates (x1, y1, x2, y2)."""

    boxes: np.ndarray  # float32 (n, 4)
    scores: np.ndarray  # float32 (n,)
    quads: np.ndarray | None = None
    """Optional float32 (n, 4, 2): each painting's four corners (top-left, top-right,
    bottom-right, bottom-left) when the method finds outlines; crops are rectified by them."""

    def __len__(self) -> int:
        """The number of boxes."""
        return len(self.scores)


@runtime_checkable
class DetectionMethod(Protocol):
    """A painting-detection method: ``artkit detect --method NAME``.

    Optional capabilities (declared in :data:`OPTIONAL`, read with :func:`capability`):

    - ``needs_classifier: bool = False``: True when the method scores its proposals with
      the model; it then gets the keyword ``classify`` in :meth:`detect` (see there), and
      like ``needs_cam`` it needs a model (``--model``).
    - ``default_threshold: float = 0.0``: the minimum score of a reported painting when
      the user gives none (``min_score``, ``--threshold``); :meth:`detect` returns every
      scored candidate and the core applies it (candidates below it still go to the COCO
      json).
    - ``default_rank: int | None = None``: where the method stands among the methods
      ``artkit detect`` runs without ``--method``: the lowest-ranked method that can run
      wins (one that needs a model runs only when there is one). None: never the default.

    The ``threshold`` argument of :meth:`detect` is the CAM threshold (a share of the
    map's peak, the CAM paper's rule; ``--cam-threshold``), used by methods with
    ``needs_cam``.
    """

    name: str
    description: str
    needs_cam: bool
    options: Sequence[OptionSpec]

    def detect(self, image: np.ndarray, cam: np.ndarray | None, threshold: float,
               **options: Any) -> Detections:
        """Find paintings in one RGB photo; `cam` is the class activation map of the
        chosen class, already resized to the photo (None when `needs_cam` is False).

        A method that sets the optional capability ``needs_classifier = True`` also gets the
        keyword ``classify``: a function from a list of RGB crops to the model's probability
        of the chosen class for each (R-CNN-style scoring of proposals)."""


@dataclass
class OnnxGraph:
    """What a model plugin's optional ``export_onnx(run, opset)`` returns to the core.

    Image models: one input ``images``, float32 (N, H, W, 3), RGB, values 0..255, already
    resized to ``preprocessing["size"]``; any normalisation happens inside the graph.
    Descriptor models (bag of words): one input ``descriptors``, float32 (n, d), the local
    descriptors of ONE image, extracted by the feature extractor named in
    ``preprocessing["extractor"]`` with ``preprocessing["extractor_options"]``.
    Outputs, fetched by name: ``scores`` (N, n_labels) probabilities, and optionally
    ``cams`` (N, h, w, n_labels) class activation maps.

    The core writes the metadata, checks ``reference`` against onnxruntime on test images
    (fails above 1e-4), quantizes when asked, and writes the file atomically."""

    model: Any  # onnx.ModelProto
    input_kind: Literal["image", "descriptors"]
    preprocessing: dict[str, Any]
    reference: Callable[[np.ndarray], dict[str, np.ndarray]]
    """Runs one input batch through the original framework; outputs keyed like the graph's."""
    quantizable: bool = True
    """False where int8 would not help (e.g. an SVM graph): ``--quantize`` is refused."""


Register = Callable[[Any], None]


OPTIONAL: dict[str, Any] = {
    # ModelPlugin
    "default_data": None,
    "export_onnx": None,
    "export_embedding_onnx": None,
    "scratch_runs_root": None,
    "default_cam_rank": None,
    # DetectionMethod
    "needs_classifier": False,
    "default_threshold": 0.0,
    "default_rank": None,
}
"""Every optional plugin capability and the value that stands for "the plugin has none":
the one list (the matching Protocol's docstring and docs/plugins.md describe each entry)."""


def capability(plugin: object, name: str) -> Any:
    """The optional capability `name` of `plugin`: its attribute, or the declared default
    (see :data:`OPTIONAL`) when it has none.

    Raises :class:`~artkit.errors.PluginError` for a name that is not a declared optional
    capability (a required attribute is read directly; a new optional one is declared in
    :data:`OPTIONAL` and its Protocol first)."""
    if name not in OPTIONAL:
        raise PluginError(f"'{name}' is not a declared optional plugin capability",
                          hint="declared in artkit.contracts.OPTIONAL: "
                               + ", ".join(sorted(OPTIONAL)))
    return getattr(plugin, name, OPTIONAL[name])
