"""bwcolor.presets: configs validated by value as well as type, errors that name the file, bundled
names never shadowed, and overwrite that only ever replaces a preset."""

import json
import shutil

import pytest

from bwcolor import Colorizer, presets

TINY = dict(widths=(8, 8), blocks=(1, 1))
GOOD = {"architecture": "default", "image_size": 32, "loss": "mse", "architecture_config": TINY}


@pytest.fixture(scope="module")
def tiny_preset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("p") / "tiny"
    Colorizer("default", image_size=32, loss="mse", architecture_config=TINY).save(folder)
    return folder


@pytest.mark.parametrize("change,message", [
    ({"image_size": 0}, "image_size must be in"),
    ({"image_size": 100000}, "image_size must be in"),
    ({"image_size": "64"}, "'image_size' must be int"),
    ({"architecture": "resnet"}, "unknown architecture"),
    ({"loss": "hinge"}, "unknown loss"),
    ({"learning_rate": -1.0}, "learning_rate must be > 0"),
    ({"annealing_temperature": 0}, "annealing_temperature must be > 0"),
    ({"optimizer": "sgd"}, "optimizer must be"),
    ({"mixed_precision": "int8"}, "mixed_precision must be"),
    ({"loss_config": {"grid_step": 0}}, "grid_step"),
    ({"loss_config": {"grid_step": -10}}, "grid_step"),
    ({"loss_config": {"weights": [1.0, float("nan")]}}, "weights"),
    ({"loss_config": {"rebalancing_lambda": 2}}, "rebalancing_lambda"),
    ({"format_version": 99}, "newer bwcolor"),
    ({"surprise": 1}, "unknown keys"),
])
def test_config_values_are_validated(change, message):
    with pytest.raises(ValueError, match=message):
        presets.validate_config({**GOOD, **change}, source="x/config.json")


def test_every_json_error_names_its_file(tiny_preset, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(tiny_preset, bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad/config\.json"):
        Colorizer.from_preset(bad)
    shutil.copy(tiny_preset / "config.json", bad / "config.json")
    (bad / "metadata.json").write_text("[1, 2")
    with pytest.raises(ValueError, match=r"bad/metadata\.json"):
        Colorizer.from_preset(bad)
    (bad / "metadata.json").write_text("{}")
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "image_size": -4}))
    with pytest.raises(ValueError, match=r"bad/config\.json.*image_size"):
        Colorizer.from_preset(bad)
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.keras").write_bytes(b"x")
    (run / "state.json").write_text("{oops")
    with pytest.raises(ValueError, match=r"run/state\.json"):
        Colorizer.resume(run)


def test_damaged_or_foreign_weights_are_told_apart_in_one_line(tiny_preset, tmp_path):
    import warnings

    bad = tmp_path / "bad"
    shutil.copytree(tiny_preset, bad)
    weights = bad / presets.WEIGHTS_FILE
    whole = weights.read_bytes()
    weights.write_bytes(whole[:len(whole) // 3])  # a copy cut short
    with pytest.raises(ValueError, match=r"weights file is damaged .*bad/model\.weights\.h5"):
        Colorizer.from_preset(bad)
    other = tmp_path / "other"  # another net's weights under this config
    Colorizer("default", image_size=32, loss="mse",
              architecture_config={**TINY, "widths": (4, 8)}).save(other)
    shutil.copy(other / presets.WEIGHTS_FILE, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning per layer before the error
        with pytest.raises(ValueError, match="weights do not match the preset's architecture") as e:
            Colorizer.from_preset(bad)
    assert "\n" not in str(e.value) and len(str(e.value)) < 500


def test_a_folder_never_shadows_a_bundled_name(tiny_preset, tmp_path, monkeypatch):
    shutil.copytree(tiny_preset, tmp_path / "default")
    monkeypatch.chdir(tmp_path)
    assert presets.resolve("default") == presets.BUILTIN_DIR / "default"
    assert presets.resolve("./default").resolve() == (tmp_path / "default").resolve()
    assert Colorizer.from_preset("./default").config["image_size"] == 32
    assert Colorizer.from_preset("default").config["image_size"] != 32


def test_save_overwrite_replaces_only_a_preset(tiny_preset, tmp_path):
    c = Colorizer.from_preset(tiny_preset)
    precious = tmp_path / "photos"
    precious.mkdir()
    (precious / "grandma.jpg").write_bytes(b"the only scan")
    with pytest.raises(FileExistsError, match="only a bwcolor preset"):
        c.save(precious, overwrite=True)
    assert (precious / "grandma.jpg").read_bytes() == b"the only scan"
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        c.save(tmp_path / "notes.txt", overwrite=True)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    # A folder named like the old fixed backup name is not touched either.
    target = tmp_path / "model"
    c.save(target)
    (tmp_path / ".model.old").mkdir()
    (tmp_path / ".model.old" / "mine.txt").write_text("mine")
    c.save(target, overwrite=True)
    assert (tmp_path / ".model.old" / "mine.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model.old", "model", "notes.txt", "photos"]


def test_run_folder_without_best_is_explained(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "state.json").write_text("{}")
    with pytest.raises(ValueError, match="no best/"):
        presets.resolve(run)


def test_bundled_presets_are_valid():
    for name in presets.available():
        folder, config, metadata = presets.read_preset(name)
        assert folder.is_dir() and isinstance(metadata, dict)
        assert presets.validate_config(config) is config


def test_float16_weights_load_as_the_same_float32_without_compiling(tmp_path):
    """A preset saved in float16 loads into float32 variables holding exactly the float16 values,
    cast by NumPy: on JAX, casting them in the backend lowered and compiled (or looked up in the
    compilation cache) one program per weight shape, over half of loading the bundled default."""
    import numpy as np
    from helpers import JaxLowerings

    from bwcolor import _backend

    # Widths no other test uses, so no program for these shapes is cached in this process;
    # random weights set from NumPy (random initializers compile too).
    with _backend.weights_will_be_loaded():
        c = Colorizer("default", image_size=32, loss="mse",
                      architecture_config=dict(widths=(5, 11), blocks=(1, 1)))
    rng = np.random.default_rng(0)
    c.model.set_weights([rng.normal(size=w.shape).astype(np.float32)
                         for w in c.model.get_weights()])
    c.save(tmp_path / "f16", weights_dtype="float16")
    with JaxLowerings() as lowered:
        loaded = Colorizer.from_preset(tmp_path / "f16")
    assert lowered.count == 0
    for got, saved in zip(loaded.model.get_weights(), c.model.get_weights(), strict=True):
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, saved.astype(np.float16).astype(np.float32))
