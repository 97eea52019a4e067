"""Average several exported classifiers into one ONNX file: an ensemble that ships as one model.

Two trainings of the same recipe on differently seeded data can differ a lot (the painting
detector's AP@0.5 on real rooms moved by 0.05 between room seeds), and averaging them is
both steadier and better than a typical member (docs/detection.md). The members run side
by side in one graph, on one input, in one onnxruntime session; their scores are combined
in log space:

- multi-class (softmax): the normalised geometric mean of the members' probabilities, that
  is the softmax of their mean log-probability (= of their mean logits);
- multi-label (sigmoid): the sigmoid of the members' mean logit, label by label;
- class activation maps (a ``cams`` output), when every member has them: their mean.

The card is the first member's, with the members' names and test metrics in
``extra["ensemble"]``; the ensemble itself has no test metrics until it is evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from artkit.errors import ArtkitError
from artkit.formats.model_card import ModelCard, load_onnx, props_of

#: Probabilities are clipped to [EPS, 1 - EPS] before their logarithm.
EPS = 1e-7
SCORES, CAMS = "scores", "cams"


def _check_members(paths: Sequence[Path], cards: Sequence[ModelCard]) -> None:
    first = cards[0]
    for path, card in zip(paths, cards, strict=True):
        if card.input_kind != "image" or SCORES not in card.outputs or card.is_embedding:
            raise ArtkitError("not an image classifier (an ensemble averages 'scores')", path)
        if card.task not in ("multiclass", "multilabel"):
            raise ArtkitError(f"task '{card.task}' cannot be averaged", path)
        for what in ("task", "labels", "input_size", "colour_order"):
            if getattr(card, what) != getattr(first, what):
                raise ArtkitError(f"its {what.replace('_', ' ')} differs from {paths[0].name}'s",
                                  path, hint="only models of the same task, labels and input "
                                  "can be averaged")


def _combine_scores(helper: Any, names: list[str], multilabel: bool) -> list[Any]:
    """Nodes mapping the members' score outputs `names` to the ensemble's ``scores``."""
    nodes, logits = [], []
    for name in names:
        clipped, log_p = f"{name}_clipped", f"{name}_log"
        nodes += [helper.make_node("Clip", [name, "ens_eps", "ens_one_minus_eps"], [clipped]),
                  helper.make_node("Log", [clipped], [log_p])]
        if multilabel:  # logit = log p - log (1 - p)
            nodes += [helper.make_node("Sub", ["ens_one", clipped], [f"{name}_q"]),
                      helper.make_node("Log", [f"{name}_q"], [f"{name}_logq"]),
                      helper.make_node("Sub", [log_p, f"{name}_logq"], [f"{name}_logit"])]
            logits.append(f"{name}_logit")
        else:
            logits.append(log_p)
    nodes += [helper.make_node("Sum", logits, ["ens_logit_sum"]),
              helper.make_node("Mul", ["ens_logit_sum", "ens_inv_k"], ["ens_logit_mean"]),
              helper.make_node("Sigmoid", ["ens_logit_mean"], [SCORES]) if multilabel
              else helper.make_node("Softmax", ["ens_logit_mean"], [SCORES], axis=-1)]
    return nodes


def average_models(paths: Sequence[str | Path], output: str | Path) -> Path:
    """Write to `output` one ONNX model whose scores average the models at `paths` (see the
    module's docstring); returns `output`."""
    import numpy as np
    import onnx
    from onnx import compose, helper, numpy_helper
    from onnx.external_data_helper import load_external_data_for_model

    from artkit.atomic import write_bytes

    paths = [Path(p) for p in paths]
    if len(paths) < 2:
        raise ArtkitError("an ensemble needs at least two models")
    models = [load_onnx(path) for path in paths]  # one-line errors for unreadable files
    for path, model in zip(paths, models, strict=True):
        load_external_data_for_model(model, str(path.parent))
    cards = [ModelCard.from_props(props_of(model), path)
             for path, model in zip(paths, models, strict=True)]
    _check_members(paths, cards)
    k = len(paths)
    first = models[0]
    members = [compose.add_prefix(model, prefix=f"m{i}_") for i, model in enumerate(models)]
    image_input = first.graph.input[0]
    with_cams = all(CAMS in card.outputs for card in cards)
    nodes, initializers, value_info = [], [], []
    for member in members:
        nodes.append(helper.make_node("Identity", [image_input.name],
                                      [member.graph.input[0].name]))
        nodes += member.graph.node
        initializers += member.graph.initializer
        value_info += member.graph.value_info
    multilabel = cards[0].task == "multilabel"
    constants = {"ens_eps": EPS, "ens_one_minus_eps": 1 - EPS, "ens_inv_k": 1.0 / k,
                 **({"ens_one": 1.0} if multilabel else {})}
    initializers += [numpy_helper.from_array(np.array(v, np.float32), name)
                     for name, v in constants.items()]
    nodes += _combine_scores(helper, [f"m{i}_{SCORES}" for i in range(k)], multilabel)
    outputs = [next(o for o in first.graph.output if o.name == SCORES)]
    if with_cams:
        nodes += [helper.make_node("Sum", [f"m{i}_{CAMS}" for i in range(k)], ["ens_cam_sum"]),
                  helper.make_node("Mul", ["ens_cam_sum", "ens_inv_k"], [CAMS])]
        outputs.insert(0, next(o for o in first.graph.output if o.name == CAMS))
    graph = helper.make_graph(nodes, "artkit_ensemble", [image_input], outputs,
                              initializer=initializers, value_info=value_info)
    model = helper.make_model(graph, opset_imports=list(first.opset_import),
                              producer_name="artkit")
    model.ir_version = first.ir_version
    onnx.checker.check_model(model)
    card = cards[0].replace(
        outputs=[o.name for o in outputs], test_metrics={}, self_check=None,
        extra={**cards[0].extra, "ensemble": {
            "members": [path.name for path in paths],
            "rule": "mean of the members' logits (softmax / sigmoid of it)",
            "members_test_metrics": [card.test_metrics for card in cards]}})
    card.embed(model)
    return write_bytes(output, model.SerializeToString())
