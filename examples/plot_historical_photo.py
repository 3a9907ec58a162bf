"""
Colorize a genuine historical photograph
========================================

Castle Clinton, New York, 1961, photographed in black and white by Jack E. Boucher for the
National Park Service (public domain). There is no ground truth here: this is what users do.
"""

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from bwcolor import Colorizer
from bwcolor.data import load_rgb

here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
photo_path = here / "data" / "castle_clinton_1961.jpg"
colorizer = Colorizer.from_preset("default")
original = load_rgb(photo_path)
colorized = colorizer.colorize(photo_path)
print(f"{photo_path.name}: {original.shape[1]}x{original.shape[0]} px")

# %%
# ``render_size`` is the short side the model sees (default: its training size, 192 px).
# Larger render sizes give the model more detail but it was trained on 192 px crops.
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
for ax, img, title in zip(axes, [original, colorized], ["1961 original", "colorized by bwcolor"]):
    ax.imshow(img)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

# %%
# The README's before/after picture is this figure, saved small.
readme_image = here.parent / "docs" / "images" / "castle_before_after.png"
if readme_image.parent.is_dir():
    w = 480
    h = round(original.shape[0] * w / original.shape[1])
    sheet = Image.new("RGB", (2 * w + 8, h), "white")
    sheet.paste(Image.fromarray((original * 255).astype(np.uint8)).resize((w, h)), (0, 0))
    sheet.paste(Image.fromarray(colorized).resize((w, h)), (w + 8, 0))
    sheet.save(readme_image, optimize=True)
plt.show()
