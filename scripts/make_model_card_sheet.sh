#!/usr/bin/env bash
# The model card's comparison sheet: original / colors removed / default / seed.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
python3 -c "
from bwcolor.data import write_sample_folder
write_sample_folder('$tmp', ['astronaut', 'coffee', 'rocket'], short_side=256)"
bwcolor compare "$tmp"/astronaut.jpg "$tmp"/coffee.jpg "$tmp"/rocket.jpg \
  "$(python3 -c 'from bwcolor.data import sample_photo; print(sample_photo())')" -o "$tmp"/sheet.png --model default --model seed
python3 -c "
from PIL import Image
im = Image.open('$tmp/sheet.png').convert('RGB')
im.resize((900, round(im.height * 900 / im.width)), Image.LANCZOS).save('docs/images/model_card_sheet.png', optimize=True)"
rm -rf "$tmp"
