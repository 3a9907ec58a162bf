"""
Lab color space: what the model sees and predicts
=================================================

bwcolor works in CIE L*a*b*: L* is lightness (0 black to 100 white), a* runs from green to red,
b* from blue to yellow. A black-and-white photo *is* the L* channel, so the model's job is to
predict a* and b*. The network sees L scaled to [-1, 1]; regression heads predict ab / 128.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np

from bwcolor import color
from bwcolor.data import sample_photos

photo = sample_photos(["astronaut"])["astronaut"][::2, ::2]
lab = color.rgb_to_lab(photo / 255.0)
print("L* range", lab[..., 0].min().round(1), lab[..., 0].max().round(1))
print("a* range", lab[..., 1].min().round(1), lab[..., 1].max().round(1))
print("b* range", lab[..., 2].min().round(1), lab[..., 2].max().round(1))

# %%
# Each chroma channel on its own: a* and b* are shown with L* fixed at 70, so you see only the
# color they carry.
def only(channel):
    out = np.zeros_like(lab)
    out[..., 0] = 70
    out[..., channel] = lab[..., channel]
    return color.lab_to_rgb(color.reduce_chroma_to_gamut(out))


fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
panels = [(photo, "sRGB photo"), (lab[..., 0], "L* (lightness)"), (only(1), "a* (green-red)"),
          (only(2), "b* (blue-yellow)")]
for ax, (img, title) in zip(axes, panels):
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()

# %%
# Chroma is low-frequency: blurring a* and b* heavily and joining them with the sharp L* gives
# back an image that looks almost the same. This is why bwcolor's default model predicts ab at
# 1/4 resolution and keeps the photo's own L*.
from PIL import Image

small = [np.asarray(Image.fromarray(lab[..., c]).resize((lab.shape[1] // 8, lab.shape[0] // 8), Image.BILINEAR)
                    .resize((lab.shape[1], lab.shape[0]), Image.BILINEAR)) for c in (1, 2)]
rebuilt = color.lab_to_rgb(np.dstack([lab[..., 0], *small]))
psnr = 10 * np.log10(1 / np.mean((rebuilt - photo / 255.0) ** 2))
fig, axes = plt.subplots(1, 2, figsize=(8, 4))
axes[0].imshow(photo)
axes[0].set_title("original")
axes[1].imshow(rebuilt)
axes[1].set_title(f"ab at 1/8 resolution (PSNR {psnr:.1f} dB)")
for ax in axes:
    ax.set_axis_off()
fig.tight_layout()
plt.show()
