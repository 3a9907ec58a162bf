#!/usr/bin/env bash
# The original job on one GPU, as one prepared script (GPU time is scarce: run it once).
#
#   bash benchmarks/gpu_original_job.sh PHOTOS_DIR [SECONDS_PER_ARCH] [ARCH ...]
#
# 1. What the host pipeline can deliver at 256 px, crops made on the host ("rgb") and on the
#    device ("windows"), cache warm.
# 2. The ceiling of Keras' fit loop fed by that pipeline (a model that computes nothing).
# 3. The tutorial's job (380,000 crops at 256 px) through Colorizer.fit with crops made on the
#    device, bfloat16, batch 64, fit's default workers; stopped after SECONDS_PER_ARCH (default
#    240) if not done, then projected from the steady rate; GPU utilization sampled with nvidia-smi.
# Prints JSON lines. Photos resized beforehand to a short side of 384 px decode fastest.
# JOB_ARGS (environment) is appended to the job's arguments, e.g. for a small trial on a CPU:
#   JOB_ARGS="--size 64 --batch-size 16 --job-crops 256 --crops-per-epoch 128" bash ...
set -euo pipefail
photos=${1:?usage: gpu_original_job.sh PHOTOS_DIR [SECONDS_PER_ARCH] [ARCH ...]}
limit=${2:-240}
shift $(( $# < 2 ? $# : 2 ))
archs=("${@:-wallner_beta}")
export KERAS_BACKEND=${KERAS_BACKEND:-jax} PYTHONUNBUFFERED=1
python=${PYTHON:-python3}  # the GPU image has python3 only
cd "$(dirname "$0")/.."
"$python" benchmarks/data_pipeline.py --photos "$photos" --size 256 --workers 2 8 \
    --targets rgb windows --no-degradations --batch-size 64 --repeats 4 --rss-files
"$python" benchmarks/fit_loop_ceiling.py "$photos" --workers 1 2 4 --repeats 8
"$python" benchmarks/original_job.py "$photos" --arch "${archs[@]}" --mixed-precision bfloat16 \
    --batch-size 64 --crops-on-device true --time-limit "$limit" ${JOB_ARGS:-}
