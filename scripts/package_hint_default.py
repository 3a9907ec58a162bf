"""Package a hint-branch run (scripts/train_preset.py ``default_hints``,
``default_ensemble_hints`` or ``pretrained_hints``) as the bundled ``default`` preset.

    python scripts/package_hint_default.py runs/default_hints src/bwcolor/bundled_presets/default

The run's ``best/`` weights are saved in float16 with a config that no longer freezes the
automatic net (the flag only made fit train the hint branch alone; a user fine-tuning the preset
expects every layer to train). The metadata keeps the automatic net's own record (its recipe,
data, compute and test metrics, from the preset it was copied from) and adds a ``"hints"``
block: the hint branch's recipe, compute and epochs, from the run.

``--zero-correction`` ships the branch with its last convolution (``hint_correction``) set to
zero, so hints act through ``spread_hints`` alone and the model's output is its automatic one:
for when the validation split says the learned correction does worse than none (see
``scripts/hint_curve.py``). The branch keeps its trained features, and a fine-tune starts from a
zero correction, as an untrained branch does.

The donor preset's other files (the ``NOTICE`` of the ImageNet encoder's Apache-2.0 weights that
a ``pretrained_unet`` default carries) are copied into the new preset, a ``NOTICE`` gaining a
paragraph on the hint branch, and its decoding temperature is kept. The donor is the preset the
run started from, or ``--donor``: a run started from a training run's ``best/`` is packaged with
the released preset made from it (``scripts/package_pretrained_default.py``: its temperature
chosen on validation, its test scores, its NOTICE), whose encoder and decoder weights must be
the run's to float16 rounding:

    python scripts/package_hint_default.py runs/hints src/bwcolor/bundled_presets/default \\
        --donor src/bwcolor/bundled_presets/default
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import numpy as np

HINT_NOTICE = """
{number}. The hint branch (the layers named hint_*): trained by the bwcolor developers
   (scripts/train_preset.py {recipe}) on the same photographs, on top of the
   frozen parts above, which it leaves unchanged. MIT, as bwcolor.
"""
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six")


def donor_files(folder):
    """The donor preset folder's files other than its config, weights and metadata: name ->
    bytes (read before the output, which may be the donor's own folder, is replaced)."""
    from bwcolor import presets

    own = {presets.CONFIG_FILE, presets.WEIGHTS_FILE, presets.METADATA_FILE}
    return {f.name: f.read_bytes() for f in sorted(Path(folder).iterdir())
            if f.is_file() and f.name not in own}


def automatic_mismatch(model, donor):
    """The name of the first automatic-net layer whose weights differ between ``model`` and
    ``donor`` beyond float16 rounding (a released preset is stored in float16), or None."""
    from bwcolor import architectures

    theirs = {layer.name: layer for layer in architectures.automatic_part(donor).layers}
    for layer in architectures.automatic_part(model).layers:
        if not layer.weights:
            continue
        other = theirs.get(layer.name)
        if other is None or len(other.weights) != len(layer.weights) or not all(
                a.shape == b.shape and np.array_equal(a.astype(np.float16), b.astype(np.float16))
                for a, b in zip(layer.get_weights(), other.get_weights())):
            return layer.name
    return None


def with_hint_notice(text, recipe):
    """A NOTICE's text with the hint branch's paragraph, numbered after the last part listed
    (and "holds two parts" counting it); a NOTICE that has one already is returned as is."""
    if ". The hint branch" in text:
        return text
    number = max((int(n) for n in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)),
                 default=0) + 1
    if number < len(NUMBER_WORDS):
        text = text.replace(f"holds {NUMBER_WORDS[number - 1]} parts",
                            f"holds {NUMBER_WORDS[number]} parts")
    return text.rstrip("\n") + "\n" + HINT_NOTICE.format(number=number, recipe=recipe)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="the hint-branch run folder")
    p.add_argument("out", help="the preset folder to write (replaced if it is a preset)")
    p.add_argument("--zero-correction", action="store_true",
                   help="ship the hint correction as zero (spreading alone)")
    p.add_argument("--donor", default=None,
                   help="the automatic preset whose record, temperature and files are kept "
                        "(default: the preset the run started from)")
    args = p.parse_args(argv)

    from bwcolor import Colorizer, presets
    from bwcolor._io import atomic_write

    run = Path(args.run)
    hinted = Colorizer.from_preset(run / "best")
    started_from = hinted.metadata["initialized_from"]["preset"]
    donor_name = args.donor or started_from
    donor = Colorizer.from_preset(donor_name)
    mismatch = automatic_mismatch(hinted.model, donor.model)
    if mismatch:
        raise SystemExit(f"the donor's automatic net is not the run's: layer {mismatch!r} differs "
                         f"beyond float16 rounding. Received: --donor {donor_name}")
    extras = donor_files(presets.resolve(donor_name))
    config = hinted.get_config()
    config["annealing_temperature"] = donor.config["annealing_temperature"]
    config["architecture_config"] = {k: v for k, v in config["architecture_config"].items()
                                     if k != "freeze_automatic"}
    config["architecture_config"].setdefault("hint_width", 32)
    config["mixed_precision"] = None
    packaged = Colorizer.from_config(config)
    packaged.model.set_weights(hinted.model.get_weights())
    if args.zero_correction:
        correction = packaged.model.get_layer("hint_correction")
        correction.set_weights([np.zeros_like(w) for w in correction.get_weights()])
    with open(run / "history.csv", encoding="utf-8") as f:
        history = list(csv.DictReader(f))
    run_meta = hinted.metadata
    packaged.metadata = dict(donor.metadata)  # the automatic net's record: unchanged weights
    packaged.metadata["hints"] = {
        "automatic_net": f"the {started_from!r} preset's weights, copied and frozen "
                         f"(architectures.transfer_weights; {run_meta['initialized_from']['layers_copied']} layers)",
        "record_from": str(donor_name),
        "recipe": run_meta["recipe"],
        "training": run_meta.get("training"),
        "compute": run_meta.get("compute"),
        "dataset": run_meta.get("dataset"),
        "best_epoch": run_meta.get("best_epoch"),
        "epochs_run": len(history),
        "seconds_to_best_epoch": round(sum(float(r["seconds"])
                                           for r in history[:run_meta.get("best_epoch") or 0]), 1),
        "seconds_run": round(sum(float(r["seconds"]) for r in history), 1),
        "val_loss_by_epoch": [round(float(r["val_loss"]), 4) if r.get("val_loss") else None
                              for r in history],  # None: a run without validation photos
        "correction": ("zeroed when packaged (--zero-correction): hints act through "
                       "spread_hints alone" if args.zero_correction else "as trained"),
    }
    out = packaged.save(args.out, overwrite=True, weights_dtype="float16")
    for name, data in extras.items():
        if name == "NOTICE":
            data = with_hint_notice(data.decode("utf-8"), run_meta["recipe"]["name"]).encode()
        with atomic_write(Path(out) / name) as f:
            f.write(data)
    print(json.dumps({"saved": args.out, "parameters": packaged.model.count_params(),
                      "best_epoch": run_meta.get("best_epoch"), "copied": sorted(extras)}))


if __name__ == "__main__":
    main(__import__("sys").argv[1:])
