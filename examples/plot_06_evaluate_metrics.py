"""
Evaluate colorizations: what each metric rewards
================================================

``Colorizer.evaluate`` removes the colors of color photos, colorizes them, and compares with the
originals. PSNR and SSIM reward cautious, gray-ish output (a wrong vivid color costs more than a
dull one); mean CIEDE2000 measures perceived color difference; colorfulness (Hasler and
Suesstrunk 2003) measures vividness and should be compared with the reference's own. The gray
baseline (a* = b* = 0) shows why no single number tells the whole story.
"""

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from bwcolor import Colorizer
from bwcolor.colorizer import evaluate_gray_baseline
from bwcolor.data import write_sample_folder

folder = Path(tempfile.mkdtemp()) / "photos"
write_sample_folder(folder, short_side=256)
scores = {"gray (a=b=0)": evaluate_gray_baseline(folder, size=192)}
for name in ["seed", "default"]:
    scores[name] = Colorizer.from_preset(name).evaluate(folder, size=192)
for name, s in scores.items():
    print(f"{name:>14}: " + ", ".join(f"{k} {v:.2f}" for k, v in s.items() if k != "n_images"))

# %%
metrics = ["psnr", "ssim", "delta_e2000", "colorfulness"]
fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
for ax, metric in zip(axes, metrics):
    values = [s[metric] for s in scores.values()]
    ax.bar(range(len(values)), values, color=["0.6", "tab:brown", "tab:blue"])
    ax.set_xticks(range(len(values)), list(scores), rotation=20)
    ax.set_title(metric + (" (lower is better)" if metric == "delta_e2000" else ""))
    if metric == "colorfulness":
        ax.axhline(np.mean([s["colorfulness_reference"] for s in scores.values()]), color="k",
                   ls="--", label="reference")
        ax.legend()
fig.tight_layout()
plt.show()
