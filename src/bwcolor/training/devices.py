"""How training uses the machine: mixed precision and data-parallel distribution."""

from __future__ import annotations

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
    keras.distribution.set_distribution(keras.distribution.DataParallel())
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
