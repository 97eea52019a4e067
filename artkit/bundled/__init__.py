"""Models that come with artkit as package data.

``painting-detector.onnx`` is the painting classifier `artkit detect` uses when it gets no
``--model``: MobileNet (alpha 0.25) from the Keras Applications ImageNet weights
(Apache-2.0), fine-tuned on proposal crops of synthetic rooms hung with procedural
paintings, so it carries no third-party image. Its recipe, provenance and metrics are in
its model card (``extra["provenance"]``, ``artkit.ModelCard.read(path)``) and in
docs/detection.md.
"""

from __future__ import annotations

from pathlib import Path

PAINTING_DETECTOR = Path(__file__).with_name("painting-detector.onnx")


def painting_detector() -> Path | None:
    """The bundled painting detector, or None when this installation lacks it."""
    return PAINTING_DETECTOR if PAINTING_DETECTOR.is_file() else None
