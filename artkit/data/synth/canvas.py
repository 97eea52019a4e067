"""Drawing helpers every synthetic renderer shares: colours, grounds, shaded solids, and the
"photograph" finish (lighting, white balance, noise, blur).

Images are uint8 (H, W, 3) RGB arrays while they are drawn (OpenCV anti-aliases only 8-bit
images; colours are RGB tuples here); shading is computed in float32 and written back, and
`finish` photographs the result.
"""

from __future__ import annotations

import colorsys

import cv2
import numpy as np

Color = tuple[float, float, float]


def hsv(h: float, s: float, v: float) -> Color:
    """An RGB colour (0..255) from hue in turns (wrapped), saturation and value in 0..1."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (r * 255.0, g * 255.0, b * 255.0)


def random_palette(rng: np.random.Generator, k: int) -> list[Color]:
    """`k` colours in a random harmony (analogous, complementary or triadic) around a random
    hue, with random saturation and value: no class owns a colour."""
    base = rng.random()
    scheme = rng.choice([0.08, 0.5, 1 / 3, 0.25])
    colors = []
    for i in range(k):
        hue = base + scheme * i + rng.normal(0, 0.03)
        colors.append(hsv(hue, rng.uniform(0.15, 0.95), rng.uniform(0.2, 1.0)))
    return colors


def jitter(rng: np.random.Generator, color: Color, amount: float = 18.0) -> Color:
    return tuple(float(np.clip(c + rng.normal(0, amount), 0, 255)) for c in color)  # type: ignore[return-value]


def blank(h: int, w: int, color: Color) -> np.ndarray:
    image = np.empty((h, w, 3), np.uint8)
    image[:] = np.clip(np.array(color) + 0.5, 0, 255).astype(np.uint8)
    return image


def gradient_ground(rng: np.random.Generator, h: int, w: int, top: Color,
                    bottom: Color) -> np.ndarray:
    """A ground that blends `top` into `bottom` along a slightly tilted axis."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tilt = rng.uniform(-0.3, 0.3)
    t = (yy / max(h - 1, 1) + tilt * (xx / max(w - 1, 1) - 0.5))
    t = np.clip(t, 0, 1)[..., None]
    ground = (1 - t) * np.array(top, np.float32) + t * np.array(bottom, np.float32)
    return np.clip(ground + 0.5, 0, 255).astype(np.uint8)


def shade_ellipsoid(image: np.ndarray, cx: float, cy: float, ax: float, ay: float,
                    color: Color, light: np.ndarray, ambient: float = 0.25,
                    shine: float = 0.0) -> None:
    """Paint a lit ellipsoid (Lambert shading plus an optional highlight) into `image`.

    `light` is a unit 3-vector (x right, y down, z towards the viewer)."""
    h, w = image.shape[:2]
    x0, x1 = max(int(cx - ax) - 1, 0), min(int(cx + ax) + 2, w)
    y0, y1 = max(int(cy - ay) - 1, 0), min(int(cy + ay) + 2, h)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    u, v = (xx + 0.5 - cx) / ax, (yy + 0.5 - cy) / ay
    r2 = u * u + v * v
    inside = r2 < 1.0
    if not inside.any():
        return
    z = np.sqrt(np.clip(1.0 - r2, 0, 1))
    lambert = np.clip(u * light[0] + v * light[1] + z * light[2], 0, 1)
    shade = ambient + (1 - ambient) * lambert
    patch = image[y0:y1, x0:x1].astype(np.float32)
    lit = shade[..., None] * np.array(color, np.float32)
    if shine > 0:
        half = light + np.array([0, 0, 1.0], np.float32)
        half /= np.linalg.norm(half)
        spec = np.clip(u * half[0] + v * half[1] + z * half[2], 0, 1) ** 24
        lit += shine * 255.0 * spec[..., None]
    # Soft edge: one pixel of anti-aliasing on the silhouette.
    alpha = np.clip((1.0 - np.sqrt(r2)) * min(ax, ay), 0, 1)[..., None]
    patch = patch * (1 - alpha) + lit * alpha
    image[y0:y1, x0:x1] = np.clip(patch + 0.5, 0, 255).astype(np.uint8)


def random_light(rng: np.random.Generator) -> np.ndarray:
    angle = rng.uniform(0, 2 * np.pi)
    light = np.array([np.cos(angle) * 0.7, np.sin(angle) * 0.7 - 0.3, 0.8], np.float32)
    return light / np.linalg.norm(light)


def soft_shadow(image: np.ndarray, center: tuple[float, float], axes: tuple[float, float],
                strength: float) -> None:
    """Darken an elliptical blurred patch (a shadow cast on the ground)."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (int(center[0]), int(center[1])),
                (max(int(axes[0]), 1), max(int(axes[1]), 1)), 0, 0, 360, 1.0, -1)
    k = max(int(min(h, w) * 0.04) * 2 + 1, 3)
    mask = cv2.GaussianBlur(mask, (k, k), 0)
    image[:] = (image * (1 - strength * mask)[..., None]).astype(np.uint8)


def lighting(rng: np.random.Generator, h: int, w: int, low: float = 0.7,
             high: float = 1.15) -> np.ndarray:
    """A smooth multiplicative light field: a linear gradient in a random direction, plus an
    optional vignette."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    t = ((xx / max(w - 1, 1) - 0.5) * np.cos(angle) + (yy / max(h - 1, 1) - 0.5) *
         np.sin(angle)) + 0.5
    field = low + (high - low) * t
    if rng.random() < 0.5:
        r2 = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2
        field *= 1 - rng.uniform(0.1, 0.4) * r2
    return field.astype(np.float32)


def finish(rng: np.random.Generator, image: np.ndarray, noise: tuple[float, float] = (2, 9),
           blur: float = 0.5, blur_scale: float = 1.0) -> np.ndarray:
    """Photograph the drawing: exposure and white balance, uneven light, sensor noise and,
    with probability `blur`, a little blur (`blur_scale` 1: up to 0.9 px at 128 px).
    Returns uint8 RGB."""
    h, w = image.shape[:2]
    gains = rng.uniform(0.8, 1.2, 3).astype(np.float32) * rng.uniform(0.7, 1.25)
    image = image.astype(np.float32) * gains * lighting(rng, h, w)[..., None]
    if rng.random() < blur:
        sigma = rng.uniform(0.3, 0.9) * max(h, w) / 128 * blur_scale
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image + rng.normal(0, rng.uniform(*noise), image.shape).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)
