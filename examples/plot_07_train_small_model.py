"""
Train a small model on a folder of photos
=========================================

``Colorizer.fit`` takes a folder of color photos. It reports what it skipped, splits the photos
by a stable hash (train / validation / test), trains with checkpoints in a run folder, writes a
CSV log and a loss plot, and scores the test split at the end. Here a tiny model trains for
about half a minute on six sample photos, just to show the workflow; real training wants hundreds
of photos and more time (see ``scripts/train_preset.py``).
"""

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from bwcolor import Colorizer
from bwcolor.data import write_sample_folder
from bwcolor.plotting import plot_history

workdir = Path(tempfile.mkdtemp())
write_sample_folder(workdir / "photos", short_side=96)
(workdir / "photos" / "notes.txt").write_text("not a photo: it will be reported, not used")

colorizer = Colorizer("default", image_size=64, architecture_config=dict(widths=(16, 24), blocks=(1, 1)))
history = colorizer.fit(workdir / "photos", epochs=6, batch_size=4, validation_split=0.2,
                        test_split=0.0, checkpoint_dir=workdir / "run", repeats=4, verbose=0)
# The report names files by their path; here, relative to the temporary work folder.
print(str(colorizer.report).replace(f"{workdir}{os.sep}", ""))

# %%
# The run folder holds everything needed to inspect or continue the run:
# ``last.keras`` (with optimizer state, for ``resume=True``), ``best/`` (a preset of the best
# validation epoch), ``history.csv`` and ``curves.png``.
print(sorted(p.name for p in (workdir / "run").iterdir()))
figure = plot_history(workdir / "run" / "history.csv")
plt.show()

# %%
# Continue the run for two more epochs, then colorize with the best epoch.
history = colorizer.fit(workdir / "photos", epochs=8, batch_size=4, validation_split=0.2,
                        test_split=0.0, checkpoint_dir=workdir / "run", resume=True, repeats=4,
                        verbose=0)
best = Colorizer.from_preset(workdir / "run")
out = best.colorize(workdir / "photos" / "chelsea.jpg")
plt.figure(figsize=(4, 3))
plt.imshow(out)
plt.axis("off")
plt.title("tiny model after 8 epochs")
plt.show()
