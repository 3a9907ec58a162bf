"""bwcolor._backend: the process-wide add_weight patch must be safe to use from several threads."""

import threading
import time

import keras
import numpy as np

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
