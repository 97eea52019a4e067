"""Inference speed: Keras `predict`, a Keras `tf.function` and onnxruntime on the same
weights and inputs, then `artkit predict` end to end, int8 vs float, and peak memory.

    .venv/bin/python benchmarks/bench_inference.py                        # InceptionV3 299 px
    .venv/bin/python benchmarks/bench_inference.py --network mobilenet --size 224
    .venv/bin/python benchmarks/bench_inference.py --photos /path/to/jpegs  # real photos

The network is the Keras application with random weights (speed does not depend on the
values) and 12 classes, converted by artkit's own converter (plugins/keras_onnx.py) and
run in artkit's session (graph optimisation ALL, threads = CPUs). Every figure is a ratio
from this one run; absolute images/s are printed for context only.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

NETWORKS = {"inception-v3": "InceptionV3", "mobilenet": "MobileNet", "vgg19": "VGG19"}


def keras_network(name: str, size: int):
    import keras

    application = getattr(keras.applications, NETWORKS[name])
    extra = {"alpha": 0.25} if name == "mobilenet" else {}
    return application(weights=None, input_shape=(size, size, 3), classes=12, **extra)


def exported(model, size: int, folder: Path) -> Path:
    """The network as an artkit ONNX file (with metadata, so `artkit predict` takes it)."""
    import onnx

    from artkit import __version__
    from artkit.runtime.metadata import write_metadata
    from plugins.keras_onnx import keras_onnx_graph

    graph = keras_onnx_graph(model, (size, size), 17, {"scale": 1 / 127.5, "mean": 1.0})
    write_metadata(graph.model, {
        "artkit_version": __version__, "model": "benchmark", "task": "multiclass",
        "labels": [f"class_{i}" for i in range(12)], "input_kind": "image",
        "input_size": [size, size], "colour_order": "RGB", "outputs": ["scores"],
        "preprocessing": graph.preprocessing})
    path = folder / "bench.onnx"
    onnx.save(graph.model, str(path))
    return path


def main() -> None:
    import tensorflow as tf

    from artkit.export.quantize import quantize_file
    from artkit.runtime.benchmark import (
        BATCH_SIZES,
        images_per_second,
        ort_throughput,
        predict_process,
        random_images,
        write_photo_like_jpegs,
    )
    from artkit.runtime.metadata import read_metadata
    from artkit.runtime.session import cpu_count, create_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=sorted(NETWORKS), default="inception-v3")
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--photos", type=Path, help="Folder of JPEGs for the end-to-end run "
                        "(default: photo-like 640x480 JPEGs written here).")
    parser.add_argument("--n-photos", type=int, default=256)
    args = parser.parse_args()
    size = args.size
    work = Path(tempfile.mkdtemp(prefix="bench-inference-"))

    model = keras_network(args.network, size)
    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec((None, size, size, 3), tf.float32)])
    onnx_path = exported(model, size, work)
    session = create_session(onnx_path, device="cpu")
    print(f"{args.network} {size}x{size}, {cpu_count()} CPUs, onnxruntime threads = CPUs")

    # 1. same weights, same inputs: Keras predict, tf.function, onnxruntime
    ort = ort_throughput(session, (size, size))
    rows = []
    for b in BATCH_SIZES:
        batch = random_images(b, (size, size))
        predict = images_per_second(lambda x: model.predict(x, batch_size=len(x), verbose=0),
                                    batch)
        function = images_per_second(lambda x: forward(x).numpy(), batch)
        rows.append((b, predict, function, ort[b]))
    print("\nbatch  keras.predict  tf.function  onnxruntime   ORT/predict  ORT/tf.function")
    for b, predict, function, o in rows:
        print(f"{b:5d}  {predict:13.1f}  {function:11.1f}  {o:11.1f}   {o / predict:10.2f}x"
              f"  {o / function:14.2f}x")

    # 2. artkit predict end to end vs onnxruntime on ready arrays; memory over N and 4N files
    photos = sorted(args.photos.glob("*.jpg")) if args.photos else \
        write_photo_like_jpegs(work / "photos", args.n_photos)
    quarter = photos[: max(1, len(photos) // 4)]
    small = predict_process(onnx_path, quarter)
    full = predict_process(onnx_path, photos, output=work / "out.jsonl")
    ceiling = ort[32]
    print(f"\nartkit predict on {full['images']} JPEGs ({'given' if args.photos else '640x480'})"
          f": {full['images_per_s']:.1f} images/s; onnxruntime alone at batch 32: "
          f"{ceiling:.1f} images/s; end-to-end / onnxruntime = "
          f"{full['images_per_s'] / ceiling:.2f}")
    print(f"peak RSS of artkit predict: {small['peak_rss_mb']:.0f} MB on {small['images']} "
          f"files, {full['peak_rss_mb']:.0f} MB on {full['images']} files")

    # 3. int8 (static QDQ, calibrated on 32 of the photos) vs float
    int8_path = work / "bench.int8.onnx"
    quantize_file(onnx_path, int8_path, photos[:32], read_metadata(onnx_path))
    int8 = ort_throughput(create_session(int8_path, device="cpu"), (size, size), (1, 32))
    print(f"\nint8 / float onnxruntime speed: batch 1 {int8[1] / ort[1]:.2f}x, batch 32 "
          f"{int8[32] / ort[32]:.2f}x; file size {int8_path.stat().st_size / 1e6:.1f} MB vs "
          f"{onnx_path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
