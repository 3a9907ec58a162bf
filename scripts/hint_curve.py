"""How much do color hints help? CIEDE2000 and PSNR against the number of hints (issue #20).

    python scripts/hint_curve.py PHOTOS_DIR --split test --size 192 \\
        --model "hints=/tmp/runs/default_hints/best" --model "automatic=default" \\
        -o docs/images/hint_curve.png --json hint_curve.json

Each ``--model`` is a preset name or folder, optionally labelled ``LABEL=PRESET``; each
``--channels-only`` one is scored with ``colorize(spread_hints=False)``: its hint channels alone,
without :func:`bwcolor.postprocessing.spread_hints`. Every model is
scored by :func:`bwcolor.evaluation.evaluate_with_hints` on the split's center crops (short side
``--size``, also the render size) with 0, 1, 5, 10 and 20 hints sampled from the originals: the
same positions (seed ``--seed``) for every model, nested across counts. A model that does not take
hints is scored at 0 hints only and drawn as a dashed horizontal line. Prints one JSON row per
model and count (model, preset, count, delta_e2000, psnr, ssim, n_images), then, for each hint
model, issue #20's targets on stderr: 0 hints no worse than the best automatic model by more than
0.2 CIEDE2000; 10 hints at least 3 CIEDE2000 better than 0 hints.

The figure: CIEDE2000 (lower is better) and PSNR (higher is better) against the hint count, one
line per model. Needs matplotlib (``pip install "bwcolor[plot]"``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COUNTS = (0, 1, 5, 10, 20)


def parse_model(spec):
    """``LABEL=PRESET`` or ``PRESET`` -> (label, preset); a folder's label is its last two parts."""
    if "=" in spec:
        label, preset = spec.split("=", 1)
        return label, preset
    path = Path(spec)
    return ("/".join(path.parts[-2:]) if path.exists() else spec), spec


def curve_rows(label, preset, photos, args, spread=True):
    """The JSON rows of one model: every count for a hint model, count 0 otherwise."""
    from bwcolor import Colorizer
    from bwcolor.evaluation import evaluate_with_hints

    colorizer = Colorizer.from_preset(preset)
    counts = args.counts if colorizer.accepts_hints else (0,)
    rows = evaluate_with_hints(colorizer, photos, counts, split=args.split, size=args.size,
                               seed=args.seed, radius=args.radius,
                               colorize_options={"spread_hints": spread})
    return [{"model": label, "preset": preset, "hints": colorizer.accepts_hints,
             "count": r["count"], "delta_e2000": round(r["delta_e2000"], 4),
             "psnr": round(r["psnr"], 4), "ssim": round(r["ssim"], 4),
             "n_images": r["n_images"], "split": args.split, "size": args.size, "seed": args.seed,
             "spread_hints": spread}
            for r in rows]


def check_targets(rows):
    """Issue #20's targets for each hint model, as lines of text."""
    automatic = [r["delta_e2000"] for r in rows if not r["hints"]]
    best_automatic = min(automatic) if automatic else None
    lines = []
    for model in dict.fromkeys(r["model"] for r in rows if r["hints"]):
        de = {r["count"]: r["delta_e2000"] for r in rows if r["model"] == model}
        if 0 in de and best_automatic is not None:
            gap = de[0] - best_automatic
            lines.append(f"{model}: 0 hints {de[0]:.2f} vs best automatic {best_automatic:.2f} "
                         f"({gap:+.2f}; target <= +0.20): {'met' if gap <= 0.2 else 'NOT met'}")
        if 0 in de and 10 in de:
            gain = de[0] - de[10]
            lines.append(f"{model}: 10 hints {de[10]:.2f}, {gain:.2f} better than 0 hints "
                         f"(target >= 3.00): {'met' if gain >= 3 else 'NOT met'}")
    return lines


def plot(rows, counts, path):
    """CIEDE2000 and PSNR against the hint count, one line per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for ax, key, title in ((axes[0], "delta_e2000", "mean CIEDE2000 (lower is better)"),
                           (axes[1], "psnr", "mean PSNR, dB (higher is better)")):
        for i, model in enumerate(dict.fromkeys(r["model"] for r in rows)):
            mine = [r for r in rows if r["model"] == model]
            style = dict(color=f"C{i}", label=model)
            if mine[0]["hints"]:
                ax.plot([r["count"] for r in mine], [r[key] for r in mine], marker="o", **style)
            else:  # an automatic model: the same at any count
                style["label"] += " (automatic)"
                ax.axhline(mine[0][key], linestyle="--", **style)
        ax.set_xticks(list(counts))
        ax.set_xlabel("color hints from the original")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    first = rows[0]
    axes[0].legend()
    fig.suptitle(f"{first['split'] or 'all'} photos (n = {first['n_images']}), {first['size']} px "
                 f"center crops, hint positions seed {first['seed']}")
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", help="folder of color photos")
    p.add_argument("--model", action="append", default=[],
                   help="preset name or folder, or LABEL=PRESET (repeat for several)")
    p.add_argument("--channels-only", action="append", default=[],
                   help="a hint model scored with its hint channels alone (LABEL=PRESET)")
    p.add_argument("--split", default="test", choices=["train", "validation", "test", "all"])
    p.add_argument("--size", type=int, default=192, help="crop short side and render size")
    p.add_argument("--counts", type=int, nargs="+", default=list(COUNTS))
    p.add_argument("--seed", type=int, default=0, help="seeds the hint positions")
    p.add_argument("--radius", type=float, default=None,
                   help="hint half-side in crop pixels (default: the hints' default)")
    p.add_argument("-o", "--output", help="the figure (PNG)")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    args.counts = tuple(args.counts)
    args.split = None if args.split == "all" else args.split

    rows = []
    specs = [(spec, True) for spec in args.model] + [(s, False) for s in args.channels_only]
    for spec, spread in specs:
        for row in curve_rows(*parse_model(spec), args.photos, args, spread):
            print(json.dumps(row), flush=True)
            rows.append(row)
    for line in check_targets(rows):
        print(line, file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    if args.output:
        plot(rows, args.counts, args.output)
        print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
