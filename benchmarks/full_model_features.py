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

With ``--fit-epoch``, times instead a whole short ``Colorizer.fit`` (``--epochs``, one pass over
``--photos`` sample photos a epoch, no run folder, float32) with ``backbone_features="cache"``
and with ``"every_step"``: the whole fit's seconds (for "cache" with the photos' features,
computed once before the first epoch), each epoch's, and the median epoch after the first
(which compiles).
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
    p.add_argument("--fit-epoch", action="store_true", help="time whole fit epochs instead")
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args()
    if args.fit_epoch:
        print(json.dumps(_fit_epochs(args)))
        return

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


def _fit_epochs(args):
    import shutil
    import tempfile
    from pathlib import Path

    import keras

    from bwcolor import Colorizer
    from bwcolor.data import write_sample_folder

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(round(time.perf_counter() - self.t, 3))

    folder = Path(tempfile.mkdtemp(prefix="bwcolor-bench-"))
    try:
        write_sample_folder(folder / "0", short_side=int(args.size * 1.5))
        originals = sorted((folder / "0").iterdir())
        for i in range(args.photos):  # copies of the samples, as many photos as asked
            shutil.copy(originals[i % len(originals)], folder / f"{i:04d}.jpg")
        shutil.rmtree(folder / "0")
        result = {"backend": keras.backend.backend(), "backbone": args.backbone,
                  "crop_size": args.size, "batch_size": args.batch_size, "photos": args.photos,
                  "epochs": args.epochs, "width_scale": args.width_scale,
                  "cpu_count": os.cpu_count()}
        for mode in ("cache", "every_step"):
            c = Colorizer("wallner_full", image_size=args.size,
                          architecture_config={"backbone": args.backbone,
                                               "backbone_weights": None,
                                               "width_scale": args.width_scale})
            times = EpochTimes()
            times.seconds = []
            t = time.perf_counter()
            c.fit(folder, epochs=args.epochs, batch_size=args.batch_size, validation_split=0.0,
                  test_split=0.0, verbose=0, mixed_precision=None, backbone_features=mode,
                  callbacks=[times])
            later = times.seconds[1:] or times.seconds
            result[mode] = {"fit_s": round(time.perf_counter() - t, 2),
                            "epoch_s": times.seconds,
                            "median_epoch_s_after_first": round(statistics.median(later), 3)}
        result["epoch_speedup"] = round(result["every_step"]["median_epoch_s_after_first"]
                                        / result["cache"]["median_epoch_s_after_first"], 2)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
