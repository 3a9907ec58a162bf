"""Does splitting one CPU into 2 XLA host devices (keras.distribution.DataParallel) train faster?

    python benchmarks/cpu_data_parallel.py --arch default unet --size 128

One XLA CPU device keeps only ~1.4 of 2 cores busy. Each configuration runs in a fresh process,
because XLA_FLAGS must be set before JAX starts. Prints one JSON object per configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = """
import json, sys, time
import numpy as np
import keras
from bwcolor import Colorizer, architectures
arch, size, batch, devices = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
if devices > 1:
    keras.distribution.set_distribution(keras.distribution.DataParallel())
c = Colorizer(arch, image_size=size, loss="l1")
c.model.compile(optimizer="adam", loss=c._loss())
k = architectures.output_stride(c.model)
rng = np.random.default_rng(0)
x = rng.uniform(-1, 1, (batch, size, size, 1)).astype("float32")
y = rng.uniform(-0.3, 0.3, (batch, size // k, size // k, 2)).astype("float32")
for _ in range(2):
    c.model.train_on_batch(x, y)
t = time.perf_counter()
for _ in range(6):
    c.model.train_on_batch(x, y)
print(json.dumps({"images_per_s": round(6 * batch / (time.perf_counter() - t), 2)}))
"""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", nargs="+", default=["default", "unet"])
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args()
    for arch in args.arch:
        for devices in (1, 2):
            env = {**os.environ, "KERAS_BACKEND": "jax",
                   "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
            out = subprocess.run([sys.executable, "-c", CHILD, arch, str(args.size),
                                  str(args.batch_size), str(devices)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            print(json.dumps({"benchmark": "cpu_data_parallel", "architecture": arch,
                              "image_size": args.size, "batch_size": args.batch_size,
                              "host_devices": devices, **json.loads(out.strip().splitlines()[-1])}),
                  flush=True)


if __name__ == "__main__":
    main()
