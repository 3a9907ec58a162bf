"""How training uses the machine: mixed precision, data-parallel distribution, and the
processes of a multi-process (multi-host) JAX job."""

from __future__ import annotations

import contextlib
import dataclasses
import os

import keras

from bwcolor import _backend, losses
from bwcolor._backend import DTYPE_POLICIES
from bwcolor.device_crops import DeviceCropModel


def resolve_mixed_precision(value):
    """``"bfloat16"``, ``"float16"`` or None for fit's ``mixed_precision`` (``"auto"`` asks
    :func:`bwcolor._backend.auto_mixed_precision`)."""
    if value == "auto":
        return _backend.auto_mixed_precision()
    if value not in DTYPE_POLICIES:
        raise ValueError(f"mixed_precision must be 'bfloat16', 'float16', 'auto' or None. "
                         f"Received: mixed_precision={value!r}")
    return value


def setup_distribution(distribute, batch_size):
    """Set keras.distribution.DataParallel when asked and useful; True when it was set."""
    if distribute is None:
        if process_count() > 1:
            raise ValueError(f"a job of {process_count()} processes trains with "
                             f"distribute='auto'. Received: distribute=None")
        return False
    if distribute != "auto":
        raise ValueError(f"distribute must be None or 'auto'. Received: distribute={distribute!r}")
    n = _backend.device_count()
    if n <= 1:
        return False
    if _backend.name() != "jax":
        raise ValueError(f"distribute='auto' needs the JAX backend. "
                         f"Received: backend={_backend.name()!r}")
    if batch_size % n:
        raise ValueError(f"batch_size must be divisible by the {n} devices for data-parallel "
                         f"training. Received: batch_size={batch_size}")
    distribution = keras.distribution.DataParallel()
    if process_count() > 1:  # each process's loaders read its own share already
        distribution.auto_shard_dataset = False
    keras.distribution.set_distribution(distribution)
    return True


def place_crops_and_targets(o, resumed_model=None, hints=False):
    """(device_crops, rgb_targets): whether photo crops, and a*b* targets, are made on the
    device. A resumed run keeps its checkpoint's choice; "auto" means on a GPU/TPU (crops stay
    on the host for a hint model: its random hints are revealed from the host's a*b*)."""
    if resumed_model is not None:
        return (isinstance(resumed_model, DeviceCropModel),
                isinstance(getattr(resumed_model, "loss", None), losses.RGBTargets))
    device_crops = (_backend.has_accelerator() and o.degradations in (None, False)
                    and o.validation_data is None and not hints
                    if o.crops_on_device == "auto" else o.crops_on_device)
    rgb_targets = (_backend.has_accelerator() if o.targets_on_device == "auto"
                   else o.targets_on_device) or device_crops
    return device_crops, rgb_targets


# ------------------------------------------------------------------ several processes (hosts)
#: Environment variables read for each of join_job's arguments, first JAX's, then Keras'.
JOB_ENVIRONMENT = {
    "coordinator_address": ("JAX_COORDINATOR_ADDRESS", "KERAS_DISTRIBUTION_JOB_ADDRESSES"),
    "num_processes": ("JAX_NUM_PROCESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES"),
    "process_id": ("JAX_PROCESS_ID", "KERAS_DISTRIBUTION_PROCESS_ID"),
}


def _from_environment(name, value):
    if value is not None:
        return value
    for variable in JOB_ENVIRONMENT[name]:
        text = os.environ.get(variable)
        if text:
            if name == "coordinator_address":
                return text.split(",")[0]  # Keras' list of addresses starts with the coordinator
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"{variable} must be an integer. Received: {variable}={text!r}") from None
    return None


def join_job(coordinator_address=None, num_processes=None, process_id=None, *, timeout=300,
             heartbeat_timeout=100):
    """Join a multi-process JAX job (several hosts, or several processes on one), before any
    model is built.

    Each argument left None is read from ``JAX_COORDINATOR_ADDRESS`` / ``JAX_NUM_PROCESSES`` /
    ``JAX_PROCESS_ID``, else Keras' ``KERAS_DISTRIBUTION_JOB_ADDRESSES`` (its first address) /
    ``KERAS_DISTRIBUTION_NUM_PROCESSES`` / ``KERAS_DISTRIBUTION_PROCESS_ID``; where none is
    given, JAX detects the job itself (SLURM, Open MPI, TPU pods). On CPUs, the processes' sums
    go through gloo. A process that is missing at the start fails the others after ``timeout``
    seconds; one that dies later, after ``heartbeat_timeout`` seconds, ends every process with
    JAX's message naming it, rather than a hang.

    Then ``fit(distribute="auto")`` trains data-parallel on every process's devices: each
    process reads its own share of the training photos, and only process 0 writes the run
    folder.

    Returns
    -------
    (process_id, num_processes)

    Raises
    ------
    ValueError
        On a backend other than JAX, or when JAX already runs (a model was built first).
    """
    if _backend.name() != "jax":
        raise ValueError(f"join_job needs the JAX backend. Received: backend={_backend.name()!r}")
    import jax
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        raise ValueError("join_job must come before any model is built or any JAX "
                         "computation (JAX is already running in this process)")
    kwargs = {name: _from_environment(name, value) for name, value in (
        ("coordinator_address", coordinator_address), ("num_processes", num_processes),
        ("process_id", process_id))}
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(**kwargs, initialization_timeout=int(timeout),
                               heartbeat_timeout_seconds=int(heartbeat_timeout))
    return jax.process_index(), jax.process_count()


def process_count():
    """Processes in this training job (1 unless :func:`join_job` joined one)."""
    if _backend.name() != "jax":
        return 1
    import jax

    return jax.process_count()


def writes_run_folder():
    """True in the process that writes the run folder: process 0 (the only one, usually)."""
    if process_count() == 1:
        return True
    import jax

    return jax.process_index() == 0


def process_share(splits, options):
    """(splits, options) of this process's loaders: its share of each split (every process the
    same number of photos, so every one takes the same steps) and its part of the batch."""
    n = process_count()
    if n == 1 or splits is None:
        return splits, options
    if options.batch_size % n:
        raise ValueError(f"batch_size must be divisible by the {n} processes of the job. "
                         f"Received: batch_size={options.batch_size}")
    import jax

    i = jax.process_index()
    shared = {name: list(paths)[i::n][:len(paths) // n] for name, paths in splits.items()}
    return shared, dataclasses.replace(options, batch_size=options.batch_size // n)


def same_weights_everywhere(model):
    """Give every process process 0's weights (each built its model from its own random seed)."""
    if process_count() == 1:
        return
    from jax.experimental import multihost_utils

    model.set_weights(multihost_utils.broadcast_one_to_all(model.get_weights()))


@contextlib.contextmanager
def checkpoint_folder(run):
    """Where this process's checkpoint callback writes: the run folder in process 0; in the
    others a temporary folder removed at the end. Saving gathers the weights with JAX
    collectives that every process must join, so the others save too, and drop their copy."""
    if run is None or writes_run_folder():
        yield run
        return
    import shutil
    import tempfile

    from bwcolor._io import temporary_folder

    scratch = temporary_folder(tempfile.gettempdir())
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def lay_out_variables(model):
    """Lay a model loaded before the distribution was set (a resumed checkpoint) out as the
    distribution asks: its weights, optimizer and metric variables (on JAX; they keep their
    values)."""
    if _backend.name() != "jax" or keras.distribution.distribution() is None:
        return
    import numpy as np

    optimizer = getattr(model, "optimizer", None)
    variables = [*model.variables, *getattr(model, "metrics_variables", []),
                 *(optimizer.variables if optimizer is not None else [])]
    for variable in {id(v): v for v in variables}.values():
        value = np.asarray(variable.value)
        variable._layout = None
        variable._initialize_layout()
        variable._direct_assign(value)
