"""Experiment: a learned dense painting detector beside the frames methods (issue #12).

A CenterNet-style head (Zhou et al. 2019: a centre heatmap, a sub-cell offset and a log
size per cell) on MobileNet alpha 0.25 at stride 16, from the Keras Applications ImageNet
weights, trained with full box supervision on synthetic rooms (procedural paintings, each
room also seen as two random 16:9 zoomed windows), then scored on estense-dev's two halves
like benchmarks/detection_estense.py. Photos are stretched to 320x192. Not a detection
method plugin: it measured below `frames+cnn` (docs/detection.md), so it stays a script.

    .venv/bin/python benchmarks/exp_dense_detector.py --rooms ROOMS --epochs 16 \\
        --weights mobilenet_2_5_224_tf_no_top.h5
(ROOMS: `artkit data synth ROOMS --task detection --n 800 --size 960 --seed 2`)
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import cv2
import numpy as np
from detection_estense import recall_by_size, split_of
from scipy import ndimage

from artkit.contracts import Detections
from artkit.detection.coco import read_coco_truth
from artkit.training.evaluation import evaluator_for

HEIGHT, WIDTH, STRIDE = 192, 320, 16
GRID = (HEIGHT // STRIDE, WIDTH // STRIDE)


def load_rooms(folder: Path, zooms: int, rng: np.random.Generator
               ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every room (and `zooms` random 16:9 windows of it) at 320x192, with its boxes."""
    coco = json.loads((folder / "annotations_coco.json").read_text())
    boxes: dict[int, list[list[float]]] = {i["id"]: [] for i in coco["images"]}
    for ann in coco["annotations"]:
        x, y, w, h = ann["bbox"]
        boxes[ann["image_id"]].append([x, y, x + w, y + h])
    images, targets = [], []
    for record in coco["images"]:
        image = cv2.cvtColor(cv2.imread(str(folder / record["file_name"])), cv2.COLOR_BGR2RGB)
        height, width = image.shape[:2]
        found = np.array(boxes[record["id"]], float).reshape(-1, 4)
        for zoom in range(zooms + 1):
            x0, y0, cw, ch = 0, 0, width, height
            if zoom:
                cw = int(width * rng.uniform(0.35, 1.0))
                ch = min(height, int(cw * 9 / 16))
                x0 = int(rng.uniform(0, width - cw + 1))
                y0 = int(rng.uniform(0, height - ch + 1))
            window = found - [x0, y0, x0, y0]
            whole = (window[:, 2] - window[:, 0]) * (window[:, 3] - window[:, 1])
            window[:, [0, 2]] = window[:, [0, 2]].clip(0, cw)
            window[:, [1, 3]] = window[:, [1, 3]].clip(0, ch)
            seen = (window[:, 2] - window[:, 0]) * (window[:, 3] - window[:, 1])
            window = window[seen >= 0.5 * np.maximum(whole, 1)]
            images.append(cv2.resize(image[y0:y0 + ch, x0:x0 + cw], (WIDTH, HEIGHT),
                                     interpolation=cv2.INTER_AREA))
            targets.append(window * [WIDTH / cw, HEIGHT / ch, WIDTH / cw, HEIGHT / ch])
    return np.stack(images), targets


def encode(targets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian centre heatmaps (n, h, w, 1) and offset, log size and mask (n, h, w, 5)."""
    rows, cols = GRID
    heat = np.zeros((len(targets), rows, cols, 1), np.float32)
    regression = np.zeros((len(targets), rows, cols, 5), np.float32)
    grid_y, grid_x = np.mgrid[0:rows, 0:cols]
    for n, found in enumerate(targets):
        for x1, y1, x2, y2 in found:
            w, h = (x2 - x1) / STRIDE, (y2 - y1) / STRIDE
            cx, cy = (x1 + x2) / 2 / STRIDE, (y1 + y2) / 2 / STRIDE
            ix, iy = min(int(cx), cols - 1), min(int(cy), rows - 1)
            sigma = max(0.5, 0.15 * math.sqrt(w * h) + 0.3)
            blob = np.exp(-((grid_x - ix) ** 2 + (grid_y - iy) ** 2) / (2 * sigma ** 2))
            heat[n, ..., 0] = np.maximum(heat[n, ..., 0], blob)
            regression[n, iy, ix] = [cx - ix, cy - iy, math.log(max(w, 0.1)),
                                     math.log(max(h, 0.1)), 1.0]
    return heat, regression


def network(weights: str):
    import tensorflow as tf

    base = tf.keras.applications.MobileNet(input_shape=(HEIGHT, WIDTH, 3), alpha=0.25,
                                           include_top=False, weights=weights)
    features = base.get_layer("conv_pw_11_relu").output  # stride 16
    hidden = tf.keras.layers.Conv2D(64, 3, padding="same", activation="relu")(features)
    heat = tf.keras.layers.Conv2D(1, 1, activation="sigmoid", name="heat",
                                  bias_initializer=tf.keras.initializers.Constant(-2.2))(hidden)
    regression = tf.keras.layers.Conv2D(4, 1, name="regression")(hidden)
    return tf.keras.Model(base.input, [heat, regression])


def focal_loss(truth, predicted):
    """CenterNet's penalty-reduced focal loss, per positive cell."""
    import tensorflow as tf

    predicted = tf.clip_by_value(predicted, 1e-4, 1 - 1e-4)
    positive = tf.cast(truth >= 0.99, tf.float32)
    loss = -positive * (1 - predicted) ** 2 * tf.math.log(predicted) \
        - (1 - positive) * (1 - truth) ** 4 * predicted ** 2 * tf.math.log(1 - predicted)
    return tf.reduce_sum(loss) / tf.maximum(tf.reduce_sum(positive), 1.0)


def regression_loss(truth, predicted):
    """L1 on offset and log size, at the centre cells only."""
    import tensorflow as tf

    mask = truth[..., 4:5]
    return tf.reduce_sum(tf.abs(predicted - truth[..., :4]) * mask) / \
        tf.maximum(tf.reduce_sum(mask), 1.0)


def decode(heat: np.ndarray, regression: np.ndarray, top: int = 50
           ) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (x1, y1, x2, y2 in network pixels) and scores at the heatmap's 3x3 peaks."""
    heat = heat[..., 0]
    peaks = (heat == ndimage.maximum_filter(heat, 3)) & (heat > 1e-6)
    ys, xs = np.nonzero(peaks)
    order = np.argsort(-heat[ys, xs])[:top]
    ys, xs = ys[order], xs[order]
    dx, dy, log_w, log_h = (regression[ys, xs, k] for k in range(4))
    cx, cy = (xs + dx) * STRIDE, (ys + dy) * STRIDE
    w, h = np.exp(log_w) * STRIDE, np.exp(log_h) * STRIDE
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1), heat[ys, xs]


def main() -> None:
    import tensorflow as tf

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=Path, required=True)
    parser.add_argument("--weights", default="/work/shared/weights/"
                        "mobilenet_2_5_224_tf_no_top.h5")
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/estense-dev"))
    args = parser.parse_args()
    tf.random.set_seed(0)
    preprocess = tf.keras.applications.mobilenet.preprocess_input
    images, targets = load_rooms(args.rooms, 2, np.random.default_rng(0))
    heat, regression = encode(targets)
    model = network(args.weights)
    model.compile(tf.keras.optimizers.Adam(5e-4), loss=[focal_loss, regression_loss])
    model.fit(preprocess(images.astype(np.float32)), [heat, regression], batch_size=32,
              epochs=args.epochs, verbose=2, shuffle=True)

    truth = read_coco_truth(args.data / "annotations_coco.json", "painting")
    ids = sorted(truth.boxes)
    found, sizes = [], []
    start = time.perf_counter()
    for image_id in ids:
        photo = cv2.cvtColor(cv2.imread(str(args.data / truth.file_names[image_id])),
                             cv2.COLOR_BGR2RGB)
        height, width = photo.shape[:2]
        batch = preprocess(cv2.resize(photo, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
                           .astype(np.float32))[None]
        heat_map, offsets = model.predict(batch, verbose=0)
        boxes, scores = decode(heat_map[0], offsets[0])
        boxes = boxes * [width / WIDTH, height / HEIGHT, width / WIDTH, height / HEIGHT]
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, width)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, height)
        found.append(Detections(boxes, scores))
        sizes.append((height, width))
    print(f"{(time.perf_counter() - start) / len(ids):.3f} s/photo (Keras, one at a time)")
    evaluator = evaluator_for("detection")
    for part in ("tune", "report"):
        members = [k for k, i in enumerate(ids) if split_of(truth.file_names[i]) == part]
        gt = [truth.boxes[ids[k]] for k in members]
        metrics = evaluator.evaluate(gt, [found[k] for k in members], ["painting"], Path("."),
                                     plot=False).metrics
        print(part, {k: round(metrics[k], 3) for k in ("ap50", "ap", "recall50", "corloc")},
              recall_by_size(gt, [found[k] for k in members], [sizes[k] for k in members]))


if __name__ == "__main__":
    main()
