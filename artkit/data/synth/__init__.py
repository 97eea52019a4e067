"""artkit's built-in synthetic data sets: procedural artworks, iMet-style multi-label objects,
painting/sculpture photos and museum rooms with painting boxes. No download needed; the
same arguments always give the same files."""

from artkit.data.synth.api import (
    DEFAULTS,
    GENERATOR_VERSION,
    TASKS,
    cache_root,
    default_dataset,
    generate,
)
from artkit.data.synth.artworks import ARTWORK_CLASSES, CLASS_SHARES, render_artwork

__all__ = ["ARTWORK_CLASSES", "CLASS_SHARES", "DEFAULTS", "GENERATOR_VERSION", "TASKS",
           "cache_root", "default_dataset", "generate", "render_artwork"]
