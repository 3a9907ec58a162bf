"""Mixed precision and multi-device training."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from bwcolor import Colorizer

TINY = dict(widths=(8, 8), blocks=(1, 1))


class FixedBatches(keras.utils.PyDataset):
    """The same few batches every epoch: loss trajectories become comparable across setups."""

    def __init__(self, n=3, batch=4, size=32, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.x = rng.uniform(-1, 1, (n, batch, size, size, 1)).astype("float32")
        self.y = rng.uniform(-0.3, 0.3, (n, batch, size // 4, size // 4, 2)).astype("float32")

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


class PolicySpy(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = set()

    def on_train_batch_end(self, batch, logs=None):
        self.seen.add((self.model.dtype_policy.name, self.model.layers[-1].dtype_policy.name))


@pytest.mark.parametrize("policy", ["bfloat16", "float16"])
def test_mixed_precision_trains_and_matches_float32(policy):
    ref = Colorizer("default", image_size=32, loss="l1", architecture_config=TINY)
    c = Colorizer("default", image_size=32, loss="l1", architecture_config=TINY)
    c.model.set_weights(ref.model.get_weights())
    spy = PolicySpy()
    history = c.fit(FixedBatches(), epochs=1, mixed_precision=policy, verbose=0, callbacks=[spy])
    assert np.isfinite(history.history["loss"][0])
    assert spy.seen == {(f"mixed_{policy}", "float32")}  # the head stays in float32
    assert c.metadata["training"]["mixed_precision"] == policy
    assert c.model.dtype_policy.name == f"mixed_{policy}"  # the trained model, optimizer and all
    assert c._predictor().dtype_policy.name == "float32"  # colorize runs a float32 copy
    # Outputs of the mixed model are close to float32 with the same weights.
    c.model.set_weights(ref.model.get_weights())
    x = FixedBatches().x[0]
    c.model.predict_on_batch(x)  # torch's first bf16 forward pass on CPU can be NaN (_predictor)
    ab16 = np.asarray(keras.ops.convert_to_numpy(c.model.predict_on_batch(x)), dtype=np.float32)
    ab32 = np.asarray(keras.ops.convert_to_numpy(ref.model.predict_on_batch(x)))
    assert np.abs(ab16 - ab32).mean() * 128 < 1.0  # Lab units; outputs range over about +-100


def test_first_colorize_after_mixed_precision_fit_is_finite(photos):
    c = Colorizer("default", image_size=32, architecture_config=TINY, loss="l1")
    c.fit(FixedBatches(n=1), epochs=1, mixed_precision="bfloat16", verbose=0)
    out = c.colorize(np.ones((23, 1, 4), np.uint16))  # the input hypothesis found
    assert out.shape == (23, 1, 3)
    assert np.isfinite(c.predict_ab(np.full((1, 256, 8, 1), -1, np.float32))).all()


def test_a_failed_fit_leaves_the_model_alone(tmp_path):
    c = Colorizer("default", image_size=32, architecture_config=TINY, loss="l1")
    model = c.model
    with pytest.raises(ValueError, match="no usable"):
        c.fit(tmp_path, epochs=1, mixed_precision="bfloat16", verbose=0)
    assert c.model is model and c.config["mixed_precision"] is None


def test_mixed_precision_classification_loss_is_finite():
    c = Colorizer("default", image_size=32, architecture_config=TINY,
                  loss_config={"weights": [1.0] * 261})
    history = c.fit(FixedBatches(), epochs=1, mixed_precision="bfloat16", verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_auto_precision_and_bad_values():
    c = Colorizer("default", image_size=32, loss="l1", architecture_config=TINY)
    c.fit(FixedBatches(n=1), epochs=1, mixed_precision="auto", verbose=0)
    assert c.config["mixed_precision"] in (None, "bfloat16")
    if keras.backend.backend() == "jax":
        assert c.config["mixed_precision"] is None
    with pytest.raises(ValueError, match="mixed_precision"):
        c.fit(FixedBatches(n=1), epochs=1, mixed_precision="int8", verbose=0)


DATA_PARALLEL = """
import json, sys, tempfile
sys.path.insert(0, sys.argv[1])
from test_scale import FixedBatches, TINY
from bwcolor import Colorizer
import keras, jax
keras.utils.set_random_seed(0)
c = Colorizer("default", image_size=32, loss="l1", architecture_config=TINY)
if sys.argv[3] == "crops":  # photos cropped on the device, batches split over the devices
    from bwcolor.data import write_sample_folder
    folder = tempfile.mkdtemp()
    write_sample_folder(folder, short_side=80)
    h = c.fit(folder, epochs=2, batch_size=4, validation_split=0.0, test_split=0.0, repeats=2,
              crops_on_device=True, distribute=sys.argv[2] or None, mixed_precision=None, verbose=0)
else:
    h = c.fit(FixedBatches(), epochs=3, batch_size=4, distribute=sys.argv[2] or None,
              mixed_precision=None, verbose=0)
print(json.dumps({"devices": jax.device_count(), "loss": h.history["loss"],
                  "distribution": type(keras.distribution.distribution()).__name__}))
"""


def _train(devices, distribute, data="batches"):
    env = {**os.environ, "KERAS_BACKEND": "jax",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}"}
    r = subprocess.run([sys.executable, "-c", DATA_PARALLEL, os.path.dirname(__file__), distribute, data],
                       env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.skipif(keras.backend.backend() != "jax", reason="keras.distribution is JAX-only")
@pytest.mark.parametrize("data", ["batches", "crops"])
def test_data_parallel_matches_one_device(data):
    one = _train(1, "", data)
    two = _train(2, "auto", data)
    assert one["devices"] == 1 and two["devices"] == 2
    assert two["distribution"] == "DataParallel"
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=2e-3)


def test_data_parallel_needs_a_divisible_batch(monkeypatch):
    from bwcolor import _backend

    monkeypatch.setattr(_backend, "device_count", lambda: 3)
    monkeypatch.setattr(_backend, "name", lambda: "jax")
    c = Colorizer("default", image_size=32, loss="l1", architecture_config=TINY)
    with pytest.raises(ValueError, match="divisible by the 3 devices"):
        c.fit(FixedBatches(n=1), epochs=1, batch_size=16 + 1, distribute="auto", verbose=0)
    with pytest.raises(ValueError, match="distribute"):
        c.fit(FixedBatches(n=1), epochs=1, distribute="everywhere", verbose=0)
