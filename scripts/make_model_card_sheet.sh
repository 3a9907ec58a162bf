#!/usr/bin/env bash
# The model card's comparison sheet: original / colors removed / [previous default] / default / seed.
#   bash scripts/make_model_card_sheet.sh [PREVIOUS_DEFAULT]
# PREVIOUS_DEFAULT, a preset folder (a copy of the bundled default before a change), adds its
# column, titled "previous default".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
previous=()
if [ $# -ge 1 ]; then
  [ -d "$1" ] || { echo "make_model_card_sheet.sh: PREVIOUS_DEFAULT must be a preset folder. Received: $1" >&2; exit 2; }
  ln -s "$(cd "$1" && pwd)" "$tmp/previous default"  # the column is titled by the model's name
  previous=(--model "previous default")
fi
python3 -c "
from bwcolor.data import write_sample_folder
write_sample_folder('$tmp', ['astronaut', 'coffee', 'rocket'], short_side=256)"
castle=$(python3 -c 'from bwcolor.data import sample_photo; print(sample_photo())')
(cd "$tmp" && bwcolor compare astronaut.jpg coffee.jpg rocket.jpg "$castle" -o sheet.png \
  "${previous[@]}" --model default --model seed)
python3 -c "
from PIL import Image
im = Image.open('$tmp/sheet.png').convert('RGB')
im.resize((900, round(im.height * 900 / im.width)), Image.LANCZOS).save('$root/docs/images/model_card_sheet.png', optimize=True)"
