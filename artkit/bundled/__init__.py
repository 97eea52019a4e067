"""Models that come with artkit as package data.

``painting-detector.onnx`` is the painting classifier `artkit detect` uses when it gets no
``--model``: MobileNet (alpha 0.25) from the Keras Applications ImageNet weights
(Apache-2.0), fine-tuned on proposal crops of synthetic rooms hung with procedural
paintings, so it carries no third-party image. Its recipe, provenance and metrics are in
its model card (``extra["provenance"]``, ``artkit.ModelCard.read(path)``) and in
docs/detection.md.

``embedding-model.onnx`` is the embedding model `artkit embed`, `index build`, `similar` and
`duplicates` use when they get no ``--model``: the same MobileNet's ImageNet weights, frozen,
global average pooling of its last block (256 values), nothing trained; rebuilt by
`artkit build-embedding-model` (recipe in its model card and in docs/embeddings.md).
"""

from __future__ import annotations

from pathlib import Path

PAINTING_DETECTOR = Path(__file__).with_name("painting-detector.onnx")
EMBEDDING_MODEL = Path(__file__).with_name("embedding-model.onnx")


def painting_detector() -> Path | None:
    """The bundled painting detector, or None when this installation lacks it."""
    return PAINTING_DETECTOR if PAINTING_DETECTOR.is_file() else None


def embedding_model() -> Path | None:
    """The bundled embedding model, or None when this installation lacks it."""
    return EMBEDDING_MODEL if EMBEDDING_MODEL.is_file() else None
