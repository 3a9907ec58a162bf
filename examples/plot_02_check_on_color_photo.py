"""
Check the colors against a color photo
======================================

A black-and-white photo has no truth to compare with. A color photo does: remove its colors,
let the bundled ``default`` model put them back, and compare. ``colorize`` accepts paths, PIL
images and numpy arrays; a color input is first reduced to its lightness L*, exactly as a
black-and-white scan would be.
"""

# %%
# Load the model and a color photo (scikit-image's coffee cup).
import matplotlib.pyplot as plt
import numpy as np

from bwcolor import Colorizer, color
from bwcolor.data import sample_photos

colorizer = Colorizer.from_preset("default")
photo = sample_photos(["coffee"])["coffee"]
gray = color.rgb_to_gray(photo / 255.0)
colorized = colorizer.colorize(photo)

# %%
# The output has the photo's full resolution, and its lightness is the photo's own: only the
# color (a*, b*) was predicted, at a small render size, then upsampled.
L_in = color.rgb_to_lab(photo / 255.0)[..., 0]
L_out = color.rgb_to_lab(colorized / 255.0)[..., 0]
print(f"output {colorized.shape}, max |L_out - L_in| = {np.abs(L_out - L_in).max():.2f}")

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
for ax, img, title in zip(axes, [photo, gray, colorized], ["original", "colors removed", "bwcolor default"]):
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1 if img.ndim == 2 else None)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()
plt.show()
