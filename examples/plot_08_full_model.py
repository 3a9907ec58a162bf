"""
The tutorial's Full model with a pretrained classifier
======================================================

Emil Wallner's Full model (Deep Koalarization) fuses a classifier's view of the whole photo
into the colorization net: the class scores of a ``keras.applications`` model, tiled over the
encoder's grid. The backbone is named in the config, loaded from ImageNet weights or a local
file, and frozen while the rest trains; the preset stores all weights, backbone included, so it
loads later without network.

This example runs offline in under a minute: the "pretrained" backbone is a small
MobileNetV3Small with random weights, saved to a file as downloaded weights would be. **With
internet access**, use ImageNet weights: ``architecture_config=dict(backbone="InceptionResNetV2",
backbone_weights="imagenet")`` (the tutorial's; or ``bwcolor train --architecture wallner_full
--backbone InceptionResNetV2``).
"""

# %%
import math
import tempfile
from pathlib import Path

import keras
import matplotlib.pyplot as plt
from PIL import Image

from bwcolor import Colorizer
from bwcolor.data import write_sample_folder

EPOCHS = 2
workdir = Path(tempfile.mkdtemp())
write_sample_folder(workdir / "photos", short_side=96)

# Stand-in for a downloaded weights file (the classifier with its top, at any input size).
backbone = keras.applications.MobileNetV3Small(weights=None, input_shape=(64, 64, 3))
backbone.save_weights(workdir / "mobilenet_v3_small.weights.h5")

colorizer = Colorizer("wallner_full", image_size=64, architecture_config=dict(
    backbone="MobileNetV3Small", backbone_weights=workdir / "mobilenet_v3_small.weights.h5",
    backbone_input_size=64, width_scale=0.125))
# The config names the backbone and its weights file, so the net can be rebuilt and resumed.
config = colorizer.config["architecture_config"]
print(f"backbone {config['backbone']} at {config['backbone_input_size']} px, "
      f"weights from {Path(config['backbone_weights']).name}")

# %%
# Only the encoder, fusion and decoder train: the backbone is frozen (``freeze_backbone=True``),
# its batch-norm statistics included.
frozen = next(layer for layer in colorizer.model.layers if isinstance(layer, keras.Model))
print(f"{frozen.name}: {frozen.count_params():,} frozen parameters; "
      f"{sum(math.prod(v.shape) for v in colorizer.model.trainable_weights):,} trained")
history = colorizer.fit(workdir / "photos", epochs=EPOCHS, batch_size=4, validation_split=0.2,
                        test_split=0.0, checkpoint_dir=workdir / "run", verbose=0)
print("validation loss by epoch:", ", ".join(f"{v:.2f}" for v in history.history["val_loss"]))

# %%
# The run's ``best/`` preset holds every weight: loading it reads neither the weights file nor
# the network. Two epochs on six photos teach a net almost nothing: it has barely left gray
# (six epochs look the same), where the bundled ``default`` model, which learned from hundreds
# of photos, puts warm browns on the fur. Train a Full model on your own photos, with ImageNet
# weights, for hours rather than seconds.
(workdir / "mobilenet_v3_small.weights.h5").unlink()
best = Colorizer.from_preset(workdir / "run")
photo = workdir / "photos" / "chelsea.jpg"
panels = {"original": Image.open(photo).convert("RGB"),
          f"Full model, {EPOCHS} epochs on 6 photos": best.colorize(photo),
          "bundled default": Colorizer.from_preset("default").colorize(photo)}
fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
for ax, (title, image) in zip(axes, panels.items()):
    ax.imshow(image)
    ax.set_title(title)
    ax.set_axis_off()
fig.tight_layout()
plt.show()
