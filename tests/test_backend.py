"""bwcolor._backend: the process-wide add_weight and assign patches must be safe to use from several
threads, and loading weights must not compile a program per variable shape."""

import threading
import time

import keras
import numpy as np
from helpers import JaxLowerings

from bwcolor import _backend


def test_weights_will_be_loaded_is_thread_safe_and_restores_add_weight():
    original = keras.layers.Layer.add_weight
    n_threads = 6
    start = threading.Barrier(n_threads)
    inside, most_inside, errors = [0], [0], []
    count_lock = threading.Lock()

    def build():
        try:
            start.wait()
            with _backend.weights_will_be_loaded():
                with count_lock:
                    inside[0] += 1
                    most_inside[0] = max(most_inside[0], inside[0])
                assert keras.layers.Layer.add_weight is not original
                layer = keras.layers.Dense(3, kernel_initializer="ones")
                layer.build((None, 2))
                assert np.all(keras.ops.convert_to_numpy(layer.kernel) == 0)
                time.sleep(0.02)  # give the other threads every chance to interleave
                with count_lock:
                    inside[0] -= 1
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=build) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert most_inside[0] == 1  # one thread in the block at a time
    assert keras.layers.Layer.add_weight is original
    layer = keras.layers.Dense(3, kernel_initializer="ones")
    layer.build((None, 2))
    assert np.all(keras.ops.convert_to_numpy(layer.kernel) == 1)  # initializers work again


def test_weights_will_be_loaded_nests_in_one_thread():
    original = keras.layers.Layer.add_weight
    with _backend.weights_will_be_loaded():
        with _backend.weights_will_be_loaded():
            pass
        layer = keras.layers.Dense(2, kernel_initializer="ones")
        layer.build((None, 2))
        assert np.all(keras.ops.convert_to_numpy(layer.kernel) == 0)  # still patched
    assert keras.layers.Layer.add_weight is original


def test_weights_will_be_loaded_builds_zeros_without_compiling():
    """The zeros a model is built with inside the block come from NumPy: no XLA program per
    variable shape (Keras' "zeros" initializer lowered one on JAX, half of building the bundled
    default), in each variable's dtype; bfloat16, which NumPy lacks, through Keras' zeros."""
    with _backend.weights_will_be_loaded():
        # Shapes no other test builds, so nothing is compiled for them yet.
        built = [keras.layers.Conv2D(29, 3), keras.layers.BatchNormalization(),
                 keras.layers.Dense(31, dtype="float16")]
        with JaxLowerings() as lowered:
            for layer, shape in zip(built, [(None, 9, 9, 7), (None, 29), (None, 23)]):
                layer.build(shape)
        brain = keras.layers.Dense(5, dtype="bfloat16")
        brain.build((None, 3))
    variables = [v for layer in built for v in layer.weights]
    assert lowered.count == 0
    assert [v.dtype for v in variables] == ["float32"] * 6 + ["float16"] * 2
    assert brain.kernel.dtype == "bfloat16"
    for v in variables + brain.weights:
        assert not np.any(keras.ops.convert_to_numpy(keras.ops.cast(v, "float32")))


def test_numpy_casts_assigned_arrays_gives_the_same_values_without_compiling(rng):
    """float16 arrays assigned to float32 variables (a preset's weights) are cast by NumPy, to
    exactly the values the backend's cast gives; the patch is undone, also after an error."""
    original = keras.Variable.assign
    half = rng.normal(size=(3, 3, 11, 37)).astype(np.float16)
    fast = keras.Variable(np.zeros(half.shape, np.float32))
    with JaxLowerings() as lowered, _backend.numpy_casts_assigned_arrays():
        with _backend.numpy_casts_assigned_arrays():  # nests
            pass
        fast.assign(half)
    assert lowered.count == 0
    plain = keras.Variable(np.zeros(half.shape, np.float32))
    plain.assign(half)  # the backend's own cast (after: its program is not cached before)
    assert fast.dtype == "float32"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fast),
                                  keras.ops.convert_to_numpy(plain))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(fast), half.astype(np.float32))
    assert keras.Variable.assign is original
    try:
        with _backend.numpy_casts_assigned_arrays():
            raise KeyError("a damaged file")
    except KeyError:
        pass
    assert keras.Variable.assign is original


def test_gc_paused_restores_the_collector_after_the_last_block():
    import gc

    assert gc.isenabled()
    entered, leave = threading.Barrier(3), threading.Event()
    seen = []

    def hold():
        with _backend.gc_paused():
            entered.wait()
            leave.wait()

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for t in threads:
        t.start()
    entered.wait()  # both threads are inside
    seen.append(gc.isenabled())
    leave.set()
    for t in threads:
        t.join()
    seen.append(gc.isenabled())
    try:
        with _backend.gc_paused(), _backend.gc_paused():  # nests
            raise KeyError("an error inside")
    except KeyError:
        pass
    seen.append(gc.isenabled())
    gc.disable()  # a user who turned it off keeps it off
    try:
        with _backend.gc_paused():
            pass
        seen.append(gc.isenabled())
    finally:
        gc.enable()
    assert seen == [False, True, True, False]


def test_from_preset_builds_and_loads_with_the_collector_paused(tiny_model, monkeypatch):
    """Building a net and loading its weights make objects that all stay alive: the cyclic
    collector only traversed them again and again (0.2-0.3 s of loading the bundled default)."""
    import gc

    from bwcolor import Colorizer, presets

    states = []
    load = presets.load_model_weights
    monkeypatch.setattr(presets, "load_model_weights",
                        lambda *a: (states.append(gc.isenabled()), load(*a))[1])
    Colorizer.from_preset(tiny_model)
    assert states == [False] and gc.isenabled()
