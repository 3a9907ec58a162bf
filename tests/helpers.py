"""Test helpers: backend-specific gradients (tests only), the model test routine, and a digest of
a folder's files (to show that nothing was written)."""

import hashlib
from typing import ClassVar

import keras
import numpy as np


def gradient(fn, x):
    """d sum(fn(x)) / dx as numpy, on the active backend."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: fn(v).sum())(x))
    if backend == "torch":
        import torch

        t = torch.tensor(x, requires_grad=True)
        fn(t).sum().backward()
        return t.grad.numpy()
    raise NotImplementedError(backend)


def run_model_test(model, loss, input_size, batch=2, seed=0):
    """Build -> one fit step -> finite loss; returns the model's prediction on a fixed batch."""
    from bwcolor import architectures

    stride = architectures.output_stride(model)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (batch, input_size, input_size, 1)).astype("float32")
    y = rng.uniform(-0.4, 0.4, (batch, input_size // stride, input_size // stride, 2)).astype("float32")
    model.compile(optimizer="adam", loss=loss)
    history = model.fit(x, y, epochs=1, batch_size=batch, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    return x, model.predict(x, verbose=0)


def run_serialization_test(model, x, tmp_path):
    """get_config/from_config round trip and .keras save/reload give identical outputs."""
    expected = model.predict(x, verbose=0)
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-5)


def make_scans(root, photos):
    """``root``/a.jpg (64 x 80, color) and ``root``/box/b.png (48 x 64, gray): a scan folder
    with a subfolder, for the CLI tests. Returns ``root``."""
    from PIL import Image

    (root / "box").mkdir(parents=True)
    Image.fromarray(photos["coffee"][:64, :80]).save(root / "a.jpg")
    Image.fromarray(photos["chelsea"][:48, :64]).convert("L").save(root / "box" / "b.png")
    return root


def digest(folder):
    """{relative path: sha256} of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class JaxLowerings:
    """Counts the programs JAX lowers (traced jaxpr -> XLA) while the ``with`` block runs: each
    one costs a lowering and a compile or compilation-cache lookup, even with the cache warm.
    Counts 0 on other backends."""

    # The counters of the blocks now running: JAX's listener is registered once per process
    # and adds to each (a shared list by design, not a per-instance default).
    _active: ClassVar[list] = []
    _registered = False

    def __enter__(self):
        self.count = 0
        if keras.backend.backend() == "jax" and not JaxLowerings._registered:
            from jax import monitoring

            def listen(event, *args, **kwargs):
                if event == "/jax/core/compile/jaxpr_to_mlir_module_duration":
                    for counter in JaxLowerings._active:
                        counter.count += 1

            monitoring.register_event_duration_secs_listener(listen)
            JaxLowerings._registered = True
        JaxLowerings._active.append(self)
        return self

    def __exit__(self, *exc):
        JaxLowerings._active.remove(self)
