#!/usr/bin/env bash
# The model card's metrics table: every bundled preset and the gray baseline, on the test split
# of the training photos, at one common crop size (192 px, the default's training size).
#   bash scripts/model_card_metrics.sh PHOTOS_DIR
set -euo pipefail
photos=${1:?usage: model_card_metrics.sh PHOTOS_DIR}
for model in gray seed default; do
  printf '{"model": "%s", "scores": ' "$model"
  bwcolor evaluate "$photos" --split test --size 192 --model "$model" --json | tr -d '\n'
  echo '}'
done
