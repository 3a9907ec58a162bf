"""Train one of bwcolor's built-in presets from a folder of color photos, with one command.

    python scripts/train_preset.py default PHOTOS_DIR -o runs/default --time-budget 600
    python scripts/train_preset.py seed    PHOTOS_DIR -o runs/seed    --time-budget 600

``default`` is bwcolor's recipe; ``seed`` is the original tutorial's (wallner_beta, MSE, 256 px
crops, RMSprop). ``pretrained_hints`` trains the hint branch of the bundled default (or of the
``pretrained_unet`` preset given with ``--init-from``) on its frozen automatic net:

    KERAS_BACKEND=torch python scripts/train_preset.py pretrained_hints PHOTOS_DIR -o RUN --time-budget 1800

and ``scripts/package_hint_default.py`` makes the run a preset. Giving both the same --time-budget on the same machine gives them the same
compute. The run folder's ``best/`` is a preset (``Colorizer.from_preset``); its metadata.json
records this recipe, the compute used and the test-split metrics.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

RECIPES = {
    "default": dict(
        # rebalancing_lambda 0.9, not Zhang's 0.5: on our validation split a 9-minute CPU run
        # with 0.9 scored CIEDE2000 10.30 at 78% of the reference colorfulness, where the 0.5
        # preset (150 s on an H100, more crops) scored 12.27 at 105%: 0.5 boosts rare, saturated
        # bins into confidently wrong hues. (L1 + colorfulness regression, same 9 minutes: 14.79.)
        colorizer=dict(architecture="default", image_size=192, loss="classification",
                       loss_config={"rebalancing_lambda": 0.9}, annealing_temperature=0.38,
                       optimizer="adam", learning_rate=1e-3),
        fit=dict(batch_size=32, degradations=True),
    ),
    # default's recipe with hint channels (issue #20), made from the bundled default: its
    # automatic net is copied (transfer_weights) and frozen, its class weights kept, and only
    # the hint branch trains, so the preset's automatic colors stay exactly the default's.
    "default_hints": dict(
        colorizer=dict(architecture="default", image_size=192, loss="classification",
                       architecture_config={"hints": True, "freeze_automatic": True},
                       annealing_temperature=0.38, optimizer="adam", learning_rate=1e-3),
        fit=dict(batch_size=32, degradations=True),
        init_from="default",
    ),
    # default_hints with the correction confined to 8 cells (32 px) around each hint, so the
    # branch cannot recolor a whole photo. Tried in December 2026 and not shipped: after 12
    # epochs (618 s), with spread_hints, validation CIEDE2000 9.11 (1 hint) / 6.16 (10 hints)
    # against default_hints' 8.61 / 5.82.
    "default_hints_local": dict(
        colorizer=dict(architecture="default", image_size=192, loss="classification",
                       architecture_config={"hints": True, "freeze_automatic": True,
                                            "hint_reach": 8},
                       annealing_temperature=0.38, optimizer="adam", learning_rate=1e-3),
        fit=dict(batch_size=32, degradations=True),
        init_from="default",
    ),
    # default's automatic net, fine-tuned on the whole corpus at a tenth of its learning rate
    # (issue #15): training from scratch on the 652 training photos, and fine-tuning with hint
    # channels at 3e-4, had each improved validation and lost on test; a small step from the
    # shipped weights stays in their basin, so the two can be interpolated (WiSE-FT,
    # scripts/interpolate_presets.py) and the mix chosen on validation. (The bundled default is
    # now an ensemble: this copies its member 0, the net the experiment started from.)
    "default_finetune": dict(
        colorizer=dict(architecture="default", image_size=192, loss="classification",
                       annealing_temperature=0.38, optimizer="adam", learning_rate=1e-4),
        fit=dict(batch_size=32, degradations=True),
        init_from="default",
    ),
    # The hint branch retrained on a frozen two-member ensemble (scripts/package_ensemble.py;
    # issue #15): the branch corrects the ensemble's mixture logits, not member 0's alone, so it
    # starts from the donor's branch (init_whole) and trains on. Give the ensemble preset with
    # --init-from.
    "default_ensemble_hints": dict(
        colorizer=dict(architecture="default", image_size=192, loss="classification",
                       architecture_config={"hints": True, "freeze_automatic": True, "members": 2},
                       annealing_temperature=0.38, optimizer="adam", learning_rate=1e-3),
        fit=dict(batch_size=32, degradations=True),
        init_from="default",
        init_whole=True,
    ),
    # The hint branch of a pretrained_unet (issue #26): the bundled default's, or the preset's
    # given with --init-from. Its encoder and decoder are copied in and frozen
    # (freeze_automatic: byte-identical, run as at inference), and only the hint branch trains.
    # The net's shape, crop size, loss, class weights and temperature are the donor's
    # ("from_donor"); no degradations, as the default's decoder was trained without them.
    "pretrained_hints": dict(
        colorizer=dict(optimizer="adam", learning_rate=1e-3),
        architecture_config={"hints": True, "freeze_automatic": True},
        from_donor=("architecture", "architecture_config", "image_size", "loss",
                    "annealing_temperature"),
        fit=dict(batch_size=32, degradations=False),
        init_from="default",
    ),
    "seed": dict(
        colorizer=dict(architecture="wallner_beta", image_size=256, loss="mse",
                       optimizer="rmsprop", learning_rate=1e-3),
        fit=dict(batch_size=32, degradations=False),
    ),
}


def cosine_decay(learning_rate, epochs):
    """A callback setting epoch e's learning rate on a cosine from ``learning_rate`` to 1% of it
    at the last of ``epochs`` (resumed runs continue on the same curve: Keras passes the absolute
    epoch)."""
    import math

    import keras

    def schedule(epoch, _current):
        progress = min(epoch / max(1, epochs - 1), 1.0)
        return learning_rate * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress)))

    return keras.callbacks.LearningRateScheduler(schedule)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recipe", choices=sorted(RECIPES))
    p.add_argument("data_dir")
    p.add_argument("-o", "--out", required=True, help="run folder")
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--time-budget", type=float, default=None, help="seconds of training")
    p.add_argument("--repeats", type=int, default=4, help="passes over the photos per epoch")
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help="batches per epoch (default: --repeats passes over the photos)")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--mixed-precision", default="auto")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--processes", action="store_true", help="process workers instead of threads")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--validation-split", type=float, default=0.05)
    p.add_argument("--init-from", default=None, help="preset to start from, instead of the recipe's")
    p.add_argument("--cosine-decay", action="store_true",
                   help="decay the learning rate to 1%% of the recipe's over --epochs (cosine); "
                        "the recipes keep it constant")
    args = p.parse_args(argv)

    from bwcolor import Colorizer, _backend

    _backend.enable_compilation_cache()
    recipe = RECIPES[args.recipe]
    fit_kw = dict(recipe["fit"])
    if args.batch_size:
        fit_kw["batch_size"] = args.batch_size
    mp = None if args.mixed_precision == "none" else args.mixed_precision
    colorizer_kw = dict(recipe["colorizer"])
    init_from = args.init_from or recipe.get("init_from")
    if init_from:  # the donor's class weights: its automatic net was trained with them
        donor = Colorizer.from_preset(init_from)
        colorizer_kw["loss_config"] = donor.config["loss_config"]
        for key in recipe.get("from_donor", ()):
            colorizer_kw[key] = donor.config[key]
    if "architecture_config" in recipe:
        colorizer_kw["architecture_config"] = {**colorizer_kw.get("architecture_config", {}),
                                               **recipe["architecture_config"]}
    colorizer = Colorizer(**colorizer_kw)
    if init_from and not args.resume:
        from bwcolor import architectures

        # The donor's automatic net only (a donor's hint branch stays behind), unless the recipe
        # continues training the donor's whole net.
        source = donor.model if recipe.get("init_whole") else architectures.automatic_part(donor.model)
        copied = architectures.transfer_weights(source, colorizer.model)
        colorizer.metadata["initialized_from"] = {"preset": str(init_from),
                                                  "layers_copied": len(copied)}
    colorizer.metadata["recipe"] = {"name": args.recipe, "colorizer": recipe["colorizer"],
                                    "architecture_config": recipe.get("architecture_config"),
                                    "from_donor": list(recipe.get("from_donor", ())),
                                    "fit": fit_kw, "repeats": args.repeats,
                                    "steps_per_epoch": args.steps_per_epoch,
                                    "time_budget_s": args.time_budget, "seed": args.seed,
                                    "command": "python scripts/train_preset.py " + " ".join(argv or [])}
    colorizer.metadata["compute"] = {"machine": platform.node(), "processor": platform.processor(),
                                     "devices": _backend.devices(), "backend": _backend.name()}
    callbacks = [cosine_decay(colorizer.config["learning_rate"], args.epochs)] if args.cosine_decay else None
    colorizer.metadata["recipe"]["cosine_decay_epochs"] = args.epochs if args.cosine_decay else None
    t0 = time.time()
    history = colorizer.fit(args.data_dir, epochs=args.epochs, checkpoint_dir=args.out,
                            resume=args.resume, mixed_precision=mp, time_budget=args.time_budget,
                            repeats=args.repeats, steps_per_epoch=args.steps_per_epoch,
                            workers=args.workers, cache_dir=args.cache_dir,
                            use_multiprocessing=args.processes,
                            seed=args.seed, verbose=2, validation_split=args.validation_split,
                            callbacks=callbacks, **fit_kw)
    print(json.dumps({"recipe": args.recipe, "seconds": round(time.time() - t0, 1),
                      "epochs": len(history.epoch), "final": {k: v[-1] for k, v in history.history.items()},
                      "test_metrics": colorizer.metadata.get("test_metrics")}))


if __name__ == "__main__":
    main(__import__("sys").argv[1:])
