"""The Full model's training step with the frozen backbone run every step, and with its
features computed once (cached), on this machine's CPU.

    python benchmarks/full_model_features.py [--backbone MobileNetV3Small] [--size 128]
        [--batch-size 8] [--steps 5] [--photos 32] [--width-scale 1.0]

Builds ``wallner_full`` (the paper's widths unless ``--width-scale``) with a frozen backbone of
random weights (``backbone_weights=None``: no network; speed does not depend on the values),
then times ``train_on_batch`` of

- *uncached*: the fused net, the classifier running on every crop in every step;
- *cached*: ``backbones.split_features``' head fed features computed beforehand;

and the one-time cost of computing ``--photos`` photos' features (``features.predict``), which
a cached run pays once, not every epoch. After two warm-up steps (compiles), the median of
``--steps`` timed steps. Prints one JSON object. Wall time on a shared machine is noisy; each
step is also timed in process CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "jax")


def _time(fn, steps):
    fn()
    fn()  # warm-up: compiles
    wall, cpu = [], []
    for _ in range(steps):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {"median_s": round(statistics.median(wall), 4),
            "median_cpu_s": round(statistics.median(cpu), 4),
            "steps_s": [round(w, 4) for w in wall]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbone", default="MobileNetV3Small")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--photos", type=int, default=32)
    p.add_argument("--width-scale", type=float, default=1.0)
    args = p.parse_args()

    import keras
    import numpy as np

    from bwcolor import _backend, architectures
    from bwcolor.architectures import backbones

    with _backend.weights_will_be_loaded():  # zeros, then random values: skips init compiles
        model = architectures.get("wallner_full", backbone=args.backbone, backbone_weights=None,
                                  width_scale=args.width_scale)
    rng = np.random.default_rng(0)
    model.set_weights([(rng.uniform(0.5, 1.5, v.shape) if "variance" in v.path
                        else rng.normal(0, 0.02, v.shape)).astype("float32")
                       for v in model.weights])
    features, head = backbones.split_features(model)
    x = rng.uniform(-1, 1, (args.batch_size, args.size, args.size, 1)).astype("float32")
    y = rng.uniform(-0.4, 0.4, (args.batch_size, args.size, args.size, 2)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    head.compile(optimizer="adam", loss="mse")
    cached = features.predict(x, verbose=0)
    photos = rng.uniform(-1, 1, (args.photos, args.size, args.size, 1)).astype("float32")

    uncached = _time(lambda: model.train_on_batch(x, y), args.steps)
    with_cache = _time(lambda: head.train_on_batch([x, cached], y), args.steps)
    t = time.perf_counter()
    features.predict(photos, batch_size=args.batch_size, verbose=0)
    feature_pass = time.perf_counter() - t
    print(json.dumps({
        "backend": keras.backend.backend(), "backbone": args.backbone,
        "backbone_input_size": backbones.default_input_size(args.backbone),
        "crop_size": args.size, "batch_size": args.batch_size, "width_scale": args.width_scale,
        "cpu_count": os.cpu_count(),
        "uncached_step": uncached, "cached_step": with_cache,
        "speedup": round(uncached["median_s"] / with_cache["median_s"], 2),
        "features_once": {"photos": args.photos, "seconds": round(feature_pass, 3)},
    }))


if __name__ == "__main__":
    main()
