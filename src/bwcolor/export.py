"""ONNX export: a colorizer's net with its decoding, for apps that run it without Python.

The exported graph is what :meth:`bwcolor.Colorizer.colorize` computes between the photo's
resized L* and its small a*b*: input scaling, the net (its automatic part: hints act outside
the net), and the head's decoding (the annealed mean of the ab bins at the chosen temperature,
or the regression's scaling). What stays outside is plain image code any runtime has:

1. L* of the photo (CIE L*, D65, in [0, 100]), resized bilinearly to the export's H x W;
2. run the graph: ``lightness`` (1, H, W, 1) float32 -> ``ab`` (1, H/s, W/s, 2) float32, CIE a*
   and b* (s is the net's output stride, stored in the file's metadata);
3. resize a*b* bilinearly to the photo's size, join it with the photo's own full-resolution L*,
   and convert Lab to sRGB (out-of-gamut colors clipped).

The shape is fixed at export (JAX's ONNX converter needs static shapes for the nets' resizes):
export once per render shape an app uses, e.g. 256 x 256 for square crops.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import keras
import numpy as np

from bwcolor import _backend, architectures
from bwcolor._arguments import check_int, check_positive
from bwcolor._io import atomic_write, temp_name
from bwcolor.color import ops as color_ops

__all__ = ["INSTALL_MESSAGE", "export_onnx"]

INSTALL_MESSAGE = ('ONNX export needs the "onnx" extra: pip install "bwcolor[onnx]" (onnx, '
                   "onnxruntime, and jax2onnx on JAX or onnxscript on PyTorch)")


def export_onnx(colorizer, path, *, height=None, width=None, annealing_temperature=None,
                overwrite=False):
    """Write ``colorizer``'s net and decoding as an ONNX file (see the module's docstring).

    Parameters
    ----------
    colorizer : bwcolor.Colorizer
    path : path
        The ``.onnx`` file to write (atomically; its folder is made if missing). A name with
        another suffix is refused: ``"preset/model.weights.h5"`` would replace a model's weights.
    height, width : int, optional
        The fixed input size, multiples of the net's input multiple (default: the training
        size, square).
    annealing_temperature : float, optional
        Baked into a classification head's decoding (default: the colorizer's).
    overwrite : bool
        Replace an existing file (never a folder).

    Returns
    -------
    pathlib.Path
        The file written. Its ONNX metadata holds ``bwcolor_version``, ``output_stride``,
        ``annealing_temperature`` and the colorizer's ``config`` (JSON).

    Raises
    ------
    ImportError
        Without the ONNX packages for the current backend.
    RuntimeError
        When the converted file does not run in ONNX Runtime like the model (checked whenever
        ``onnxruntime`` is installed; nothing is written then).
    ValueError, FileExistsError
        For a bad size or temperature, a path not ending in ``.onnx``, or an existing file
        without ``overwrite``.
    """
    path = Path(path)
    height, width = _check_size(colorizer, height, width)
    if annealing_temperature is None:
        annealing_temperature = colorizer.config["annealing_temperature"]
    check_positive("annealing_temperature", annealing_temperature)
    if path.is_dir() or (path.exists() and not overwrite):
        kind = "a folder" if path.is_dir() else "a file; pass overwrite=True to replace it"
        raise FileExistsError(f"the export path is {kind}. Received: path={str(path)!r}")
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"path must name a file ending in .onnx. Received: path={str(path)!r}")
    onnx = _require_onnx()

    graph = decoding_model(colorizer, height, width, float(annealing_temperature))
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.parent / temp_name(".onnx")  # the exporters write a file by its name
    try:
        with warnings.catch_warnings():
            # The exporters' own deprecation and tracer warnings are about their internals; and
            # under "-W error" one of them made Keras drop torch's exporter for the deprecated
            # TorchScript one, which then failed.
            warnings.simplefilter("ignore")
            graph.export(str(scratch), format="onnx", verbose=False, input_signature=[
                keras.InputSpec(shape=(1, height, width, 1), dtype="float32")])
        proto = onnx.load(str(scratch))
    finally:
        for leftover in (scratch, scratch.with_name(scratch.name + ".data")):
            if leftover.exists():
                os.remove(leftover)
    _name_io(proto)
    stride = architectures.output_stride(colorizer.model)
    for key, value in {"bwcolor_version": _version(), "output_stride": str(stride),
                       "annealing_temperature": repr(float(annealing_temperature)),
                       "config": json.dumps(colorizer.get_config(), sort_keys=True),
                       "input": "lightness: CIE L* in [0, 100], (1, H, W, 1) float32",
                       "output": "ab: CIE a*, b* (D65), (1, H/s, W/s, 2) float32"}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    content = proto.SerializeToString()
    _check_runs_like(graph, content, height, width)
    with atomic_write(path) as f:
        f.write(content)
    return path


def _check_runs_like(graph, content, height, width):
    """Run the file in ONNX Runtime (when installed) on a fixed L* ramp and compare it with the
    Keras graph: a converter can write a file that does not run (JAX's made a MaxPool ONNX
    Runtime refuses, for the ``unet``), and such a file is never written."""
    try:
        import onnxruntime
    except ImportError:
        return
    ramp = np.linspace(0, 100, height * width, dtype=np.float32).reshape(1, height, width, 1)
    expected = keras.ops.convert_to_numpy(graph(ramp))
    try:
        session = onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
        got = session.run(None, {"lightness": ramp})[0]
        problem = None if got.shape == expected.shape else f"output shape {got.shape}"
        if problem is None and not np.allclose(got, expected, atol=0.05, equal_nan=True):
            gap = np.nanmax(np.where(np.isnan(got) != np.isnan(expected), np.inf,
                                     np.abs(got - expected)))
            problem = f"a*b* up to {gap:.3g} away from the model's"
    except Exception as e:  # ONNX Runtime's errors have no common base class
        problem = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:200]}"
    if problem:
        other = " (the torch backend converts differently: KERAS_BACKEND=torch)" \
            if _backend.name() == "jax" else ""
        raise RuntimeError(f"the {_backend.name()} ONNX converter made a file that does not "
                           f"reproduce the model in ONNX Runtime ({problem}); nothing was "
                           f"written{other}")


def decoding_model(colorizer, height, width, annealing_temperature):
    """The Keras model that is exported: L* (1, H, W, 1) -> a*b* (1, H/s, W/s, 2)."""
    net = colorizer._predictor(hints=False)  # float32; a hint net's automatic part
    channels = net.inputs[0].shape[-1]
    lightness = keras.Input((height, width, 1), batch_size=1, name="lightness")
    x = color_ops.lightness_to_input(lightness)
    if channels > 1:  # hint channels, all zero: no hints
        x = keras.ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, channels - 1]])
    ab = colorizer.postprocessor.decode(net(x), annealing_temperature)
    return keras.Model(lightness, ab, name="bwcolor_decoding")


def _check_size(colorizer, height, width):
    multiple = colorizer.preprocessor.input_multiple
    size = colorizer.config["image_size"]
    height, width = size if height is None else height, size if width is None else width
    for name, value in (("height", height), ("width", width)):
        check_int(name, value, low=multiple)
        if value % multiple or value > 4096:
            raise ValueError(f"{name} must be a multiple of {multiple} in [{multiple}, 4096] for "
                             f"this net. Received: {name}={value!r}")
    return height, width


def _require_onnx():
    try:
        import onnx

        if _backend.name() == "jax":
            import jax2onnx  # noqa: F401
        elif _backend.name() == "torch":
            import onnxscript  # noqa: F401
    except ImportError as e:
        raise ImportError(f"{INSTALL_MESSAGE}. Missing: {e.name}") from None
    return onnx


def _name_io(proto):
    """Name the graph's input ``lightness`` and its output ``ab``, whatever the exporter chose."""
    renames = {proto.graph.input[0].name: "lightness", proto.graph.output[0].name: "ab"}
    for node in proto.graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
    proto.graph.input[0].name, proto.graph.output[0].name = "lightness", "ab"


def _version():
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bwcolor")
    except PackageNotFoundError:
        return "unknown"
