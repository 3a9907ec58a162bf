"""Compare training recipes for the default preset on the validation split (never the test split).

    KERAS_BACKEND=torch python scripts/recipe_experiments.py PHOTOS_DIR cls_lam09 l1_cf --budget 540
    python scripts/recipe_experiments.py PHOTOS_DIR --sweep-temperature runs/default/best

Each recipe trains the ``default`` architecture at 192 px for the same wall-clock budget (run
folders under ``--out``), then its best epoch is scored on the validation split (for
classification recipes at several decoding temperatures). ``--sweep-temperature PRESET`` only
scores an existing preset at those temperatures. Prints one JSON object per line. This is how
the bundled default's rebalancing lambda (0.9) and temperature (0.38) were chosen.
"""

from __future__ import annotations

import argparse
import json
import time

RECIPES = {
    "cls_lam05": dict(loss="classification"),
    "cls_lam09": dict(loss="classification", loss_config={"rebalancing_lambda": 0.9}),
    "l1_cf": dict(loss="l1", loss_config={"colorfulness_weight": 1.0}),
    "huber_cf": dict(loss="huber", loss_config={"colorfulness_weight": 1.0}),
}
TEMPERATURES = (0.2, 0.38, 0.5, 0.7, 1.0)


def score(colorizer, photos, size):
    if colorizer.head != "classification":
        return {"validation": colorizer.evaluate(photos, split="validation", size=size)}
    return {f"validation_T{t}": colorizer.evaluate(photos, split="validation", size=size,
                                                   annealing_temperature=t)
            for t in TEMPERATURES}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos")
    p.add_argument("recipes", nargs="*", help=f"any of {sorted(RECIPES)}")
    p.add_argument("--budget", type=float, default=540, help="seconds of training per recipe")
    p.add_argument("--size", type=int, default=192)
    p.add_argument("--out", default="runs/experiments")
    p.add_argument("--sweep-temperature", metavar="PRESET")
    args = p.parse_args()
    unknown = set(args.recipes) - set(RECIPES)
    if unknown:
        p.error(f"unknown recipe {sorted(unknown)}; choose from {sorted(RECIPES)}")

    from bwcolor import Colorizer

    if args.sweep_temperature:
        c = Colorizer.from_preset(args.sweep_temperature)
        print(json.dumps({"preset": args.sweep_temperature, **score(c, args.photos, args.size)}))
    for name in args.recipes:
        c = Colorizer("default", image_size=args.size, **RECIPES[name])
        started = time.time()
        c.fit(args.photos, epochs=1000, batch_size=32, repeats=4, degradations=True,
              time_budget=args.budget, checkpoint_dir=f"{args.out}/{name}", verbose=2)
        best = Colorizer.from_preset(f"{args.out}/{name}/best")
        print(json.dumps({"recipe": name, "train_s": round(time.time() - started),
                          "epochs": c.metadata["training"]["epochs_completed"],
                          **score(best, args.photos, args.size)}), flush=True)


if __name__ == "__main__":
    main()
