import os
import subprocess
import sys

import bwcolor
from bwcolor import architectures, color, data, device_crops, losses


def test_top_level_api_is_pinned():
    assert bwcolor.__all__ == ["Colorizer", "DatasetReport", "__version__", "plot_comparison"]
    for name in bwcolor.__all__:
        assert getattr(bwcolor, name) is not None


def test_submodule_apis_are_pinned():
    assert sorted(color.__all__) == sorted([
        "ab_to_target", "gray_to_lightness", "input_to_lightness", "lightness_to_input", "lab_to_rgb",
        "reduce_chroma_to_gamut", "rgb_to_gray", "rgb_to_lab", "target_to_ab", "uint8_gray_to_lightness",
        "uint8_rgb_to_lab", "uint8_rgb_to_lightness"])
    assert sorted(architectures.__all__) == sorted([
        "GrayToRGB", "TileToGrid", "available", "defaults", "flops", "get", "input_multiple",
        "output_stride", "receptive_field", "recommended_loss"])
    assert "ColorizationDataset" in data.__all__ and "scan" in data.__all__
    assert {"open_image", "pil_to_lightness", "load_rgb", "pil_to_rgb"} <= set(data.__all__)
    assert "RebalancedCrossEntropy" in losses.__all__ and "annealed_mean" in losses.__all__
    assert "RGBTargets" in losses.__all__
    assert sorted(device_crops.__all__) == ["BOX_FIELDS", "DeviceCropModel", "crop_windows",
                                            "resize_weights"]


def test_imports_with_no_environment_set():
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    code = "import bwcolor, bwcolor.color, bwcolor.color.ops, keras; print(keras.backend.backend())"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "jax"


def test_layers_do_not_import_upwards():
    # data -> color -> architectures/losses/device_crops -> colorizer -> cli: lower layers never
    # import higher ones.
    import ast
    from pathlib import Path

    root = Path(bwcolor.__file__).parent
    higher = {"color": {"data", "architectures", "losses", "colorizer", "cli"},
              "data": {"architectures", "losses", "colorizer", "cli"},
              "architectures": {"data", "losses", "colorizer", "cli"},
              "losses": {"data", "architectures", "colorizer", "cli"},
              "device_crops": {"data", "architectures", "colorizer", "cli"}}
    for layer, forbidden in higher.items():
        files = list((root / layer).rglob("*.py")) if (root / layer).is_dir() else [root / f"{layer}.py"]
        for f in files:
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bwcolor."):
                    assert node.module.split(".")[1] not in forbidden, f"{f} imports {node.module}"
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                    assert not any(n.split(".")[0] in {"jax", "torch"} for n in names) or layer == "data", f
