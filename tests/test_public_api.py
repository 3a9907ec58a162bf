import itertools
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
        "ChannelSlice", "GatedHintCorrection", "GrayToRGB", "MixtureMean", "TileToGrid", "accepts_hints", "automatic_part", "available", "defaults", "flops", "get",
        "input_channels", "input_multiple", "output_stride", "receptive_field", "recommended_loss",
        "transfer_weights"])
    from bwcolor import hints

    assert sorted(hints.__all__) == sorted([
        "DEFAULT_RADIUS", "HINT_CHANNELS", "MAX_RADIUS", "Hint", "hint_channels", "load_hints_file",
        "parse_color", "parse_hints", "reveal_random_hints"])
    assert "ColorizationDataset" in data.__all__ and "scan" in data.__all__
    assert {"open_image", "pil_to_lightness", "load_rgb", "pil_to_rgb"} <= set(data.__all__)
    assert "RebalancedCrossEntropy" in losses.__all__ and "annealed_mean" in losses.__all__
    assert "RGBTargets" in losses.__all__
    assert sorted(device_crops.__all__) == ["BOX_FIELDS", "DeviceCropModel", "crop_windows",
                                            "resize_weights"]
    # One home for the box layout: the host slicer's module; device_crops re-exports it.
    from bwcolor.data import crops

    assert device_crops.BOX_FIELDS is crops.BOX_FIELDS
    assert "validate_image_array" in data.__all__


def test_imports_with_no_environment_set():
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    code = "import bwcolor, bwcolor.color, bwcolor.color.ops, keras; print(keras.backend.backend())"
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "jax"


# Every top-level module or package of bwcolor, by layer: a module may import only modules of
# strictly lower layers (and its own package). A new module fails the test until it is placed
# here.
LAYERS = {
    "_backend": 0, "_io": 0, "_arguments": 0, "_version": 0,
    "color": 1,
    "hints": 2,
    "data": 3,
    "architectures": 4, "losses": 4, "metrics": 4, "device_crops": 4,
    "presets": 5, "plotting": 5, "_console": 5, "_plan": 5,
    "preprocessing": 6, "postprocessing": 6,
    "evaluation": 7, "preset_model": 7,
    "training": 8, "export": 8,
    "colorizer": 9,
    "app": 10, "video": 10, "cluster": 10,
    "cli": 11,
    "__main__": 12,
}
# Model code must stay backend-agnostic (keras.ops only).
NO_BACKEND_IMPORTS = {"color", "architectures", "losses", "metrics", "device_crops"}


def _bwcolor_modules():
    """{dotted module name: source file} for every .py file of the installed bwcolor."""
    from pathlib import Path

    root = Path(bwcolor.__file__).parent
    modules = {}
    for f in sorted(root.rglob("*.py")):
        parts = ("bwcolor", *f.relative_to(root).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return modules


def _type_checking_only(tree):
    """Import nodes under ``if TYPE_CHECKING:``, which never run."""
    import ast

    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                skipped |= {id(n) for n in ast.walk(stmt)}
    return skipped


def _import_graph():
    """{module: {(imported module, line)}} between bwcolor modules, imports at every level
    (inside functions too), for ``import bwcolor.x``, ``from bwcolor.x import y`` and
    ``from bwcolor import x``. Importing ``a.b.c`` also runs packages ``a.b`` and ``a``: those
    count too, except the importer's own packages, which are already running.

    The package root ``bwcolor`` is a facade (``__version__``, lazy public names), whose edges
    are its imports, the lazy ``__getattr__`` ones included: ``from bwcolor import Colorizer``
    counts as an import of the module the facade takes ``Colorizer`` from, and ``import bwcolor``
    or ``from bwcolor import __version__`` (a name that is neither) as an import of the root
    itself, so a module under ``colorizer`` that reads the root closes a loop through
    ``__getattr__``.
    """
    import ast

    modules = _bwcolor_modules()
    facade = {}
    for node in ast.walk(ast.parse(modules["bwcolor"].read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bwcolor."):
            facade.update({a.asname or a.name: node.module for a in node.names})
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        skipped = _type_checking_only(tree)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(tree):
            if id(node) in skipped or not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
                edges |= {("bwcolor", node.lineno) for a in node.names
                          if a.name == "bwcolor" and name != "bwcolor"}
            else:
                base = node.module or ""
                if node.level:  # relative import
                    base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    if sub in modules:
                        targets.append(sub)
                    elif base == "bwcolor" and a.name in facade:
                        targets.append(facade[a.name])
                    elif base == "bwcolor":
                        edges.add(("bwcolor", node.lineno))  # a name the root defines
                    else:
                        targets.append(base)
            for target in targets:
                parts = target.split(".")
                for k in range(2, len(parts) + 1):
                    dep = ".".join(parts[:k])
                    if dep in modules and dep != name and not (name + ".").startswith(dep + "."):
                        edges.add((dep, node.lineno))
        graph[name] = edges
    return graph


def _layer(module):
    return module.split(".")[1] if module.count(".") else None


def test_every_module_has_a_layer():
    missing = {_layer(m) for m in _bwcolor_modules() if _layer(m)} - set(LAYERS)
    assert not missing, f"place these modules in LAYERS (tests/test_public_api.py): {sorted(missing)}"


def test_layers_do_not_import_upwards():
    # color -> data -> architectures/losses/metrics/device_crops -> ... -> colorizer -> cli: a
    # module imports only lower layers, at any level (a function-level import runs too).
    import ast

    modules = _bwcolor_modules()
    wrong = []
    for name, edges in _import_graph().items():
        for dep, line in edges:
            a, b = _layer(name), _layer(dep)
            if a and b and a != b and a in LAYERS and b in LAYERS and LAYERS[b] >= LAYERS[a]:
                wrong.append(f"{modules[name]}:{line}: {name} (layer {LAYERS[a]}) imports {dep} "
                             f"(layer {LAYERS[b]})")
    assert not wrong, "\n".join(wrong)
    for name, path in modules.items():
        if _layer(name) in NO_BACKEND_IMPORTS:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                    assert not any(n.split(".")[0] in {"jax", "torch"} for n in names), \
                        f"{path}:{node.lineno} imports a backend"


def _find_cycle(graph):
    """One import cycle as a list of modules (first == last), or None. Iterative DFS."""
    state = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path, stack = [start], [iter(sorted(d for d, _ in graph[start]))]
        state[start] = 1
        while stack:
            dep = next(stack[-1], None)
            if dep is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            elif dep not in state:
                state[dep] = 1
                path.append(dep)
                stack.append(iter(sorted(d for d, _ in graph[dep])))
    return None


def test_no_import_cycles():
    # Function-level imports included: a cycle through them works until someone moves one of the
    # imports to the top of its module, and then "import bwcolor.x" breaks.
    graph = _import_graph()
    cycle = _find_cycle(graph)
    if cycle:
        lines = {a: dict(graph[a]).get(b) for a, b in itertools.pairwise(cycle)}
        hops = " -> ".join(f"{m} (line {lines[m]})" for m in cycle[:-1]) + f" -> {cycle[-1]}"
        raise AssertionError(f"import cycle: {hops}")


def test_cycle_finder_finds_cycles():
    # The cycle test above passes when there is none; check it would see one.
    assert _find_cycle({"a": {("b", 1)}, "b": {("c", 2)}, "c": {("a", 3)}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {("b", 1)}, "b": set(), "c": {("b", 2)}}) is None
