"""How fast Keras' fit loop can take crops_on_device batches from bwcolor's data pipeline.

    python benchmarks/fit_loop_ceiling.py PHOTOS_DIR --size 256 --batch-size 64 --workers 1 2 4

The model does almost nothing (a mean over the crop boxes, one weight), so the rate measured is
the ceiling set by everything around the accelerator: the PyDataset workers slicing windows, the
enqueuer, Keras' per-step work and handing each 64 x 386 x 386 x 3 uint8 batch to the backend.
A GPU run of the original job cannot be faster than this on the same host. Prints JSON lines.
``--workers 1`` is Keras' synchronous path (no enqueuer: the loop slices each batch itself); on
an H100's 16-core host it took 7,635 crops/s against 3,439 with 2 threads, which is why fit's
``workers="auto"`` picks 1 when crops are made on the device.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time


def measure(paths, size, batch, workers, epochs, cache_dir, repeats):
    import keras

    from bwcolor import _backend
    from bwcolor.data import ColorizationDataset

    windows = keras.Input((None, None, 3), dtype="uint8", name="windows")
    boxes = keras.Input((7,), name="boxes")
    out = keras.layers.Dense(1)(boxes)  # the windows reach the backend but are not computed on
    model = keras.Model([windows, boxes], out)

    class NoTargets(keras.Model):  # the batches carry no targets: the crops would make them
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return keras.ops.mean(keras.ops.square(y_pred))

    trainer = NoTargets(model.inputs, model.outputs)
    trainer.compile(optimizer="sgd")
    ds = ColorizationDataset(paths, size, batch, training=True, crop_on_device=True,
                             cache_dir=cache_dir, workers=workers, repeats=repeats)

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

    clock = Clock()
    trainer.fit(ds, epochs=epochs, callbacks=[clock], verbose=0, shuffle=False)
    crops = len(ds) * ds.batch_size
    rate = crops * (epochs - 2) / (clock.ends[-1] - clock.ends[1])  # after the cache is warm
    return {"benchmark": "fit_loop_ceiling", "backend": _backend.name(), "image_size": size,
            "batch_size": ds.batch_size, "window_side": ds.window_side, "workers": workers,
            "crops_per_epoch": crops, "crops_per_s": round(rate, 1),
            "steps_per_s": round(rate / ds.batch_size, 2)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--workers", nargs="+", type=int, default=[2])
    p.add_argument("--epochs", type=int, default=4, help="at least 3: two warm the cache")
    p.add_argument("--repeats", type=int, default=4)
    args = p.parse_args()
    from bwcolor.data import scan

    paths = scan(args.photos, image_size=args.size, fractions=(1.0, 0.0, 0.0))[0]["train"]
    with tempfile.TemporaryDirectory() as cache:
        for workers in args.workers:
            print(json.dumps(measure(paths, args.size, args.batch_size, workers,
                                     max(3, args.epochs), cache, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
