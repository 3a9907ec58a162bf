"""Training throughput (images/s) of architectures by image size, backend and precision.

    KERAS_BACKEND=torch python benchmarks/train_speed.py --arch default wallner_beta --size 128 256
    KERAS_BACKEND=jax   python benchmarks/train_speed.py --mixed-precision none

Trains on synthetic in-memory batches (the data pipeline has its own benchmark), after warm-up
steps that absorb compilation. Prints one JSON object per configuration.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def measure(arch, size, batch, steps, warmup, mixed_precision, loss, jit_compile="auto"):
    import keras

    from bwcolor import Colorizer, _backend, architectures

    c = Colorizer(arch, image_size=size, loss=loss)
    c.config["mixed_precision"] = mixed_precision
    c._rebuild_keeping_weights()
    if c.head == "classification":
        c.config["loss_config"]["weights"] = [1.0] * len(c.bins)
    c.model.compile(optimizer=c._optimizer(), loss=c._loss(), jit_compile=jit_compile)
    stride = architectures.output_stride(c.model)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, size, size, 1)).astype("float32")
    y = rng.uniform(-0.3, 0.3, (batch, size // stride, size // stride, 2)).astype("float32")
    for _ in range(warmup):
        c.model.train_on_batch(x, y)
    t = time.perf_counter()
    for _ in range(steps):
        loss_value = c.model.train_on_batch(x, y)
    seconds = time.perf_counter() - t
    flops = architectures.flops(c.model, size)
    return {
        "architecture": arch, "image_size": size, "batch_size": batch, "loss": c.config["loss"],
        "backend": _backend.name(), "mixed_precision": mixed_precision,
        "devices": _backend.devices(), "parameters": int(c.model.count_params()),
        "forward_gflops_per_image": round(flops / 1e9, 3),
        "images_per_s": round(steps * batch / seconds, 2),
        "train_tflops_per_s": round(3 * flops * steps * batch / seconds / 1e12, 3),
        "final_loss": float(np.asarray(loss_value)), "keras": keras.__version__,
        "jit_compile": c.model.jit_compile,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", nargs="+", default=["default", "wallner_beta", "unet"])
    p.add_argument("--size", nargs="+", type=int, default=[128, 256])
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--mixed-precision", nargs="+", default=["none", "bfloat16"])
    p.add_argument("--loss", default="auto")
    p.add_argument("--jit-compile", nargs="+", default=["auto"], choices=["auto", "true", "false"],
                   help="Keras' jit_compile: XLA on JAX, torch.compile on torch")
    args = p.parse_args()
    for arch in args.arch:
        for size in args.size:
            for mp in args.mixed_precision:
                mp = None if mp == "none" else mp
                for jit in args.jit_compile:
                    jit = {"true": True, "false": False}.get(jit, "auto")
                    print(json.dumps(measure(arch, size, args.batch_size, args.steps, args.warmup,
                                             mp, args.loss, jit)), flush=True)


if __name__ == "__main__":
    main()
