"""The two-class painting / sculpture set (the seed paper's Art Images subset, on which the
CAM classifier learns where paintings are).

Paintings come framed on a gallery wall or unframed and filling the picture (a
reproduction); sculptures stand in a gallery or studio, on a plinth or on the floor. Both
share walls, floors, light and noise, so the class lies in the object, not the setting.
"""

from __future__ import annotations

import cv2
import numpy as np

from artkit.data.synth.artworks import PAINTING_CLASSES, draw_sculpture, render_artwork
from artkit.data.synth.canvas import finish, gradient_ground, hsv, jitter
from artkit.data.synth.rooms import frame_painting

#: Share of paintings in the set (Art Images: about 2,000 paintings and 1,700 sculptures).
PAINTING_SHARE = 0.55


def _gallery(rng: np.random.Generator, size: int) -> tuple[np.ndarray, int]:
    """A wall over a floor, seen close up; returns the image and the floor line."""
    wall = hsv(rng.random(), rng.uniform(0, 0.4), rng.uniform(0.3, 0.95))
    image = gradient_ground(rng, size, size, wall, jitter(rng, wall, 30))
    floor = int(size * rng.uniform(0.72, 0.92))
    floor_color = hsv(rng.uniform(0.02, 0.12), rng.uniform(0.1, 0.6), rng.uniform(0.15, 0.6))
    image[floor:] = floor_color
    return image, floor


def _tilt(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Sometimes photograph at a slight angle: a small random perspective warp."""
    if rng.random() < 0.6:
        return image
    h, w = image.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = (src + rng.uniform(-0.07, 0.07, (4, 2)) * [w, h]).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REFLECT_101)


def _wall_label(rng: np.random.Generator, image: np.ndarray, x: float, y: float,
                size: int) -> None:
    """The small caption card museums put beside every object (in both classes)."""
    if rng.random() < 0.5:
        return
    lw, lh = int(size * rng.uniform(0.08, 0.14)), int(size * rng.uniform(0.05, 0.08))
    x, y = int(min(max(x, 0), size - lw - 1)), int(min(max(y, 0), size - lh - 1))
    cv2.rectangle(image, (x, y), (x + lw, y + lh), jitter(rng, (240, 238, 230), 8), -1)


def render_painting(rng: np.random.Generator, size: int) -> np.ndarray:
    name = PAINTING_CLASSES[rng.integers(len(PAINTING_CLASSES))]
    if rng.random() < 0.35:  # an unframed reproduction that fills the picture
        return render_artwork(rng, name, size, size)
    image, floor = _gallery(rng, size)
    ph = int(size * rng.uniform(0.45, 0.7))
    pw = int(min(ph * rng.uniform(0.65, 1.5), size * 0.9))
    art = render_artwork(rng, name, ph, pw, photographed=False)
    art = cv2.resize(frame_painting(rng, art), (pw, ph), interpolation=cv2.INTER_AREA)
    x0 = int(rng.uniform(0.02, 0.98) * (size - pw))
    y0 = int(max(min(rng.uniform(0.05, 0.2) * size, floor - ph - 2), 0))
    image[y0:y0 + ph, x0:x0 + pw] = art[:min(ph, size - y0)]
    side = x0 + pw + size * 0.04 if x0 + pw < size * 0.8 else x0 - size * 0.16
    _wall_label(rng, image, side, y0 + ph * 0.7, size)
    return finish(rng, _tilt(rng, image))


def render_sculpture(rng: np.random.Generator, size: int) -> np.ndarray:
    if rng.random() < 0.35:  # a studio photograph on a plain ground
        return render_artwork(rng, "sculpture", size, size)
    image, floor = _gallery(rng, size)
    cx = size * rng.uniform(0.3, 0.7)
    base = floor + (size - floor) * rng.uniform(0.2, 0.8)
    if rng.random() < 0.6:  # on a plinth, lit from one side
        pw, ph = size * rng.uniform(0.15, 0.3), size * rng.uniform(0.15, 0.35)
        tone = jitter(rng, (225, 222, 215), 20)
        cv2.rectangle(image, (int(cx - pw / 2), int(base - ph)), (int(cx + pw / 2), int(base)),
                      tone, -1)
        cv2.rectangle(image, (int(cx - pw / 2), int(base - ph)), (int(cx - pw / 4), int(base)),
                      tuple(c * 0.8 for c in tone), -1)
        base -= ph
    _wall_label(rng, image, cx + size * rng.uniform(0.15, 0.3), base - size * 0.2, size)
    draw_sculpture(rng, image, cx, base, max(base, 8) * rng.uniform(0.4, 0.9))
    return finish(rng, _tilt(rng, image))
