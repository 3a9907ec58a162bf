"""Per photo, how often does one model beat another on CIEDE2000, and how sure is the mean gap?

    python scripts/per_photo_comparison.py PHOTOS_DIR                      # default vs gray, seed
    python scripts/per_photo_comparison.py PHOTOS_DIR --model my_preset/ --against seed

Scores the test split (192 px center crops, as ``scripts/model_card_metrics.sh``) with
``evaluate(per_image=True)``, then for each opponent prints the number of photos where the model
has the lower CIEDE2000, the mean difference and a paired bootstrap 95% interval of it
(10,000 resamples of the photos, seed 0). The model card quotes these numbers.
"""

from __future__ import annotations

import argparse
import json

from _paired import paired_difference


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos")
    p.add_argument("--model", default="default")
    p.add_argument("--against", nargs="+", default=["gray", "seed"])
    p.add_argument("--split", default="test")
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--resamples", type=int, default=10_000)
    args = p.parse_args()

    from bwcolor import Colorizer
    from bwcolor.colorizer import evaluate_gray_baseline

    def per_photo(name):
        kw = dict(split=args.split, size=args.size, per_image=True)
        if name == "gray":
            rows = evaluate_gray_baseline(args.photos, **kw)["per_image"]
        else:
            rows = Colorizer.from_preset(name).evaluate(args.photos, **kw)["per_image"]
        return {r["path"]: r["delta_e2000"] for r in rows}

    ours = per_photo(args.model)
    for name in args.against:
        theirs = per_photo(name)
        paths = sorted(ours.keys() & theirs.keys())
        row = paired_difference([ours[k] for k in paths], [theirs[k] for k in paths],
                                resamples=args.resamples)
        print(json.dumps({"model": args.model, "against": name, "photos": row["photos"],
                          "model_lower_on": row["lower_on"],
                          "mean_difference": round(row["mean_difference"], 3),
                          "bootstrap_95": [round(x, 3) for x in row["bootstrap_95"]]}), flush=True)

if __name__ == "__main__":
    main()
