"""The original tutorial's training job, end to end through ``Colorizer.fit``: wall time and img/s.

    python benchmarks/original_job.py PHOTOS_DIR --arch wallner_beta default
    python benchmarks/original_job.py PHOTOS_DIR --time-limit 300 --mixed-precision bfloat16

The job: 250 epochs over 1,520 photos at 256 px, i.e. 380,000 training crops. Here the photos
are the folder's (repeated, with new random crops each pass, so an epoch is about 1,520 crops),
read from files by bwcolor's data pipeline (decoded once into a cache), the way a user trains.
Everything counts: scanning the folder, building and compiling the model, every epoch.

``--time-limit`` stops a run after the epoch that passes it; the JSON then reports the crops done
and projects the whole job from the measured steady rate (epochs after the first, which holds
the compile). On a GPU it also samples utilization with ``nvidia-smi`` each 0.5 s. Prints one
JSON object per architecture.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import tempfile
import threading
import time

JOB_CROPS = 250 * 1520


class GPUSampler(threading.Thread):
    """Samples GPU utilization (%) in the background while training runs."""

    def __init__(self, period=0.5):
        super().__init__(daemon=True)
        self.period, self.samples, self._done = period, [], threading.Event()
        self.available = shutil.which("nvidia-smi") is not None

    def run(self):
        while self.available and not self._done.wait(self.period):
            out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                                  "--format=csv,noheader,nounits"], capture_output=True, text=True)
            try:
                util, mem = (float(v) for v in out.stdout.splitlines()[0].split(","))
            except (ValueError, IndexError):
                continue
            self.samples.append((util, mem))

    def stop(self):
        self._done.set()

    def summary(self):
        if not self.samples:
            return None
        util = sorted(s[0] for s in self.samples)
        return {"mean_util_pct": round(sum(util) / len(util), 1),
                "median_util_pct": util[len(util) // 2],
                "max_memory_mib": max(s[1] for s in self.samples), "samples": len(util)}


def run_job(arch, photos, args):
    import keras

    from bwcolor import Colorizer, _backend, architectures, data

    class EpochClock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_epoch_end(self, epoch, logs=None):
            self.ends.append(time.perf_counter())

    # Sizing the epochs needs the usable photo count; that scan is the benchmark's, not the job's
    # (fit scans the folder again, inside the timed part).
    n_photos = len(data.scan(photos, image_size=args.size, fractions=(1.0, 0.0, 0.0))[0]["train"])
    t0 = time.perf_counter()
    loss = "mse" if arch.startswith("wallner") else "auto"
    optimizer = "rmsprop" if arch.startswith("wallner") else "adam"
    c = Colorizer(arch, image_size=args.size, loss=loss, optimizer=optimizer)
    repeats = max(1, round(args.crops_per_epoch / n_photos))
    crops_per_epoch = (n_photos * repeats // args.batch_size) * args.batch_size
    epochs = math.ceil(args.job_crops / crops_per_epoch)
    clock = EpochClock()
    sampler = GPUSampler()
    sampler.start()
    fit_started = time.perf_counter()
    history = c.fit(photos, epochs=epochs, batch_size=args.batch_size, validation_split=0.0,
                    test_split=0.0, repeats=repeats, workers=args.workers,
                    use_multiprocessing=args.processes, cache_dir=args.cache_dir,
                    mixed_precision=args.mixed_precision, time_budget=args.time_limit,
                    targets_on_device=args.targets_on_device,
                    crops_on_device=args.crops_on_device, callbacks=[clock], verbose=0)
    sampler.stop()
    wall = time.perf_counter() - t0
    done = len(clock.ends)
    steady = None
    if done >= 2:
        steady = crops_per_epoch * (done - 1) / (clock.ends[-1] - clock.ends[0])
    first_epoch_s = clock.ends[0] - fit_started if done else None
    projected = None
    if steady:
        projected = (clock.ends[0] - t0) + (args.job_crops - crops_per_epoch) / steady
    flops = architectures.flops(c.model, args.size)
    return {
        "arch": arch, "size": args.size, "batch_size": args.batch_size,
        "params": c.model.count_params(), "backend": _backend.name(), "devices": _backend.devices(),
        "mixed_precision": c.config["mixed_precision"],
        "targets_on_device": c.metadata["training"]["targets_on_device"],
        "crops_on_device": c.metadata["training"]["crops_on_device"],
        "photos": n_photos, "crops_per_epoch": crops_per_epoch, "epochs_planned": epochs,
        "epochs_done": done, "crops_done": done * crops_per_epoch,
        "job_complete": done * crops_per_epoch >= args.job_crops,
        "final_loss": history.history["loss"][-1] if history.history else None,
        "wall_s": round(wall, 1), "first_epoch_s_incl_compile": first_epoch_s and round(first_epoch_s, 1),
        "steady_img_per_s": steady and round(steady, 1),
        "projected_job_s": projected and round(projected, 1),
        "train_tflops_per_s": steady and round(3 * flops * steady / 1e12, 2),
        "gpu": sampler.summary(),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos")
    p.add_argument("--arch", nargs="+", default=["wallner_beta", "default"])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--job-crops", type=int, default=JOB_CROPS)
    p.add_argument("--crops-per-epoch", type=int, default=1520)
    p.add_argument("--mixed-precision", default="auto", help="auto, bfloat16, float16 or none")
    p.add_argument("--workers", default="auto",
                   help="fit's workers: 'auto' (1 with crops on the device, else 2) or a number")
    p.add_argument("--processes", action="store_true", help="process workers instead of threads")
    p.add_argument("--time-limit", type=float, default=None, help="seconds of training per arch")
    p.add_argument("--cache-dir", default=None, help="decode cache (default: a temporary folder)")
    p.add_argument("--targets-on-device", default="auto", choices=["auto", "true", "false"])
    p.add_argument("--crops-on-device", default="auto", choices=["auto", "true", "false"])
    args = p.parse_args()
    args.workers = args.workers if args.workers == "auto" else int(args.workers)
    if args.mixed_precision == "none":
        args.mixed_precision = None
    args.targets_on_device = {"true": True, "false": False}.get(args.targets_on_device, "auto")
    args.crops_on_device = {"true": True, "false": False}.get(args.crops_on_device, "auto")

    from bwcolor import _backend

    _backend.enable_compilation_cache()
    with tempfile.TemporaryDirectory() as tmp:
        args.cache_dir = args.cache_dir or tmp
        for arch in args.arch:
            print(json.dumps(run_job(arch, args.photos, args)), flush=True)


if __name__ == "__main__":
    main()
