"""
Render size: how much of the photo the model sees
=================================================

The model predicts color at ``render_size`` (the short side, default: the size it was trained
at) and bwcolor upsamples that color onto the full-resolution lightness. A larger render size
gives finer color boundaries and costs more time; a much smaller one gives blotchy color (the
idea behind DeOldify's ``render_factor``).
"""

# %%
import time

import matplotlib.pyplot as plt

from bwcolor import Colorizer
from bwcolor.data import sample_photos

colorizer = Colorizer.from_preset("default")
photo = sample_photos(["astronaut"])["astronaut"]
sizes = [64, 128, 192, 384]
fig, axes = plt.subplots(1, len(sizes), figsize=(14, 3.8))
for ax, size in zip(axes, sizes):
    colorizer.colorize(photo, render_size=size)  # first call compiles this size class
    t = time.perf_counter()
    out = colorizer.colorize(photo, render_size=size)
    ax.imshow(out)
    ax.set_title(f"render_size={size} ({time.perf_counter() - t:.2f} s)")
    ax.set_axis_off()
fig.tight_layout()
plt.show()
