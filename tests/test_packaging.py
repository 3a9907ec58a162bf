"""What a user gets from an install and reads first: the bundled photo, package data, matplotlib
as an extra, and quick starts that run as written."""

import doctest
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import bwcolor
from bwcolor import plotting
from bwcolor.data import sample_photo, sample_photos

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _block_matplotlib(monkeypatch):
    # A None entry makes `import matplotlib...` raise ImportError, as when it is not installed.
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


# ---------------------------------------------------------------- the bundled photo
def test_sample_photo_is_the_bundled_black_and_white_photo():
    path = sample_photo()
    assert path.name == "castle_clinton_1961.jpg" and path.is_file()
    with Image.open(path) as img:
        assert (img.format, img.mode, img.size) == ("JPEG", "L", (1024, 808))
    assert sample_photo("castle_clinton_1961") == path


def test_sample_photo_names_an_unknown_photo_and_those_that_exist():
    with pytest.raises(ValueError, match=r"name='grandpa'.*castle_clinton_1961"):
        sample_photo("grandpa")


def test_sample_photo_is_public_in_bwcolor_data():
    import bwcolor.data

    assert "sample_photo" in bwcolor.data.__all__


# ---------------------------------------------------------------- package data
def _package_data_patterns():
    config = _pyproject()
    return config["tool"]["setuptools"]["package-data"]["bwcolor"]


def test_every_package_data_pattern_matches_a_file_and_every_data_file_is_listed():
    package = ROOT / "src" / "bwcolor"
    patterns = _package_data_patterns()
    matched = set()
    for pattern in patterns:
        files = {p for p in package.glob(pattern) if p.is_file()}
        assert files, f"package-data pattern matches no file. Received: {pattern!r}"
        matched |= files
    data_files = {p for p in package.rglob("*") if p.is_file() and p.suffix not in {".py", ".pyc"}
                  and "__pycache__" not in p.parts}
    assert data_files - matched == set(), "files in the package that a wheel would leave out"


@pytest.mark.slow
def test_a_built_wheel_holds_the_presets_the_photo_and_the_type_marker(tmp_path):
    # A copy of the project, so building does not write build/ and egg-info into the work tree.
    import shutil

    project = tmp_path / "project"
    shutil.copytree(ROOT / "src", project / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(ROOT / "pyproject.toml", project)
    readme = _pyproject()["project"]["readme"]
    readme = readme["file"] if isinstance(readme, dict) else readme
    (project / readme).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / readme, project / readme)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(tmp_path / "dist"), str(project)], check=True)
    (wheel,) = (tmp_path / "dist").glob("bwcolor-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for preset in ("default", "seed"):
        assert {f"bwcolor/bundled_presets/{preset}/{f}" for f in ("config.json", "metadata.json",
                                                            "model.weights.h5")} <= names
    assert "bwcolor/data/bundled_photos/castle_clinton_1961.jpg" in names
    assert "bwcolor/data/bundled_photos/ATTRIBUTION.txt" in names
    assert "bwcolor/py.typed" in names


def test_long_description_has_no_repository_relative_pictures_or_links():
    config = _pyproject()
    readme = config["project"]["readme"]
    text = (ROOT / (readme["file"] if isinstance(readme, dict) else readme)).read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)]+)\)", text) + re.findall(r"<img[^>]*src=\"([^\"]+)\"", text)
    relative = [t for t in targets if not re.match(r"[a-z]+://", t)]
    assert relative == [], "a package index shows these as broken pictures or links"


# ---------------------------------------------------------------- matplotlib is an extra
def test_matplotlib_is_an_extra_not_a_dependency():
    config = _pyproject()["project"]
    assert not any(d.startswith("matplotlib") for d in config["dependencies"])
    extras = config["optional-dependencies"]
    assert any(d.startswith("matplotlib") for d in extras["plot"])
    for extra in ("test", "docs"):  # each takes the plot extra, alone or with others
        own = [re.fullmatch(r"bwcolor\[(.*)\]", d) for d in extras[extra]]
        assert any(m and "plot" in m.group(1).split(",") for m in own), extras[extra]


def test_plotting_without_matplotlib_names_the_extra(monkeypatch, tmp_path):
    csv_path = tmp_path / "history.csv"
    csv_path.write_text("epoch,loss,val_loss\n1,0.5,0.6\n", encoding="utf-8")
    _block_matplotlib(monkeypatch)
    with pytest.raises(ImportError, match=re.escape('pip install "bwcolor[plot]"')):
        plotting.plot_history(csv_path)
    with pytest.raises(ImportError, match=re.escape('pip install "bwcolor[plot]"')):
        plotting.plot_comparison([np.zeros((8, 8, 3), np.uint8)], {})


def test_sample_photos_without_matplotlib(monkeypatch):
    _block_matplotlib(monkeypatch)
    assert set(sample_photos()) == {"astronaut", "chelsea", "coffee", "rocket", "motorcycle"}
    with pytest.raises(ImportError, match=re.escape('pip install "bwcolor[plot]"')):
        sample_photos(["grace_hopper"])


@pytest.mark.slow
def test_colorizing_needs_no_matplotlib(tmp_path):
    # In a fresh process where importing matplotlib fails: Keras then skips its pyplot import,
    # and bwcolor's Python API and command line must colorize all the same.
    code = textwrap.dedent(f"""
        import sys
        sys.modules["matplotlib"] = None
        from bwcolor import Colorizer
        from bwcolor.cli import main
        from bwcolor.data import sample_photo

        rgb = Colorizer.from_preset("default").colorize(sample_photo())
        assert rgb.shape == (808, 1024, 3), rgb.shape
        assert main(["colorize", str(sample_photo()), "-o", {str(tmp_path / "out.png")!r}]) == 0
        assert not any(m.startswith("matplotlib.") for m in sys.modules), "imported matplotlib"
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
    with Image.open(tmp_path / "out.png") as out:
        assert out.size == (1024, 808)


# ---------------------------------------------------------------- quick starts run as written
def _python_blocks(path, pattern):
    return [textwrap.dedent(b) for b in re.findall(pattern, path.read_text(encoding="utf-8"), re.S)]


@pytest.mark.slow
def test_quick_starts_run_as_written(tmp_path):
    md_block = r"```python\n(.*?)```"
    rst_block = r"\.\. code-block:: python\n\n((?:   [^\n]*\n|\n)+)"
    snippets = {
        "README.md": _python_blocks(ROOT / "README.md", md_block)[0],
        "docs/package_description.md": _python_blocks(ROOT / "docs" / "package_description.md", md_block)[0],
        "docs/index.rst": _python_blocks(ROOT / "docs" / "index.rst", rst_block)[0],
    }
    for where, code in snippets.items():
        assert "sample_photo()" in code, f"{where}'s quick start should run as written"
        check = code + "\nassert rgb.dtype.name == 'uint8' and rgb.shape == (808, 1024, 3)\n"
        result = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True)
        assert result.returncode == 0, f"{where}'s quick start failed:\n{result.stderr}"


@pytest.mark.slow
def test_package_docstring_example_runs():
    failures, tried = doctest.testmod(bwcolor, raise_on_error=False)
    assert failures == 0 and tried >= 4  # the four lines of the quick start, at least
