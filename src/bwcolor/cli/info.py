"""``bwcolor info``: version, backend, devices, presets, architectures, extras."""

from __future__ import annotations

import json

from bwcolor import presets
from bwcolor.cli import _common
from bwcolor.cli._common import EXIT_OK, Formatter, console


def run(args):
    import importlib.metadata

    from bwcolor import _backend

    _backend.import_keras_lean()
    import keras

    from bwcolor import architectures
    from bwcolor._version import __version__

    try:  # the app extra, without importing Gradio (seconds)
        app_extra = f"gradio {importlib.metadata.version('gradio')}"
    except importlib.metadata.PackageNotFoundError:
        app_extra = 'not installed (pip install "bwcolor[app]")'
    try:
        onnx_extra = f"onnx {importlib.metadata.version('onnx')}"
    except importlib.metadata.PackageNotFoundError:
        onnx_extra = 'not installed (pip install "bwcolor[onnx]")'
    hint_presets = [name for name in presets.available()
                    if _common.takes_hints(presets.read_preset(name)[1])]
    info = {"bwcolor": __version__, "keras": keras.__version__, "backend": _backend.name(),
            "devices": _backend.devices(), "presets": presets.available(),
            "hint presets": hint_presets, "architectures": architectures.available(),
            "app": app_extra, "onnx export": onnx_extra}
    if args.json:
        console.print(json.dumps(info))
    else:
        for k, v in info.items():
            console.print(f"{k:>14}: {', '.join(v) if isinstance(v, list) else v}")
    return EXIT_OK


def add_parser(sub):
    i = sub.add_parser("info", help="version, backend, devices, presets, architectures",
                       formatter_class=Formatter)
    i.add_argument("--json", action="store_true", help="print one JSON object")
    i.set_defaults(func=run)
