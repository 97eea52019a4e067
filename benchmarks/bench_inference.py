"""Inference speed: Keras `predict`, a Keras `tf.function` and onnxruntime on the same
weights and inputs, then `artkit predict` end to end, int8 vs float, and peak memory.

    .venv/bin/python benchmarks/bench_inference.py                        # InceptionV3 299 px
    .venv/bin/python benchmarks/bench_inference.py --network mobilenet --size 224
    .venv/bin/python benchmarks/bench_inference.py --photos /path/to/jpegs  # real photos

The network is the Keras application with random weights (speed does not depend on the
values) and 12 classes, converted by artkit's own converter (plugins/lib/keras_onnx.py) and
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

    from artkit.formats.model_card import ModelCard
    from artkit_plugins.lib.keras_onnx import keras_onnx_graph

    graph = keras_onnx_graph(model, (size, size), 17, {"scale": 1 / 127.5, "mean": 1.0})
    ModelCard(model="benchmark", task="multiclass", labels=[f"class_{i}" for i in range(12)],
              input_kind="image", input_size=(size, size), outputs=["scores"],
              preprocessing=graph.preprocessing).embed(graph.model)
    path = folder / "bench.onnx"
    onnx.save(graph.model, str(path))
    return path


def main() -> None:
    import tensorflow as tf

    from artkit.api.benchmark import predict_process
    from artkit.formats.model_card import ModelCard
    from artkit.onnx_export.quantize import quantize_file
    from artkit.runtime.benchmark import (
        BATCH_SIZES,
        batch_runner,
        best_rates,
        end_to_end,
        random_images,
        session_runner,
        write_photo_like_jpegs,
    )
    from artkit.runtime.preprocess import loader_for
    from artkit.runtime.session import cpu_count, create_session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", choices=sorted(NETWORKS), default="inception-v3")
    parser.add_argument("--size", type=int, default=299)
    parser.add_argument("--photos", type=Path, help="Folder of JPEGs for the end-to-end run "
                        "(default: photo-like 640x480 JPEGs written here).")
    parser.add_argument("--n-photos", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3,
                        help="Interleaved rounds; each measure keeps its best round.")
    args = parser.parse_args()
    size = args.size
    work = Path(tempfile.mkdtemp(prefix="bench-inference-"))

    model = keras_network(args.network, size)
    forward = tf.function(lambda x: model(x, training=False),
                          input_signature=[tf.TensorSpec((None, size, size, 3), tf.float32)])
    onnx_path = exported(model, size, work)
    session = create_session(onnx_path, device="cpu")
    print(f"{args.network} {size}x{size}, {cpu_count()} CPUs, onnxruntime threads = CPUs, "
          f"best of {args.rounds} interleaved rounds")

    # 1. same weights, same inputs: Keras predict, tf.function, onnxruntime
    methods = {"keras.predict": lambda x: model.predict(x, batch_size=len(x), verbose=0),
               "tf.function": lambda x: forward(x).numpy(), "onnxruntime": session_runner(session)}
    print("\nbatch  keras.predict  tf.function  onnxruntime   ORT/predict  ORT/tf.function")
    for b in BATCH_SIZES:
        batch = random_images(b, (size, size))
        rate = best_rates({k: batch_runner(f, batch) for k, f in methods.items()}, args.rounds)
        o = rate["onnxruntime"]
        print(f"{b:5d}  {rate['keras.predict']:13.1f}  {rate['tf.function']:11.1f}  {o:11.1f}"
              f"   {o / rate['keras.predict']:10.2f}x  {o / rate['tf.function']:14.2f}x")

    # 2. artkit predict end to end vs onnxruntime on ready arrays; memory over N/4 and N files
    photos = sorted(args.photos.glob("*.jpg")) if args.photos else \
        write_photo_like_jpegs(work / "photos", args.n_photos)
    e2e = end_to_end(onnx_path, photos, session, (size, size),
                     loader_for(ModelCard.read(onnx_path)), predict_process,
                     rounds=args.rounds,
                     workers=cpu_count())
    print(f"\nartkit predict on {e2e['images']} JPEGs "
          f"({'given' if args.photos else 'photo-like 640x480'}): "
          f"{e2e['predict_images_per_s']:.1f} images/s; onnxruntime alone on as many images "
          f"at batch 32 (R): {e2e['ort_images_per_s']:.1f} images/s; decode + resize alone (D): "
          f"{e2e['decode_images_per_s']:.1f} images/s; end-to-end / onnxruntime = "
          f"{e2e['ratio']:.2f}; end-to-end / limit 1/(1/D+1/R) = {e2e['ratio_to_limit']:.2f}")
    print(f"peak RSS of artkit predict: {e2e['peak_rss_mb_quarter']:.0f} MB on "
          f"{e2e['images_quarter']} files, {e2e['peak_rss_mb']:.0f} MB on {e2e['images']} files")

    # 3. int8 (static QDQ, calibrated on 32 of the photos) vs float
    int8_path = work / "bench-int8.onnx"
    quantize_file(onnx_path, int8_path, photos[:32], ModelCard.read(onnx_path))
    int8 = session_runner(create_session(int8_path, device="cpu"))
    float32 = session_runner(session)
    ratios = []
    for b in (1, 32):
        batch = random_images(b, (size, size))
        rate = best_rates({"int8": batch_runner(int8, batch),
                           "float": batch_runner(float32, batch)}, args.rounds)
        ratios.append(f"batch {b} {rate['int8'] / rate['float']:.2f}x "
                      f"({rate['int8']:.1f} vs {rate['float']:.1f} images/s)")
    print(f"\nint8 / float onnxruntime speed: {'; '.join(ratios)}; file size "
          f"{int8_path.stat().st_size / 1e6:.1f} MB vs {onnx_path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
