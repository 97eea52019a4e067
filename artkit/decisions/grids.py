"""The threshold grids artkit sweeps, one named constant per purpose.

Import these rather than writing ``np.arange(...)`` again, so that a command, an evaluator
and a benchmark that sweep "the same thresholds" do.
"""

from __future__ import annotations

import numpy as np

LABEL_THRESHOLD_GRID = (np.arange(1, 100) / 100).astype(np.float32)
"""Multi-label decision thresholds the tuner searches and ``artkit thresholds`` reports:
0.01, 0.02, ..., 0.99, float32 (as :func:`artkit.decisions.rule.decide` compares them). Also
:data:`artkit.decisions.tuning.GRID`."""

F2_PLOT_SWEEP: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
"""One global threshold, 0.05, 0.10, ..., 0.95: the x axis of the multi-label evaluator's
F2-against-threshold plot."""

CAM_SWEEP: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
"""CAM thresholds (fractions of each map's maximum), 0.05, 0.10, ..., 0.95, that
``artkit detect --sweep-threshold`` scores against the annotated boxes."""
