"""artkit's metadata inside an ONNX file: everything a runtime needs besides the graph.

The file is all a user ships, so it carries the labels, the task, how to prepare an image
(input size, colour order, the normalisation the graph applies), the multi-label decision
thresholds, the model plugin and its options, and the test metrics of the run it came from.
It is stored as one JSON document under the ``artkit`` key of the model's
``metadata_props`` (a plain string map every ONNX tool keeps and shows, e.g. Netron).

Fields (see :data:`REQUIRED`; the rest are optional):
``artkit_version``, ``model`` (plugin name), ``options``, ``task``, ``labels``,
``input_kind`` ("image" or "descriptors"), ``input_size`` [height, width] (image models),
``colour_order``, ``preprocessing`` (scale / mean / std applied inside the graph, or the
feature extractor and its options for descriptor models), ``outputs``, ``thresholds``
(``{"global": t}`` or ``{"per_label": [...]}``), ``min_labels``, ``max_labels``,
``test_metrics``, ``run``, ``exported_at``, ``opset``, ``quantization``.

Imports onnx only inside functions: predict reads the metadata through its onnxruntime
session (:func:`metadata_from_session`) and never needs the onnx package.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from artkit.errors import ArtkitError

KEY = "artkit"
REQUIRED = ("artkit_version", "model", "task", "labels", "input_kind", "outputs")


class NotArtkitModelError(ArtkitError):
    """An ONNX file that artkit did not write (no artkit metadata), or a damaged one."""


def parse_metadata(props: dict[str, str], path: str | Path) -> dict[str, Any]:
    """The artkit metadata from a file's metadata_props map, validated."""
    if KEY not in props:
        raise NotArtkitModelError("not an artkit model: the ONNX file has no artkit metadata",
                                  path, hint="export it with `artkit export onnx`")
    try:
        meta = json.loads(props[KEY])
    except json.JSONDecodeError as exc:
        raise NotArtkitModelError(f"damaged artkit metadata ({exc})", path) from None
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise NotArtkitModelError(f"artkit metadata lacks {', '.join(missing)}", path)
    validate_thresholds(meta, path)
    return meta


def validate_thresholds(meta: dict[str, Any], path: str | Path | None = None) -> None:
    thresholds = meta.get("thresholds")
    if thresholds is None:
        return
    if not isinstance(thresholds, dict) or not ({"global", "per_label"} & thresholds.keys()):
        raise ArtkitError('thresholds must be {"global": t} or {"per_label": [...]}', path)
    if "per_label" in thresholds and len(thresholds["per_label"]) != len(meta["labels"]):
        raise ArtkitError(f"{len(thresholds['per_label'])} per-label thresholds for "
                          f"{len(meta['labels'])} labels", path)


def _load_model(path: Path) -> Any:
    import onnx

    if not path.exists():
        raise ArtkitError("model file not found", path)
    if path.is_dir():
        raise ArtkitError("is a folder, not an ONNX model file", path)
    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises DecodeError, onnx raises others
        raise NotArtkitModelError(f"not a readable ONNX file ({type(exc).__name__})",
                                  path) from None


def props_of(model: Any) -> dict[str, str]:
    return {p.key: p.value for p in model.metadata_props}


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The artkit metadata of the ONNX file at `path` (one-line errors for a missing file,
    a non-ONNX file, or an ONNX file artkit did not write)."""
    path = Path(path)
    return parse_metadata(props_of(_load_model(path)), path)


def set_metadata(model: Any, meta: dict[str, Any]) -> None:
    """Replace the artkit metadata of an in-memory `onnx.ModelProto`."""
    for index, prop in enumerate(model.metadata_props):
        if prop.key == KEY:
            del model.metadata_props[index]
            break
    entry = model.metadata_props.add()
    entry.key, entry.value = KEY, json.dumps(meta, sort_keys=True)


def write_metadata(target: str | Path | Any, updates: dict[str, Any]) -> dict[str, Any]:
    """Merge `updates` into the artkit metadata and return the result.

    `target` is an ONNX file path (rewritten atomically: a crash leaves the old file whole)
    or an in-memory `onnx.ModelProto` (changed in place). A key set to None is removed.
    A file must already carry artkit metadata; a ModelProto may start without it."""
    if isinstance(target, str | Path):
        path = Path(target)
        model = _load_model(path)
        meta = parse_metadata(props_of(model), path)
    else:
        path, model = None, target
        existing = props_of(model)
        meta = json.loads(existing[KEY]) if KEY in existing else {}
    meta.update(updates)
    meta = {k: v for k, v in meta.items() if v is not None}
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise ArtkitError(f"artkit metadata would lack {', '.join(missing)}", path)
    validate_thresholds(meta, path)
    set_metadata(model, meta)
    if path is not None:
        from artkit.io import write_bytes

        write_bytes(path, model.SerializeToString())
    return meta


def metadata_from_session(session: Any, path: str | Path) -> dict[str, Any]:
    """The artkit metadata through an onnxruntime session (no onnx import, no second parse)."""
    return parse_metadata(dict(session.get_modelmeta().custom_metadata_map), path)
