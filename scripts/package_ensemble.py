"""Join separately trained ``default`` nets into one preset whose automatic net is their ensemble.

    python scripts/package_ensemble.py default runs/default_v2/best \\
        -o src/bwcolor/bundled_presets/default --photos PHOTOS_DIR

``BASE`` (a preset name or folder, with or without a hint branch) becomes member 0 and keeps its
hint branch; each ``MEMBER`` (a preset with the same architecture widths) becomes member k of
``architectures.get("default", members=K)``: its automatic net's weights are copied under the
prefix ``member{k}_`` (``transfer_weights``). The members' bin probabilities are averaged
(``MixtureMean``). Every layer of the result must be filled from some member, or nothing is
written. The weights are saved in float16; the metadata keeps the base's own record and adds an
``"ensemble"`` block with each member's recipe, data, compute and best epoch. With ``--photos``
the result is scored on the validation and the test splits (192 px, as ``bwcolor evaluate``) into
``"validation_metrics"`` and ``"test_metrics"``: choose the members on validation first.
"""

from __future__ import annotations

import argparse
import json

RECORD = ("recipe", "training", "compute", "dataset", "best_epoch", "initialized_from")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("base")
    p.add_argument("members", nargs="+")
    p.add_argument("-o", "--out", required=True, help="preset folder (replaced if it is a preset)")
    p.add_argument("--photos", help="score the validation and test splits of these photos")
    p.add_argument("--size", type=int, default=192)
    args = p.parse_args(argv)

    from bwcolor import Colorizer, architectures

    base = Colorizer.from_preset(args.base)
    config = base.get_config()
    if config["architecture"] != "default" or config["architecture_config"].get("members", 1) != 1:
        raise SystemExit(f"the base must be a single 'default' net. Received: {args.base}")
    config["architecture_config"] = {**config["architecture_config"],
                                     "members": 1 + len(args.members)}
    config["mixed_precision"] = None
    ensemble = Colorizer.from_config(config)
    filled = set(architectures.transfer_weights(base.model, ensemble.model))
    records = [{"preset": str(args.base), **{k: base.metadata.get(k) for k in RECORD}}]
    for k, name in enumerate(args.members, start=1):
        member = Colorizer.from_preset(name)
        net = architectures.automatic_part(member.model)
        copied = architectures.transfer_weights(net, ensemble.model, prefix=f"member{k}_")
        expected = sum(1 for layer in net.layers if layer.weights)
        if len(copied) != expected:
            raise SystemExit(f"member {name}: {len(copied)} of its {expected} layers matched")
        filled |= set(copied)
        records.append({"preset": str(name), **{k2: member.metadata.get(k2) for k2 in RECORD}})
    empty = [layer.name for layer in ensemble.model.layers if layer.weights and layer.name not in filled]
    if empty:
        raise SystemExit(f"layers no member filled: {empty}")
    ensemble.metadata = {  # the base's scores are not the ensemble's: dropped, or remeasured
        **{k: v for k, v in base.metadata.items() if not k.endswith("_metrics")},
        "ensemble": {
            "method": "deep ensemble (Lakshminarayanan et al. 2017): the members' bin "
                      "probabilities averaged (architectures.MixtureMean); member 0 keeps its "
                      "hint branch",
            "members": records,
        },
    }
    if args.photos:
        for split in ("validation", "test"):
            ensemble.metadata[f"{split}_metrics"] = ensemble.evaluate(args.photos, split=split,
                                                                      size=args.size)
    ensemble.save(args.out, overwrite=True, weights_dtype="float16")
    print(json.dumps({"saved": args.out, "members": 1 + len(args.members),
                      "parameters": ensemble.model.count_params(),
                      **{k: ensemble.metadata.get(k) for k in ("validation_metrics", "test_metrics")}}))


if __name__ == "__main__":
    main()
