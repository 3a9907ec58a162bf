"""The one module that knows which Keras backend runs, what devices it has, and how to make it fast.

Everything else in bwcolor is backend-agnostic ``keras.ops`` code.
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
from pathlib import Path

# Held for the whole of a weights_will_be_loaded block: the patch is process-wide, so two threads
# building models at once must not interleave patch and unpatch (the second would save the first
# one's patch as "the original" and leave it installed for good). Re-entrant, so a block may nest
# another in the same thread.
_ADD_WEIGHT_PATCH_LOCK = threading.RLock()
# How many weights_will_be_loaded blocks are open (read by weights_are_being_loaded).
_LOADING_DEPTH = 0
# Held for the whole of a numpy_casts_assigned_arrays block, for the same reason.
_ASSIGN_PATCH_LOCK = threading.RLock()
# The float dtypes NumPy casts to (bfloat16 variables keep the backend's cast).
_NUMPY_FLOATS = ("float16", "float32", "float64")
# gc_paused: how many blocks are open in all threads, and whether the collector was on before.
_GC_LOCK = threading.Lock()
_GC_PAUSES = 0
_GC_WAS_ENABLED = False


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while the block runs (building a model and
    loading its weights, importing Keras).

    Those steps create hundreds of thousands of objects that all stay alive, and the collector,
    triggered by the allocations, traverses them again and again for no garbage: with it paused,
    ``from_preset("default")`` took 0.8-0.9 s of CPU instead of 1.1 s (JAX, 2-core CPU), and the
    command line's import of Keras and JAX 0.1-0.3 s less. Reference counting still frees everything that is not in a cycle; cycles made in
    the block are collected after it. Blocks may overlap (threads, nesting): the collector comes
    back when the last one ends, and only if it was on when the first began.
    """
    global _GC_PAUSES, _GC_WAS_ENABLED
    with _GC_LOCK:
        if _GC_PAUSES == 0:
            _GC_WAS_ENABLED = gc.isenabled()
            gc.disable()
        _GC_PAUSES += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_PAUSES -= 1
            if _GC_PAUSES == 0 and _GC_WAS_ENABLED:
                gc.enable()


def select_default_backend():
    """Default to JAX when the user has not chosen a Keras backend and Keras is not imported yet."""
    import sys

    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "jax")


#: Packages Keras imports at start-up whenever they are installed, for features bwcolor never
#: uses: image galleries (matplotlib), DataFrame inputs (pandas), a notebook's file editor
#: (IPython), bounding boxes (cv2), the RemoteMonitor callback (requests). Together about 1 s of
#: CPU in an environment that has them all, a third of importing Keras with JAX.
KERAS_OPTIONAL_IMPORTS = ("matplotlib", "pandas", "IPython", "cv2", "requests")


def import_keras_lean():
    """Import Keras (and its backend) as in an install without :data:`KERAS_OPTIONAL_IMPORTS`.

    For the command line, whose commands never use those Keras features: Keras's modules then
    hold ``None`` for those packages, as in an install without them, and the packages import
    normally afterwards (bwcolor's own figures import matplotlib themselves). A library user's
    Keras is left as it is: nothing else calls this. Does nothing once Keras is imported.
    """
    import sys

    if "keras" in sys.modules:
        return
    blocked = [n for n in KERAS_OPTIONAL_IMPORTS if n not in sys.modules]
    for n in blocked:
        sys.modules[n] = None  # `import n` raises ImportError, which Keras expects
    try:
        with gc_paused():
            import keras  # noqa: F401
    finally:
        for n in blocked:
            if n in sys.modules and sys.modules[n] is None:
                del sys.modules[n]


def name():
    import keras

    return keras.backend.backend()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "bwcolor"


def enable_compilation_cache(path=None):
    """Turn on JAX's persistent compilation cache, so a second run skips XLA compiles.

    Does nothing on other backends, or when ``BWCOLOR_NO_COMPILATION_CACHE`` is set. Without
    ``path``, a cache folder already configured (by the user, or an earlier call) is kept.
    Returns the cache folder used, or None.
    """
    if name() != "jax" or os.environ.get("BWCOLOR_NO_COMPILATION_CACHE"):
        return None
    import jax

    if path is None and jax.config.jax_compilation_cache_dir:
        return Path(jax.config.jax_compilation_cache_dir)
    path = Path(path) if path is not None else cache_dir() / "jax"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # a read-only home must not stop colorizing
    jax.config.update("jax_compilation_cache_dir", str(path))
    # Cache even small, fast compiles: on a 2-core CPU every one of them is felt.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


@contextlib.contextmanager
def weights_will_be_loaded():
    """Build models inside this block when their weights are loaded right after.

    Random initializers are wasted work then, and on JAX each one compiles a program per kernel
    shape: building the default net took 8.6 s cold on a 2-core CPU, 1.2 s with zero
    initializers. Layers created inside the block get zeros made by NumPy
    (:func:`numpy_zeros`): Keras' own ``"zeros"`` initializer still ran one XLA program per
    variable shape (its lowering and a compilation-cache lookup even when warm); building the
    bundled default (300 variables) took 0.9 s of CPU so, 0.4 s now (JAX, 2-core CPU).

    The block patches ``keras.layers.Layer.add_weight`` for the whole process, so it holds a
    module-level re-entrant lock from start to end: another thread entering the block waits
    until this one has restored the original, and nested blocks in one thread are fine. A thread
    that builds layers *outside* any block while another thread is inside one still gets zero
    initializers; build models to train outside such a window.
    """
    import keras

    with _ADD_WEIGHT_PATCH_LOCK:
        original = keras.layers.Layer.add_weight

        def add_weight(self, *args, **kwargs):
            if args:  # add_weight(shape, initializer, ...): keep the shape, drop the initializer
                args = args[:1]
            kwargs["initializer"] = numpy_zeros
            return original(self, *args, **kwargs)

        keras.layers.Layer.add_weight = add_weight
        global _LOADING_DEPTH
        _LOADING_DEPTH += 1
        try:
            yield
        finally:
            _LOADING_DEPTH -= 1
            keras.layers.Layer.add_weight = original


def numpy_zeros(shape, dtype=None):
    """A Keras initializer: zeros made by NumPy and handed to the backend as they are.

    ``keras.initializers.Zeros`` calls ``keras.ops.zeros``, which on JAX runs (and so lowers and
    compiles, or looks up in the compilation cache) one program per shape; a NumPy array becomes
    a backend tensor by a copy. Dtypes NumPy lacks (bfloat16) go through ``keras.ops.zeros``.
    """
    import keras
    import numpy as np

    dtype = keras.backend.standardize_dtype(dtype or keras.config.floatx())
    try:
        zeros = np.zeros(shape, dtype=np.dtype(dtype))
    except TypeError:
        return keras.ops.zeros(shape, dtype=dtype)
    # With the dtype given, JAX's asarray copies the array (without it, it compiles a program).
    return keras.ops.convert_to_tensor(zeros, dtype=dtype)


@contextlib.contextmanager
def numpy_casts_assigned_arrays():
    """Inside this block, a NumPy float array assigned to a Keras variable of another float dtype
    is cast by NumPy first (float16 weights read into float32 variables, as presets store them).

    On JAX the backend's cast is one XLA program per shape (lowered and compiled, or looked up in
    the compilation cache, even when warm); NumPy's cast gives the same values (IEEE
    round-to-nearest-even both ways) with no program. Patches the class that defines
    ``keras.Variable.assign`` for the whole process while held (under a module-level
    re-entrant lock, as :func:`weights_will_be_loaded`); other threads' assignments meanwhile
    get the same values as without it.
    """
    import keras
    import numpy as np

    owner = next(c for c in keras.Variable.__mro__ if "assign" in vars(c))
    with _ASSIGN_PATCH_LOCK:
        original = vars(owner)["assign"]

        def assign(self, value):
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                target = self._dtype  # the variable's own (``dtype`` follows autocast scopes)
                if target in _NUMPY_FLOATS and value.dtype != np.dtype(target):
                    value = value.astype(target)
            return original(self, value)

        owner.assign = assign
        try:
            yield
        finally:
            owner.assign = original


def weights_are_being_loaded():
    """Whether a :func:`weights_will_be_loaded` block is open: builders skip loading pretrained
    weights of their own then (a backbone's ImageNet file), as the caller's weights replace them."""
    return _LOADING_DEPTH > 0


def devices():
    """Describe the accelerator devices the current backend sees, as strings."""
    backend = name()
    if backend == "jax":
        import jax

        return [f"{d.platform}:{d.id} ({d.device_kind})" for d in jax.devices()]
    if backend == "torch":
        import torch

        found = ["cpu"]
        if torch.cuda.is_available():
            found += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
        return found
    return ["cpu"]


def has_accelerator():
    """True when the backend trains on a GPU or TPU rather than the CPU."""
    backend = name()
    if backend == "jax":
        import jax

        return jax.default_backend() != "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def device_count():
    if name() == "jax":
        import jax

        return jax.device_count()
    return 1


def cpu_has_bf16():
    """True when the CPU has AMX or AVX-512 BF16 instructions (read from Linux's /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def torch_cuda():
    """True on the torch backend with a CUDA device."""
    if name() != "torch":
        return False
    import torch

    return torch.cuda.is_available()


#: mixed_precision -> the Keras dtype policy a model is built with.
DTYPE_POLICIES = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16", None: "float32"}


def auto_mixed_precision():
    """What ``mixed_precision="auto"`` means on this machine: ``"bfloat16"`` or None (float32).

    Measured (benchmarks/train_speed.py): on CPUs with AMX / AVX-512 BF16, torch's oneDNN trains
    2-2.5x faster in bf16 (wallner_beta; 1.2-1.9x for default); JAX's CPU backend gains nothing,
    and on GPUs users choose.
    """
    return "bfloat16" if name() == "torch" and cpu_has_bf16() and not torch_cuda() else None


def read_torch_state_dict(path):
    """A PyTorch state dict file as ``{name: NumPy array}`` (scalars such as batch norm's
    ``num_batches_tracked`` left out), read with ``weights_only=True`` (no code runs).

    Raises
    ------
    ValueError
        Without torch (naming the pip line), or for a file torch cannot read, naming it.
    """
    try:
        import torch
    except ImportError:
        raise ValueError("reading PyTorch weights needs torch: pip install torch") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"could not read a PyTorch state dict. Received: path={str(path)!r}: "
                         f"{e}") from None
    if not isinstance(state, dict):
        raise ValueError(f"not a PyTorch state dict (a {type(state).__name__}). "
                         f"Received: path={str(path)!r}")
    return {k: v.float().numpy() for k, v in state.items() if hasattr(v, "ndim") and v.ndim}
