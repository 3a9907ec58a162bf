"""``default(members=K)``: nets trained apart, joined into one model whose output is their
mixture (issue #15's bundled default is a two-member ensemble)."""

import keras
import numpy as np
import pytest
from helpers import run_serialization_test

from bwcolor import Colorizer, architectures, losses
from bwcolor.architectures import MixtureMean
from bwcolor.hints import HINT_CHANNELS

TINY = dict(widths=(8, 8), blocks=(1, 1))
BINS = 12  # a tiny classification head: the mixture's arithmetic does not depend on the count


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _randomize(model, rng):
    """Distinct random weights everywhere (batch-norm variances kept positive)."""
    model.set_weights([rng.uniform(0.5, 1.5, w.shape).astype(np.float32) if "variance" in v.path
                       else rng.normal(0, 0.3, w.shape).astype(np.float32)
                       for v, w in zip(model.weights, model.get_weights())])


@pytest.mark.parametrize("head", ["classification", "regression"])
def test_an_ensemble_computes_the_mixture_of_its_members(head, rng):
    members = [architectures.get("default", head=head, num_bins=BINS, **TINY) for _ in range(2)]
    for m in members:
        _randomize(m, rng)
    ensemble = architectures.get("default", head=head, num_bins=BINS, members=2, **TINY)
    first = architectures.transfer_weights(members[0], ensemble)
    second = architectures.transfer_weights(members[1], ensemble, prefix="member1_")
    assert first and all(not name.startswith("member1_") for name in first)
    assert len(second) == len(first) and all(name.startswith("member1_") for name in second)
    x = rng.uniform(-1, 1, (2, 32, 64, 1)).astype(np.float32)
    outs = [_numpy(m(x, training=False)) for m in members]
    got = _numpy(ensemble(x, training=False))
    if head == "classification":  # log of the mean probability, up to the softmax's constant
        expected = np.log(0.5 * (np.exp(_log_softmax(outs[0])) + np.exp(_log_softmax(outs[1]))))
        np.testing.assert_allclose(_log_softmax(got), expected, atol=1e-5)
    else:
        np.testing.assert_allclose(got, 0.5 * (outs[0] + outs[1]), atol=1e-6)


def test_a_one_member_net_is_the_single_net_and_members_are_checked():
    single = architectures.get("default", **TINY)
    assert not any(isinstance(layer, MixtureMean) for layer in single.layers)
    assert not any(layer.name.startswith("member") for layer in single.layers)
    three = architectures.get("default", members=3, **TINY)
    weighted = [layer.name for layer in three.layers if layer.weights]
    assert len(weighted) == 3 * len([layer for layer in single.layers if layer.weights])
    assert architectures.flops(three, 64) == 3 * architectures.flops(single, 64)
    for bad in (0, -1, 17, 10**6, 1.5, True, "2"):
        with pytest.raises(ValueError, match=rf"members must be an int in \[1, 16\]\. Received: members={bad!r}"):
            architectures.get("default", members=bad, **TINY)


def test_mixture_of_identical_members_decodes_like_one(rng):
    logits = rng.normal(0, 2, (1, 4, 4, len(losses.ab_bins()))).astype(np.float32)
    mixed = _numpy(MixtureMean("classification")([logits, logits, logits]))
    bins = losses.ab_bins()
    for t in (0.38, 1.0):
        np.testing.assert_allclose(_numpy(losses.annealed_mean(mixed, bins, t)),
                                   _numpy(losses.annealed_mean(logits, bins, t)), atol=1e-4)
    with pytest.raises(ValueError, match=r"head must be 'regression' or 'classification'\. Received: head='mse'"):
        MixtureMean("mse")


def test_an_ensemble_with_hints_keeps_its_automatic_output_and_serializes(rng, tmp_path):
    net = architectures.get("default", head="regression", hints=True, members=2,
                            freeze_automatic=True, **TINY)
    trainable = {w.path.split("/")[0] for w in net.trainable_weights}
    assert trainable and all(name.startswith("hint") for name in trainable)
    _randomize(net, rng)  # the correction too: a "trained" branch
    x = np.zeros((2, 32, 32, 1 + HINT_CHANNELS), np.float32)
    x[..., 0] = rng.uniform(-1, 1, (2, 32, 32))
    x[1, 8:12, 8:12, 1:] = (0.3, -0.2, 1.0)
    out = _numpy(net(x, training=False))
    auto = _numpy(architectures.automatic_part(net)(x, training=False))
    np.testing.assert_array_equal(out[0], auto[0])  # no hint: the mixture, untouched
    assert np.abs(out[1] - auto[1]).max() > 1e-3
    run_serialization_test(net, x, tmp_path)


def test_an_ensemble_colorizer_saves_and_loads_as_a_preset(rng, tmp_path):
    c = Colorizer(architecture="default", image_size=32, loss="classification",
                  architecture_config={**TINY, "members": 2})
    _randomize(c.model, rng)
    c.save(tmp_path / "ens")
    loaded = Colorizer.from_preset(tmp_path / "ens")
    assert loaded.config["architecture_config"]["members"] == 2
    photo = (rng.uniform(0, 1, (40, 56)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(loaded.colorize(photo), c.colorize(photo))
