"""Interpolate a preset's automatic net towards a fine-tuned copy of it, and score each mix.

    python scripts/interpolate_presets.py PHOTOS_DIR default runs/finetune
    python scripts/interpolate_presets.py PHOTOS_DIR default runs/finetune/best --alphas 0.5

Wortsman et al.'s WiSE-FT (CVPR 2022): the weights (1 - alpha) * base + alpha * fine-tuned,
layer by layer, of two nets with the same architecture where one was fine-tuned from the other.
Mixes of this kind often keep what the base did well on photos unlike the fine-tuning data and
add what the fine-tuning learned; alpha is chosen on the validation split, never on test.

``BASE`` is a preset name or folder; each ``FINETUNED`` is a preset folder or a training run
folder (its ``last.keras``). Only the automatic net is mixed: a base with a hint branch keeps
its branch. For each fine-tuned source and alpha, prints one JSON line with the split's mean
metrics (colorizing without hints, the short side resized to ``--size``, as ``bwcolor
evaluate``) and the paired CIEDE2000 difference to the base (alpha 0).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from _paired import paired_difference


def load(source):
    """A Colorizer from a preset name or folder, or a run folder's last finished epoch."""
    from bwcolor import Colorizer

    if (Path(source) / "last.keras").is_file() and (Path(source) / "state.json").is_file():
        return Colorizer.resume(source)
    return Colorizer.from_preset(source)


def layer_weights(model):
    """{layer name: its weights} of a model's automatic net (layers that have weights)."""
    from bwcolor import architectures

    net = architectures.automatic_part(model)
    return {layer.name: layer.get_weights() for layer in net.layers if layer.weights}


def set_mix(model, base, tuned, alpha):
    """Set ``model``'s automatic net to (1 - alpha) * base + alpha * tuned, layer by layer."""
    from bwcolor import architectures

    if base.keys() != tuned.keys():
        raise ValueError(f"the nets have different layers: {sorted(base.keys() ^ tuned.keys())}")
    for layer in architectures.automatic_part(model).layers:
        if layer.name in base:
            layer.set_weights([(1 - alpha) * b + alpha * t
                               for b, t in zip(base[layer.name], tuned[layer.name])])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos")
    p.add_argument("base")
    p.add_argument("finetuned", nargs="+")
    p.add_argument("--alphas", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    p.add_argument("--split", default="validation")
    p.add_argument("--size", type=int, default=192)
    args = p.parse_args()

    colorizer = load(args.base)
    base = layer_weights(colorizer.model)

    def scores():
        result = colorizer.evaluate(args.photos, split=args.split, size=args.size, per_image=True)
        return result, [row["delta_e2000"] for row in result["per_image"]]

    def line(source, alpha, result, per_photo):
        mean = {k: round(v, 4) for k, v in result.items() if isinstance(v, float)}
        return {"finetuned": source, "alpha": alpha, "split": args.split, **mean,
                "vs_base": paired_difference(per_photo, base_scores)}

    base_result, base_scores = scores()
    print(json.dumps(line(None, 0.0, base_result, base_scores)), flush=True)
    for source in args.finetuned:
        tuned = layer_weights(load(source).model)
        for alpha in args.alphas:
            set_mix(colorizer.model, base, tuned, alpha)
            print(json.dumps(line(source, alpha, *scores())), flush=True)


if __name__ == "__main__":
    main()
