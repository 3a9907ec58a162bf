"""Training across processes (hosts): two JAX processes on 127.0.0.1 train as one process with
two devices does, and only process 0 writes the run folder."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bwcolor.training import devices

# Multi-process jobs are JAX's: the worker processes run JAX whatever backend this run tests,
# so CI runs them once, in its JAX pass.
jax_only = pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "jax") != "jax",
                              reason="multi-process training is JAX's; tested in the JAX run")

WORKER = textwrap.dedent('''
    import sys
    import numpy as np
    process, processes, port, run, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    from bwcolor.training import devices
    if processes > 1:
        devices.join_job(f"127.0.0.1:{port}", processes, process, timeout=120,
                         heartbeat_timeout=10)
    if len(sys.argv) > 6 and process == int(sys.argv[6]):
        import os
        os._exit(3)  # a host that dies: the others must end, not wait for it
    import keras
    from bwcolor import Colorizer, architectures

    keras.utils.set_random_seed(0)
    c = Colorizer("default", image_size=32, loss="mse",
                  architecture_config=dict(widths=(8, 8), blocks=(1, 1)))
    stride = architectures.output_stride(c.model)
    rng = np.random.default_rng(0)
    GLOBAL = 4  # photos per step, over all processes
    x = rng.uniform(-1, 1, (3 * GLOBAL, 32, 32, 1)).astype("float32")
    y = rng.uniform(-0.4, 0.4, (3 * GLOBAL, 32 // stride, 32 // stride, 2)).astype("float32")
    part = GLOBAL // processes

    class Batches(keras.utils.PyDataset):
        """This process's part of each global batch (the first part is process 0's)."""
        def __len__(self):
            return 3
        def __getitem__(self, i):
            rows = slice(i * GLOBAL + process * part, i * GLOBAL + (process + 1) * part)
            return x[rows], y[rows]

    c.fit(Batches(), epochs=2, batch_size=GLOBAL, checkpoint_dir=run, distribute="auto",
          mixed_precision=None, verbose=0)
    np.savez(out, *c.model.get_weights())
''')


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(tmp_path, process, processes, port, env_extra=None, dies=None):
    env = {**os.environ, "KERAS_BACKEND": "jax", "BWCOLOR_NO_COMPILATION_CACHE": "1"}
    env.pop("XLA_FLAGS", None)
    env.update(env_extra or {})
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    args = [sys.executable, str(script), str(process), str(processes), str(port),
            str(tmp_path / f"run{processes}_{process}"), str(tmp_path / f"w{processes}_{process}.npz"),
            *([] if dies is None else [str(dies)])]
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _weights(path):
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.mark.slow
@jax_only
def test_two_processes_train_as_one_process_with_two_devices(tmp_path):
    port = _free_port()
    workers = [_start(tmp_path, i, 2, port) for i in range(2)]
    reference = _start(tmp_path, 0, 1, port,
                       {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"})
    for p in [*workers, reference]:
        out, _ = p.communicate(timeout=400)
        assert p.returncode == 0, out[-3000:]
    w0, w1, ref = (_weights(tmp_path / name) for name in ("w2_0.npz", "w2_1.npz", "w1_0.npz"))
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1))  # one model, on both processes
    for a, b in zip(w0, ref):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    assert any(not np.allclose(a, b) for a, b in zip(w0, _initial_weights()))  # it trained
    # Only process 0 wrote a run folder, with what one process writes.
    assert not (tmp_path / "run2_1").exists()
    assert sorted(p.name for p in (tmp_path / "run2_0").iterdir()) == sorted(
        p.name for p in (tmp_path / "run1_0").iterdir())


@pytest.mark.slow
@jax_only
def test_a_dead_process_ends_the_job_instead_of_a_hang(tmp_path):
    port = _free_port()
    workers = [_start(tmp_path, i, 2, port, dies=1) for i in range(2)]
    outs = [p.communicate(timeout=300)[0] for p in workers]  # a hang fails here
    assert workers[1].returncode == 3
    assert workers[0].returncode != 0
    assert "another task died" in outs[0] or "heartbeat" in outs[0].lower(), outs[0][-2000:]
    assert not (tmp_path / "w2_0.npz").exists()


def _initial_weights():
    import keras

    from bwcolor import Colorizer

    keras.utils.set_random_seed(0)
    c = Colorizer("default", image_size=32, loss="mse",
                  architecture_config=dict(widths=(8, 8), blocks=(1, 1)))
    return c.model.get_weights()


class _Options:
    def __init__(self, batch_size):
        self.batch_size = batch_size


def test_one_process_reads_every_photo_with_the_whole_batch():
    splits = {"train": ["a", "b", "c"], "validation": ["d"], "test": []}
    o = _Options(4)
    assert devices.process_share(splits, o) == (splits, o)
    assert devices.writes_run_folder() and devices.process_count() == 1


def test_each_process_reads_its_own_equal_share(monkeypatch):
    import dataclasses

    import jax

    @dataclasses.dataclass
    class Options:
        batch_size: int

    splits = {"train": [f"t{i}" for i in range(7)], "validation": ["v0", "v1", "v2"], "test": []}
    monkeypatch.setattr(devices, "process_count", lambda: 2)
    shares = []
    for i in range(2):
        monkeypatch.setattr(jax, "process_index", lambda i=i: i)
        share, o = devices.process_share(splits, Options(8))
        assert o.batch_size == 4
        shares.append(share)
    for name in splits:  # the same number on each (the same steps), none read twice
        a, b = shares[0][name], shares[1][name]
        assert len(a) == len(b) == len(splits[name]) // 2 and not set(a) & set(b)
    with pytest.raises(ValueError, match="divisible by the 2 processes"):
        devices.process_share(splits, Options(5))


@jax_only
def test_join_job_refuses_a_running_jax():
    import jax.numpy as jnp

    jnp.zeros(1).block_until_ready()  # JAX is running in this process now
    with pytest.raises(ValueError, match="must come before any model is built"):
        devices.join_job("127.0.0.1:1", 2, 0)


def test_job_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "10.0.0.1:1234,10.0.0.2:1234")
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    assert devices._from_environment("coordinator_address", None) == "10.0.0.1:1234"
    assert devices._from_environment("num_processes", None) == 2
    assert devices._from_environment("process_id", None) == 1
    assert devices._from_environment("process_id", 0) == 0  # an argument wins
    monkeypatch.setenv("JAX_PROCESS_ID", "one")
    with pytest.raises(ValueError, match="JAX_PROCESS_ID must be an integer"):
        devices._from_environment("process_id", None)


@pytest.mark.slow
@jax_only
def test_bwcolor_train_runs_and_resumes_as_a_two_process_job(tmp_path, photo_dir):
    """Two `bwcolor train` processes with one run folder (a shared disk): process 0 writes it,
    and the job resumes from it."""
    import json

    run = tmp_path / "run"

    def job(*extra):
        port = _free_port()
        env = {**os.environ, "KERAS_BACKEND": "jax", "BWCOLOR_NO_COMPILATION_CACHE": "1"}
        env.pop("XLA_FLAGS", None)
        procs = [subprocess.Popen(
            [sys.executable, "-m", "bwcolor", "train", str(photo_dir), "-o", str(run),
             "--image-size", "32", "--batch-size", "2", "--cache-dir", "none",
             "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id",
             str(i), *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True) for i in range(2)]
        outs = [p.communicate(timeout=500)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outs[0][-2000:] + outs[1][-2000:]
        return outs

    outs = job("--epochs", "1")
    assert "process 0 of 2" in outs[0] and "process 1 of 2" in outs[1]
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    job("--resume", "--epochs", "2")
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 2
    assert [r["epoch"] for r in _history(run)] == ["1", "2"]
    assert not list(run.glob(".bwcolor-*"))  # no temporary file left


def _history(run):
    import csv

    with open(run / "history.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))
