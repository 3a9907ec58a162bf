#!/usr/bin/env bash
# Screenshot the built docs (issue #18): the Colorizer API page, one of its methods' pages, the
# model card and the landing page, in headless Chromium (Debian: apt-get install chromium; no
# chromedriver needed).
#
#   KERAS_BACKEND=jax python -m sphinx -W --keep-going -q -b html docs docs/_build/html
#   scripts/screenshot_docs.sh OUT_DIR [HTML_DIR]
#
# Serves HTML_DIR (default docs/_build/html) on a free 127.0.0.1 port with python -m http.server,
# writes OUT_DIR/colorizer_api.png, OUT_DIR/colorizer_fit.png (a method's own page, with its
# parameters), OUT_DIR/model_card.png and OUT_DIR/landing.png, then stops the server it started.
# Headless Chromium captures only its window, so the window is 1400 x 12000 px (WINDOW_SIZE=W,H
# overrides) and each picture is then trimmed to the page's content plus its footer (with Pillow
# and NumPy when importable; otherwise the untrimmed picture stays). A page taller than the window
# is cut off: the script says so.
set -euo pipefail

out_dir=${1:?usage: scripts/screenshot_docs.sh OUT_DIR [HTML_DIR]}
html_dir=${2:-docs/_build/html}
window_size=${WINDOW_SIZE:-1400,12000}
chromium_bin=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$chromium_bin" ] || { echo "screenshot_docs: no chromium on PATH (apt-get install chromium)" >&2; exit 1; }

declare -A pages=(
  [colorizer_api]=gen_modules/bwcolor.Colorizer.html
  [colorizer_fit]=gen_modules/bwcolor.Colorizer.fit.html
  [model_card]=model_card.html
  [landing]=index.html
)
for page in "${pages[@]}"; do
  [ -f "$html_dir/$page" ] || { echo "screenshot_docs: $html_dir/$page missing; build the docs first" >&2; exit 1; }
done
mkdir -p "$out_dir"
out_dir=$(cd "$out_dir" && pwd)

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$html_dir" >/dev/null 2>&1 &
server_pid=$!
profile=$(mktemp -d)
cleanup() { kill "$server_pid" 2>/dev/null || true; rm -rf "$profile"; }
trap cleanup EXIT

for _ in $(seq 50); do
  python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=1)" \
    2>/dev/null && break
  sleep 0.2
done

# Trim a screenshot to the page: the content, then the footer (a rule and a line of text that the
# theme pins to the window's bottom edge), without the white gap between them.
trim_py='
import sys
try:
    import numpy as np
    from PIL import Image
except ImportError:
    sys.exit(0)
path = sys.argv[1]
image = Image.open(path).convert("RGB")
gray = np.asarray(image.convert("L"))
height = gray.shape[0]
# Rows with ink, right of the left sidebar border line (a full-height rule at x < 360).
ink = np.flatnonzero((gray[:, 360:] < 245).any(axis=1))
footer_top = ink[-1]
for row in ink[::-1]:
    if footer_top - row > 40:
        break
    footer_top = row
above = ink[ink < footer_top]
if height - footer_top > 200 or not len(above) or footer_top - above[-1] < 40:
    print(f"screenshot_docs: {path}: no footer gap found; the page may be taller than the "
          "window (raise WINDOW_SIZE); left untrimmed", file=sys.stderr)
    sys.exit(0)
cut = min(above[-1] + 48, footer_top - 8)
footer = image.crop((0, footer_top - 8, image.width, height))
trimmed = Image.new("RGB", (image.width, cut + footer.height), "white")
trimmed.paste(image.crop((0, 0, image.width, cut)), (0, 0))
trimmed.paste(footer, (0, cut))
trimmed.save(path)
'

for name in "${!pages[@]}"; do
  "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --window-size="$window_size" \
    --screenshot="$out_dir/$name.png" "http://127.0.0.1:$port/${pages[$name]}" 2>/dev/null
  [ -s "$out_dir/$name.png" ] || { echo "screenshot_docs: no $out_dir/$name.png" >&2; exit 1; }
  python3 -c "$trim_py" "$out_dir/$name.png" || echo "screenshot_docs: $name.png left untrimmed" >&2
  echo "$out_dir/$name.png  <-  ${pages[$name]}"
done
