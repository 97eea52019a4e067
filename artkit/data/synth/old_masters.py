"""Paintings and frames as they hang in historic galleries, for the synthetic rooms.

Why: the painting detector trained on rooms of bright procedural pictures in plain
bevelled frames gave a probability near 0 to 43% of the real paintings it outlined in
estense-dev's tuning half (dark old-master canvases in carved gilt frames, oval canvases),
and near 1 to the grey text panels of the rooms (docs/detection.md). These renderers add
what it had never seen; the text panels are drawn by `rooms.info_panel`.
"""

from __future__ import annotations

import cv2
import numpy as np

from artkit.data.synth.canvas import gradient_ground, hsv, random_light, shade_ellipsoid

AA = cv2.LINE_AA


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Value noise in about -1..1: a `cells`-wide random grid upsampled smoothly."""
    grid = rng.normal(0, 1, (max(cells * h // max(w, 1), 2), max(cells, 2))).astype(np.float32)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)


def old_master(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A dark canvas: a brown or olive ground lit from one side, a few shaded figures in
    coloured draperies, sometimes an opening onto a dim sky, under yellowed varnish with a
    faint craquelure."""
    dark = hsv(rng.uniform(0.04, 0.14), rng.uniform(0.35, 0.85), rng.uniform(0.04, 0.2))
    lighter = hsv(rng.uniform(0.06, 0.14), rng.uniform(0.3, 0.7), rng.uniform(0.18, 0.45))
    image = gradient_ground(rng, h, w, *((lighter, dark) if rng.random() < 0.5
                                         else (dark, lighter)))
    if rng.random() < 0.35:  # a window onto a dim sky above a golden horizon
        top = hsv(rng.uniform(0.52, 0.62), rng.uniform(0.15, 0.45), rng.uniform(0.35, 0.7))
        horizon = hsv(rng.uniform(0.08, 0.13), rng.uniform(0.3, 0.6), rng.uniform(0.5, 0.8))
        sky_h = max(int(h * rng.uniform(0.3, 0.6)), 2)
        x0, x1 = sorted(rng.uniform(0, w, 2).astype(int))
        if x1 - x0 > 2:
            image[:sky_h, x0:x1] = gradient_ground(rng, sky_h, x1 - x0, top, horizon)
    light = random_light(rng)
    side = min(h, w)
    for _ in range(int(rng.integers(1, 6))):
        cx, cy = w * rng.uniform(0.15, 0.85), h * rng.uniform(0.3, 0.75)
        size = side * rng.uniform(0.08, 0.22)
        drapery = hsv(rng.choice([0.0, 0.6, 0.08, 0.33, 0.75]) + rng.normal(0, 0.02),
                      rng.uniform(0.4, 0.9), rng.uniform(0.25, 0.7))
        shade_ellipsoid(image, cx, cy + size * 1.3, size * rng.uniform(0.7, 1.1), size * 1.5,
                        drapery, light, ambient=0.3)
        skin = hsv(rng.uniform(0.04, 0.09), rng.uniform(0.25, 0.55), rng.uniform(0.5, 0.9))
        shade_ellipsoid(image, cx, cy - size * 0.25, size * 0.33, size * 0.42, skin, light,
                        ambient=0.35)
        if rng.random() < 0.5:  # a bare arm or a reclining body
            shade_ellipsoid(image, cx + size * rng.uniform(-0.9, 0.9), cy + size * 0.6,
                            size * rng.uniform(0.2, 0.9), size * 0.18, skin, light,
                            ambient=0.35)
    pool = np.zeros((h, w), np.float32)  # chiaroscuro: one pool of light on the scene
    cv2.ellipse(pool, (int(w * rng.uniform(0.3, 0.7)), int(h * rng.uniform(0.3, 0.6))),
                (max(int(w * 0.35), 1), max(int(h * 0.35), 1)), 0, 0, 360, 1.0, -1)
    pool = cv2.GaussianBlur(pool, (0, 0), max(side * 0.15, 1))
    varnish = np.array([1.0, 0.86, 0.62], np.float32) * rng.uniform(0.7, 1.0)
    out = image.astype(np.float32) * (0.5 + 0.65 * pool)[..., None] * varnish
    cracks = _smooth_noise(rng, h, w, max(w // 6, 2))
    out *= (1 - 0.12 * (np.abs(cracks) < 0.05))[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def gilt_frame(rng: np.random.Generator, art: np.ndarray, oval: bool = False) -> np.ndarray:
    """`art` in a carved gilt frame: gold mouldings with raised ornament (light and dark
    relief), a bright inner lip; with `oval`, an oval canvas with gilt spandrels."""
    h, w = art.shape[:2]
    border = max(int(min(h, w) * rng.uniform(0.08, 0.18)), 3)
    fh, fw = h + 2 * border, w + 2 * border
    gold = np.array(hsv(rng.uniform(0.1, 0.13), rng.uniform(0.5, 0.8), rng.uniform(0.55, 0.9)),
                    np.float32)
    relief = 1 + 0.35 * _smooth_noise(rng, fh, fw, max(fw // 3, 2)) \
        + 0.15 * _smooth_noise(rng, fh, fw, max(fw // 12, 2))
    yy, xx = np.mgrid[0:fh, 0:fw]
    depth = np.minimum(np.minimum(xx, fw - 1 - xx), np.minimum(yy, fh - 1 - yy)) / border
    relief *= 0.8 + 0.3 * np.cos(depth * np.pi * rng.integers(2, 5))  # mouldings
    relief *= np.where(xx + yy < fw * fh / (fw + fh), 1.1, 0.9)  # the top-left corner lit
    framed = np.clip(gold * relief[..., None], 0, 255).astype(np.uint8)
    if oval:
        canvas = framed[border:border + h, border:border + w]
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, (w // 2, h // 2), (max(w // 2 - 1, 1), max(h // 2 - 1, 1)), 0, 0,
                    360, 255, -1, AA)
        alpha = (mask.astype(np.float32) / 255)[..., None]
        canvas[:] = (canvas * (1 - alpha) + art * alpha).astype(np.uint8)
        cv2.ellipse(canvas, (w // 2, h // 2), (max(w // 2 - 1, 1), max(h // 2 - 1, 1)), 0, 0,
                    360, tuple(float(c) for c in np.minimum(gold * 1.3, 255)),
                    max(border // 5, 1), AA)
    else:
        framed[border:border + h, border:border + w] = art
        lip = max(border // 6, 1)
        cv2.rectangle(framed, (border - lip, border - lip), (border + w + lip - 1,
                                                             border + h + lip - 1),
                      tuple(float(c) for c in np.minimum(gold * 1.35, 255)), lip)
    return framed
