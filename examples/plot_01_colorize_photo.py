"""
Colorize a photo
================

Castle Clinton, New York, 1961, photographed in black and white by Jack E. Boucher for the
National Park Service (public domain). The photo ships inside bwcolor
(:func:`bwcolor.data.sample_photo` returns its path), and so does the ``default`` model: nothing
is downloaded. There is no ground truth here: this is what users do with their own scans.
"""

# %%
# Three lines: load the bundled model, colorize a file, get an ``(H, W, 3)`` uint8 array at the
# photo's full resolution.
from bwcolor import Colorizer
from bwcolor.data import sample_photo

colorized = Colorizer.from_preset("default").colorize(sample_photo())
print(f"{sample_photo().name} colorized: {colorized.shape[1]}x{colorized.shape[0]} px")

# %%
# Side by side with the original. The model predicted only the color (a*, b*) at its render size
# (192 px on the short side for ``default``); the lightness is the photo's own, at full
# resolution, so no detail is lost.
import matplotlib.pyplot as plt
from PIL import Image

original = Image.open(sample_photo()).convert("RGB")  # gray, shown as it is
fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
for ax, img, title in zip(axes, [original, colorized], ["1961 original", "colorized by bwcolor"]):
    ax.imshow(img)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()
plt.show()

# %%
# The same from the command line, for files and whole folders (the output mirrors the tree)::
#
#     bwcolor colorize old_photo.jpg -o old_photo_color.png
#     bwcolor colorize scans/ -o colored/
