"""The synthetic multi-label set: each object combines a culture, a medium and 1-3 motifs.

Every attribute is visible in the pixels, as in iMet: the culture sets the palette (each has
its own three colours), the medium sets the ground and its texture (paper fibres, woven
threads, a glazed plate, sheet metal, wood grain, stone), and each motif tag is a drawn
shape repeated over part of the object. Attributes are named like iMet's:
``culture::<name>`` and ``tag::<name>``, with iMet's long-tailed frequencies.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from artkit.data.synth.canvas import Color, blank, gradient_ground, hsv, jitter

AA = cv2.LINE_AA

#: culture -> its palette (three RGB colours; each object jitters them a little).
CULTURES: dict[str, tuple[Color, Color, Color]] = {
    "japan": ((30, 45, 110), (235, 230, 215), (190, 40, 40)),
    "china": ((180, 20, 25), (230, 180, 40), (20, 20, 20)),
    "egypt": ((200, 150, 60), (40, 160, 160), (25, 40, 120)),
    "greece": ((20, 15, 10), (205, 100, 40), (240, 220, 190)),
    "persia": ((20, 60, 170), (60, 190, 200), (250, 250, 245)),
    "netherlands": ((60, 35, 20), (215, 170, 60), (140, 30, 30)),
    "france": ((200, 170, 220), (170, 210, 230), (240, 200, 170)),
    "italy": ((170, 70, 40), (70, 100, 60), (230, 200, 140)),
    "mexico": ((240, 30, 130), (250, 200, 0), (0, 150, 90)),
    "peru": ((130, 30, 20), (90, 60, 40), (230, 180, 120)),
    "india": ((240, 120, 0), (150, 0, 90), (0, 110, 60)),
    "britain": ((0, 40, 80), (120, 120, 125), (160, 20, 40)),
    "korea": ((120, 180, 160), (230, 230, 220), (60, 90, 80)),
    "america": ((0, 128, 128), (235, 120, 50), (245, 235, 205)),
}

Motif = Callable[[np.random.Generator, np.ndarray, float, float, float, Color], None]


def _pt(x: float, y: float) -> tuple[int, int]:
    return (int(round(x)), int(round(y)))


def _dots(rng, img, x, y, s, c):
    for _ in range(9):
        cv2.circle(img, _pt(x + rng.uniform(-s, s), y + rng.uniform(-s, s)),
                   max(int(s * 0.12), 1), c, -1, AA)


def _stripes(rng, img, x, y, s, c):
    for k in range(-2, 3):
        cv2.line(img, _pt(x - s, y + k * s * 0.4), _pt(x + s, y + k * s * 0.4), c,
                 max(int(s * 0.15), 1), AA)


def _flower(rng, img, x, y, s, c):
    for k in range(6):
        a = np.pi * k / 3
        cv2.circle(img, _pt(x + np.cos(a) * s * 0.5, y + np.sin(a) * s * 0.5),
                   max(int(s * 0.3), 1), c, -1, AA)
    cv2.circle(img, _pt(x, y), max(int(s * 0.22), 1), (250, 230, 90), -1, AA)


def _bird(rng, img, x, y, s, c):
    t = max(int(s * 0.12), 1)
    cv2.ellipse(img, _pt(x - s * 0.45, y), _pt(s * 0.5, s * 0.35), 0, 200, 340, c, t, AA)
    cv2.ellipse(img, _pt(x + s * 0.45, y), _pt(s * 0.5, s * 0.35), 0, 200, 340, c, t, AA)


def _waves(rng, img, x, y, s, c):
    xs = np.linspace(x - s, x + s, 16)
    for k in (-1, 0, 1):
        ys = y + k * s * 0.45 + np.sin((xs - x) / s * 2 * np.pi) * s * 0.15
        cv2.polylines(img, [np.stack([xs, ys], 1).astype(np.int32)], False, c,
                      max(int(s * 0.1), 1), AA)


def _rings(rng, img, x, y, s, c):
    for r in (1.0, 0.65, 0.3):
        cv2.circle(img, _pt(x, y), max(int(s * r), 1), c, max(int(s * 0.1), 1), AA)


def _triangles(rng, img, x, y, s, c):
    for dx in (-0.5, 0.5):
        pts = np.array([[x + dx * s - s * 0.45, y + s * 0.4], [x + dx * s + s * 0.45, y + s * 0.4],
                        [x + dx * s, y - s * 0.5]], np.int32)
        cv2.fillConvexPoly(img, pts, c, AA)


def _spiral(rng, img, x, y, s, c):
    t = np.linspace(0, 4 * np.pi, 40)
    pts = np.stack([x + np.cos(t) * t / (4 * np.pi) * s, y + np.sin(t) * t / (4 * np.pi) * s], 1)
    cv2.polylines(img, [pts.astype(np.int32)], False, c, max(int(s * 0.1), 1), AA)


def _lattice(rng, img, x, y, s, c):
    for k in np.linspace(-s, s, 4):
        cv2.line(img, _pt(x + k, y - s), _pt(x + k, y + s), c, max(int(s * 0.08), 1))
        cv2.line(img, _pt(x - s, y + k), _pt(x + s, y + k), c, max(int(s * 0.08), 1))


def _script(rng, img, x, y, s, c):
    for row in (-0.5, 0.0, 0.5):
        for col in np.linspace(-0.8, 0.8, 4):
            a = (x + col * s + rng.uniform(-0.15, 0.15) * s, y + row * s)
            b = (a[0] + rng.uniform(-0.2, 0.2) * s, a[1] + rng.uniform(0.05, 0.3) * s)
            cv2.line(img, _pt(*a), _pt(*b), c, max(int(s * 0.08), 1), AA)


def _figure(rng, img, x, y, s, c):
    cv2.circle(img, _pt(x, y - s * 0.7), max(int(s * 0.22), 1), c, -1, AA)
    pts = np.array([[x - s * 0.2, y - s * 0.45], [x + s * 0.2, y - s * 0.45],
                    [x + s * 0.45, y + s], [x - s * 0.45, y + s]], np.int32)
    cv2.fillConvexPoly(img, pts, c, AA)


def _tree(rng, img, x, y, s, c):
    cv2.line(img, _pt(x, y + s), _pt(x, y), c, max(int(s * 0.15), 1))
    pts = np.array([[x - s * 0.6, y + s * 0.2], [x + s * 0.6, y + s * 0.2], [x, y - s]],
                   np.int32)
    cv2.fillConvexPoly(img, pts, c, AA)


def _fish(rng, img, x, y, s, c):
    cv2.ellipse(img, _pt(x, y), _pt(s * 0.65, s * 0.3), 0, 0, 360, c, -1, AA)
    pts = np.array([[x + s * 0.5, y], [x + s, y - s * 0.35], [x + s, y + s * 0.35]], np.int32)
    cv2.fillConvexPoly(img, pts, c, AA)


def _star(rng, img, x, y, s, c):
    angles = -np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, s, s * 0.4)
    pts = np.stack([x + np.cos(angles) * radii, y + np.sin(angles) * radii], 1)
    cv2.fillPoly(img, [pts.astype(np.int32)], c, AA)


MOTIFS: dict[str, Motif] = {
    "dots": _dots, "stripes": _stripes, "flowers": _flower, "birds": _bird, "waves": _waves,
    "rings": _rings, "triangles": _triangles, "spirals": _spiral, "lattice": _lattice,
    "script": _script, "human figures": _figure, "trees": _tree, "fish": _fish,
    "stars": _star,
}


def _ground_paper(rng, h, w, palette):
    image = blank(h, w, jitter(rng, (232, 222, 200), 12))
    fibres = cv2.GaussianBlur(rng.normal(0, 6, (h, w)).astype(np.float32), (0, 0), 1.5)
    return np.clip(image + fibres[..., None] * 2, 0, 255).astype(np.uint8)


def _ground_textile(rng, h, w, palette):
    # A dyed ground half as bright as the palette's second colour, so that a motif drawn in
    # that colour still shows; the weave is added after the motifs.
    return blank(h, w, jitter(rng, tuple(c * 0.5 for c in palette[1]), 10))


def _ground_ceramic(rng, h, w, palette):
    glaze = [(238, 236, 228), (200, 220, 200), (225, 215, 190)][rng.integers(3)]
    return gradient_ground(rng, h, w, jitter(rng, glaze, 8), jitter(rng, glaze, 8))


def _ground_metal(rng, h, w, palette):
    xx = np.linspace(0, 1, w, dtype=np.float32)
    sheen = 90 + 110 * np.abs(np.sin(xx * np.pi * rng.uniform(1, 3)))
    tint = [np.array([0.9, 0.85, 0.7]), np.array([0.85, 0.85, 0.88]),
            np.array([0.95, 0.7, 0.5])][rng.integers(3)]  # brass, silver, copper
    return np.clip(np.broadcast_to(sheen[None, :, None] * tint, (h, w, 3)), 0,
                   255).astype(np.uint8)


def _ground_wood(rng, h, w, palette):
    yy = np.arange(h, dtype=np.float32)[:, None] + 3 * np.sin(np.arange(w) / w * 6)[None, :]
    grain = 0.8 + 0.2 * np.sin(yy * rng.uniform(0.5, 1.0))
    return np.clip(grain[..., None] * np.array(jitter(rng, (140, 90, 50), 15)), 0,
                   255).astype(np.uint8)


def _ground_stone(rng, h, w, palette):
    speckle = rng.normal(0, 22, (h, w)).astype(np.float32)
    return np.clip(jitter(rng, (150, 148, 140), 10) + speckle[..., None], 0, 255).astype(np.uint8)


def _rect_outline(rng, size, jag: float) -> np.ndarray:
    """A rectangle's outline (as many points) with edges roughened by `jag` of the side."""
    x0, y0 = rng.uniform(0.04, 0.16, 2) * size
    x1, y1 = size - rng.uniform(0.04, 0.16, 2) * size
    t = np.linspace(0, 1, 12, endpoint=False)
    pts = np.concatenate([np.stack([x0 + (x1 - x0) * t, np.full(12, y0)], 1),
                          np.stack([np.full(12, x1), y0 + (y1 - y0) * t], 1),
                          np.stack([x1 - (x1 - x0) * t, np.full(12, y1)], 1),
                          np.stack([np.full(12, x0), y1 - (y1 - y0) * t], 1)])
    return pts + rng.normal(0, jag * size, pts.shape)


def _shape_sheet(rng, size):
    return _rect_outline(rng, size, 0.002)


def _shape_fragment(rng, size):
    return _rect_outline(rng, size, 0.012)


def _shape_round(rng, size):
    if rng.random() < 0.6:  # a plate, dish or medal seen from above
        r = size * rng.uniform(0.36, 0.47)
        a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        squash = rng.uniform(0.8, 1.0)
        return np.stack([size / 2 + r * np.cos(a), size / 2 + r * squash * np.sin(a)], 1)
    t = np.linspace(0, 1, 24)  # a vessel in profile
    radius = size * (0.18 + 0.2 * np.sin(np.pi * t * rng.uniform(0.8, 1.1)) + 0.04)
    ys = size * (0.06 + 0.88 * t)
    return np.concatenate([np.stack([size / 2 + radius, ys], 1),
                           np.stack([size / 2 - radius, ys], 1)[::-1]])


def _shape_slab(rng, size):
    a = np.sort(rng.uniform(0, 2 * np.pi, 9))
    r = size * rng.uniform(0.38, 0.5, 9)
    return np.stack([size / 2 + r * np.cos(a), size / 2 + r * np.sin(a)], 1)


#: medium -> (its surface, the outline of an object made of it)
MEDIA: dict[str, tuple[Callable, Callable]] = {
    "paper": (_ground_paper, _shape_sheet),
    "textile": (_ground_textile, _shape_fragment),
    "ceramic": (_ground_ceramic, _shape_round),
    "metalwork": (_ground_metal, _shape_round),
    "wood": (_ground_wood, _shape_sheet),
    "stone": (_ground_stone, _shape_slab),
}


def attribute_names() -> list[str]:
    """All attributes in labels.csv order: the cultures, then the motif and medium tags."""
    return ([f"culture::{c}" for c in CULTURES] + [f"tag::{m}" for m in MOTIFS] +
            [f"tag::{m}" for m in MEDIA])


def _long_tail(k: int, power: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1) ** power
    return weights / weights.sum()


def _on_backdrop(rng: np.random.Generator, image: np.ndarray, outline: np.ndarray
                 ) -> np.ndarray:
    """Cut the object out along `outline` and photograph it on a plain studio backdrop with
    a soft shadow, as museum collection photos are."""
    size = image.shape[0]
    tone = rng.choice([rng.uniform(0.05, 0.2), rng.uniform(0.4, 0.6), rng.uniform(0.85, 0.97)])
    backdrop = gradient_ground(rng, size, size, hsv(0, 0, tone), hsv(0, 0, tone * 0.85))
    mask8 = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask8, [np.round(outline).astype(np.int32)], 255, AA)
    mask = mask8.astype(np.float32) / 255
    shift = np.float32([[1, 0, size * 0.02], [0, 1, size * 0.03]])
    shadow = cv2.GaussianBlur(cv2.warpAffine(mask, shift, (size, size)), (0, 0), size * 0.02)
    backdrop = backdrop * (1 - 0.45 * shadow)[..., None]
    alpha = mask[..., None]
    return np.clip(backdrop * (1 - alpha) + image * alpha, 0, 255).astype(np.uint8)


def render_object(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[str]]:
    """One object image (size x size uint8 RGB) and its attribute names."""
    culture = list(CULTURES)[rng.choice(len(CULTURES), p=_long_tail(len(CULTURES), 0.8))]
    medium = list(MEDIA)[rng.integers(len(MEDIA))]
    n_motifs = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.2]))
    chosen = rng.choice(len(MOTIFS), n_motifs, replace=False,
                        p=_long_tail(len(MOTIFS), 0.6))
    motifs = [list(MOTIFS)[i] for i in sorted(chosen)]
    palette = [jitter(rng, c, 12) for c in CULTURES[culture]]
    surface, outline = MEDIA[medium]
    image = surface(rng, size, size, palette)
    pts = outline(rng, size)
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    # Each motif gets its own band of the object and a palette colour that shows on it.
    bands = np.linspace(y0 + (y1 - y0) * 0.15, y1 - (y1 - y0) * 0.15, len(motifs) + 1)
    colors = [palette[0], palette[2], palette[1]]
    for i, name in enumerate(motifs):
        scale = (bands[i + 1] - bands[i]) * rng.uniform(0.28, 0.4)
        y = (bands[i] + bands[i + 1]) / 2
        left, right = x0 + (x1 - x0) * 0.25, x1 - (x1 - x0) * 0.25
        for x in np.linspace(left, right, int(rng.integers(2, 4))):
            MOTIFS[name](rng, image, x + rng.normal(0, size * 0.02), y, scale, colors[i % 3])
    if medium == "textile":
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        weave = 1 + 0.15 * np.sin(xx * 2.2) * np.sin(yy * 2.2)
        image = np.clip(image * weave[..., None], 0, 255).astype(np.uint8)
    image = _on_backdrop(rng, image, pts)
    labels = [f"culture::{culture}"] + [f"tag::{m}" for m in motifs] + [f"tag::{medium}"]
    # A gentle photo finish: strong colour casts would erase the palette that names the culture.
    gain = rng.uniform(0.85, 1.12)
    noisy = image.astype(np.float32) * gain + rng.normal(0, rng.uniform(1, 5), image.shape)
    image = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    return image, labels

