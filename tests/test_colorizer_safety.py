"""Colorizer's API under mistakes and accidents: clear errors naming the argument, runs that survive
NaN losses, full disks and vanishing photos, and a bounded number of compiled render shapes."""

import errno
import json
import os
import shutil
import warnings

import keras
import numpy as np
import pytest
from helpers import digest
from PIL import Image

from bwcolor import Colorizer, architectures
from bwcolor.data import ColorizationDataset

TINY = dict(widths=(8, 8), blocks=(1, 1))


@pytest.fixture(scope="module")
def tiny():
    return Colorizer("default", image_size=32, loss="mse", architecture_config=TINY)


@pytest.mark.parametrize("kwargs,error,name", [
    ({"batch_size": -1}, ValueError, "batch_size"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 2.5}, TypeError, "batch_size"),
    ({"render_size": 0}, ValueError, "render_size"),
    ({"render_size": 10**6}, ValueError, "render_size"),
    ({"render_size": True}, TypeError, "render_size"),
    ({"annealing_temperature": 0}, ValueError, "annealing_temperature"),
    ({"annealing_temperature": float("nan")}, ValueError, "annealing_temperature"),
])
def test_colorize_names_the_bad_argument(tiny, photos, kwargs, error, name):
    with pytest.raises(error, match=f"{name}=") as info:
        tiny.colorize(photos["coffee"], **kwargs)
    assert "Received" in str(info.value)


@pytest.mark.parametrize("kwargs,error,name", [
    ({"image_size": 0}, ValueError, "image_size"),
    ({"image_size": "big"}, TypeError, "image_size"),
    ({"learning_rate": 0}, ValueError, "learning_rate"),
    ({"annealing_temperature": -1}, ValueError, "annealing_temperature"),
    ({"architecture": "resnet"}, ValueError, "architecture"),
])
def test_constructor_names_the_bad_argument(kwargs, error, name):
    with pytest.raises(error, match=name):
        Colorizer(**{"architecture": "default", "architecture_config": TINY, **kwargs})


@pytest.mark.parametrize("kwargs,error,name", [
    ({"batch_size": -1}, ValueError, "batch_size"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"validation_split": 1.5}, ValueError, "validation_split"),
    ({"validation_split": 0.6, "test_split": 0.5}, ValueError, "test_split"),
    ({"repeats": 0}, ValueError, "repeats"),
    ({"time_budget": -5}, ValueError, "time_budget"),
    ({"seed": -1}, ValueError, "seed"),
    ({"loader": "magic"}, ValueError, "loader"),
    ({"degradations": "heavy"}, TypeError, "degradations"),
])
def test_fit_names_the_bad_argument_before_any_work(tiny, photo_dir, kwargs, error, name, monkeypatch):
    monkeypatch.setattr("bwcolor.data.scan", lambda *a, **k: pytest.fail("scanned photos"))
    with pytest.raises(error, match=name):
        tiny.fit(photo_dir, **kwargs)


def test_a_fit_that_fails_on_its_photos_leaves_no_run_folder(tiny, tmp_path):
    photos = tmp_path / "gray_photos"
    photos.mkdir()
    Image.new("RGB", (64, 64), (90, 90, 90)).save(photos / "gray.png")  # skipped: near-gray
    run = tmp_path / "runs" / "first"
    with pytest.raises(ValueError, match="no usable training photos"):
        tiny.fit(photos, checkpoint_dir=run, verbose=0)
    assert not (tmp_path / "runs").exists()


def test_fit_checks_the_data_and_run_folder_first(tiny, photo_dir, tmp_path, monkeypatch):
    monkeypatch.setattr("bwcolor.data.scan", lambda *a, **k: pytest.fail("scanned photos"))
    with pytest.raises(FileNotFoundError, match="missing"):
        tiny.fit(tmp_path / "missing")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match=r"run folder cannot be made: .*a_file' is a file"):
        tiny.fit(photo_dir, checkpoint_dir=tmp_path / "a_file" / "run")
    with pytest.raises(ValueError, match=r"checkpoint_dir must be a folder. Received: .*a file"):
        tiny.fit(photo_dir, checkpoint_dir=tmp_path / "a_file")
    for name in ("checkpoint_dir", "cache_dir"):  # bwcolor never writes into the photo tree
        with pytest.raises(ValueError, match=f"{name} must not lie inside the photo folder"):
            tiny.fit(photo_dir, **{name: photo_dir / "run"})
        with pytest.raises(ValueError, match=f"{name} must be a folder"):
            tiny.fit(photo_dir, **{name: tmp_path / "a_file"})
    assert not (photo_dir / "run").exists()


@pytest.mark.parametrize("leftover", ["state.json", "last.keras", "best", "history.csv"])
def test_a_fresh_fit_never_starts_over_in_an_earlier_run(tiny, photo_dir, tmp_path, monkeypatch,
                                                         leftover):
    # Starting over would replace the earlier run's checkpoint, best/ preset and history.
    monkeypatch.setattr("bwcolor.data.scan", lambda *a, **k: pytest.fail("scanned photos"))
    run = tmp_path / "run"
    run.mkdir()
    (run / "best").mkdir() if leftover == "best" else (run / leftover).write_text("earlier")
    before = digest(tmp_path)
    with pytest.raises(ValueError, match=rf"earlier training run \({leftover}\).*resume=True.*"
                                         rf"Received: checkpoint_dir='.*run'"):
        tiny.fit(photo_dir, checkpoint_dir=run)
    assert digest(tmp_path) == before


def test_mode_f_images_colorize_like_float_arrays(tiny, photos):
    gray = np.asarray(Image.fromarray(photos["coffee"]).convert("L"), np.float32) / 255
    # Same scaling: the L* of both routes agree to float rounding (a mode-F image read as
    # 0-255 would be 100 L* off).
    np.testing.assert_allclose(tiny.preprocessor.lightness(Image.fromarray(gray, mode="F")),
                               tiny.preprocessor.lightness(gray), atol=0.01)
    # End to end, the untrained net can turn a rounding difference into a level or two on a
    # rare pixel (seen once in CI: 2 levels, 1 pixel of 720,000).
    diff = np.abs(tiny.colorize(Image.fromarray(gray, mode="F")).astype(int) - tiny.colorize(gray))
    assert diff.max() <= 3 and (diff > 1).mean() < 1e-4


@pytest.mark.parametrize("size,error", [(0, ValueError), (-5, ValueError), (16, ValueError),
                                        (10**5, ValueError), (64.5, TypeError)])
def test_evaluate_names_a_bad_size(tiny, photo_dir, size, error):
    with pytest.raises(error, match="size="):
        tiny.evaluate(photo_dir, size=size)


def test_evaluate_takes_a_single_photo(tiny, photo_dir):
    scores = tiny.evaluate(photo_dir / "coffee.jpg")
    assert scores["n_images"] == 1 and np.isfinite(scores["delta_e2000"])
    with pytest.raises(TypeError, match="folder, a photo's path"):
        tiny.evaluate(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="single photo has no splits"):
        tiny.evaluate(photo_dir / "coffee.jpg", split="test")


def test_an_empty_split_says_why_rather_than_no_readable_photos(tiny, photo_dir, tmp_path):
    few = tmp_path / "few"
    few.mkdir()
    shutil.copy(photo_dir / "coffee.jpg", few / "a.jpg")  # one photo: its split is "train"
    with pytest.raises(ValueError, match=r"the test split is empty: of 1 usable photos \(train 1, "
                                         r"validation 0, test 0;"):
        tiny.evaluate(few, split="test", size=64)
    with pytest.raises(ValueError, match=r"no photo can be scored at size 2048: 1 file in .*few, "
                                         r"0 used, 1 skipped \(1 too-small\)"):
        tiny.evaluate(few, split="train", size=2048)
    assert tiny.evaluate(few, size=64)["n_images"] == 1


@pytest.mark.slow
def test_resume_refuses_a_colorizer_that_contradicts_the_run(photo_dir, tmp_path):
    run = tmp_path / "run"
    Colorizer("default", image_size=32, loss="mse", architecture_config=TINY).fit(
        photo_dir, epochs=1, batch_size=2, checkpoint_dir=run, verbose=0)
    other = Colorizer("default", image_size=64, loss="mse", architecture_config=TINY)
    with pytest.raises(ValueError, match=r"image_size=64.*image_size=32"):
        other.fit(photo_dir, epochs=2, batch_size=2, checkpoint_dir=run, resume=True, verbose=0)
    resumed = Colorizer.resume(run)
    assert resumed.get_config()["image_size"] == 32
    resumed.fit(photo_dir, epochs=2, batch_size=2, checkpoint_dir=run, resume=True, verbose=0)
    assert json.loads((run / "state.json").read_text())["epoch"] == 2


class _Batches(keras.utils.PyDataset):
    """Two random (L, ab) batches an epoch; NaN targets once ``poisoned``."""

    def __init__(self):
        super().__init__()
        self.poisoned = False

    def __len__(self):
        return 2

    def __getitem__(self, i):
        rng = np.random.default_rng(i)
        x = rng.uniform(-1, 1, (2, 32, 32, 1)).astype("float32")
        y = rng.uniform(-0.3, 0.3, (2, 8, 8, 2)).astype("float32")
        if self.poisoned:
            y[:] = np.nan
        return x, y


class _PoisonFromEpoch(keras.callbacks.Callback):
    def __init__(self, dataset, epoch):
        super().__init__()
        self.dataset, self.epoch = dataset, epoch

    def on_epoch_begin(self, epoch, logs=None):
        self.dataset.poisoned = epoch + 1 >= self.epoch


class _Shaped(keras.utils.PyDataset):
    def __init__(self, x_shape, y_shape):
        super().__init__()
        self.x_shape, self.y_shape = x_shape, y_shape

    def __len__(self):
        return 1

    def __getitem__(self, i):
        return np.zeros(self.x_shape, "float32"), np.zeros(self.y_shape, "float32")


@pytest.mark.parametrize("x_shape, y_shape, words", [
    ((2, 32, 32, 3), (2, 8, 8, 2), r"inputs must be \(batch, height, width, 1\).*\(2, 32, 32, 3\)"),
    ((2, 32, 32), (2, 8, 8, 2), r"inputs must be .*\(2, 32, 32\)"),
    ((2, 32, 32, 1), (2, 32, 32, 2), r"targets must be .*\(2, 8, 8, 2\).*\(2, 32, 32, 2\)"),
    ((2, 32, 32, 1), (2, 8, 8, 3), r"targets must be .*\(2, 8, 8, 3\)"),
])
def test_a_pydataset_of_the_wrong_shapes_is_named_before_training(x_shape, y_shape, words):
    c = Colorizer("default", image_size=32, loss="mse", architecture_config=TINY)
    with pytest.raises(ValueError, match="data_source " + words):
        c.fit(_Shaped(x_shape, y_shape), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="validation_data " + words):
        c.fit(_Batches(), validation_data=_Shaped(x_shape, y_shape), epochs=1, verbose=0)


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tmp_path / "run"
    c = Colorizer("default", image_size=32, loss="mse", architecture_config=TINY)
    with pytest.raises(FloatingPointError, match="epoch 2") as info:
        train = _Batches()
        c.fit(train, validation_data=_Batches(), epochs=4, checkpoint_dir=run, verbose=0,
              mixed_precision=None, callbacks=[_PoisonFromEpoch(train, 2)])
    assert "last good checkpoint" in str(info.value)
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    assert all(np.isfinite(w).all() for w in c.model.get_weights())
    assert (run / "best" / "model.weights.h5").is_file()
    assert (run / "history.csv").read_text().count("\n") == 2  # header + epoch 1


@pytest.mark.slow
def test_a_full_disk_while_checkpointing_leaves_a_resumable_run(photo_dir, tmp_path, monkeypatch):
    run = tmp_path / "run"
    c = Colorizer("default", image_size=32, loss="mse", architecture_config=TINY)
    real_save, calls = keras.Model.save, []

    def save(self, path, *a, **k):
        calls.append(path)
        if len(calls) == 2:  # the second epoch's checkpoint: the disk is full half-way
            with open(path, "wb") as f:
                f.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, path, *a, **k)

    monkeypatch.setattr(keras.Model, "save", save)
    with pytest.raises(OSError, match="resumed") as info:
        c.fit(photo_dir, epochs=3, batch_size=2, checkpoint_dir=run, verbose=0)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.setattr(keras.Model, "save", real_save)
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    assert not [p.name for p in run.iterdir() if p.name.startswith(".bwcolor-")]
    keras.models.load_model(run / "last.keras", safe_mode=True)  # the previous one, whole
    Colorizer.resume(run).fit(photo_dir, epochs=2, batch_size=2, checkpoint_dir=run,
                              resume=True, verbose=0)
    assert json.loads((run / "state.json").read_text())["epoch"] == 2


def test_a_photo_that_vanishes_during_training_is_skipped_and_counted(photo_dir, tmp_path):
    paths = []
    for name in ["coffee", "chelsea", "rocket"]:
        p = tmp_path / f"{name}.jpg"
        p.write_bytes((photo_dir / f"{name}.jpg").read_bytes())
        paths.append(p)
    ds = ColorizationDataset(paths, 32, 3, training=True)
    paths[1].unlink()
    with pytest.warns(UserWarning, match="chelsea"):
        x, y = ds[0]
    assert x.shape == (3, 32, 32, 1) and np.isfinite(y).all()
    assert list(ds.broken_photos) == [paths[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, not at every batch
        ds[0]


def test_a_split_whose_every_photo_vanished_says_which_split_and_what_to_do(photo_dir, tmp_path):
    """The only validation photo vanishing stopped the run with "every photo of the dataset
    failed to decode": name the split, and the way on."""
    only = tmp_path / "coffee.jpg"
    only.write_bytes((photo_dir / "coffee.jpg").read_bytes())
    ds = ColorizationDataset([only], 32, 1, training=False)
    only.unlink()
    with pytest.warns(UserWarning, match="coffee"), pytest.raises(
            ValueError, match=r"the only validation photo vanished or broke since the scan.*"
                              r"nothing left to score.*coffee\.jpg.*put the photos back and "
                              r"resume the run \(--resume, resume=True\)"):
        ds[0]


def test_a_damaged_cache_entry_is_decoded_again_and_replaced(photo_dir, tmp_path):
    paths = [photo_dir / "coffee.jpg", photo_dir / "chelsea.jpg"]
    cache = tmp_path / "cache"
    ColorizationDataset(paths, 32, 2, training=False, cache_dir=cache).fill_cache()
    entries = sorted(cache.glob("*.npy"))
    assert len(entries) == 2
    expected = ColorizationDataset(paths, 32, 2, training=False)[0]
    entries[0].write_bytes(entries[0].read_bytes()[:200])  # truncated by a crash or a full disk
    ds = ColorizationDataset(paths, 32, 2, training=False, cache_dir=cache)
    with pytest.warns(UserWarning, match=r"damaged photo cache entry.*\.npy"):
        got = ds[0]
    np.testing.assert_array_equal(got[0], expected[0])
    np.load(entries[0])  # replaced by a whole entry


def test_photos_of_many_sizes_compile_a_bounded_number_of_render_shapes(tiny):
    rng = np.random.default_rng(0)
    sizes = {(int(h), int(w)) for h, w in rng.integers(40, 3000, (400, 2))}
    shapes = {tiny.render_shape(h, w) for h, w in sizes}
    assert len(shapes) <= 25
    for h, w in sizes:
        rh, rw = tiny.render_shape(h, w)
        m = architectures.input_multiple(tiny.model)
        assert min(rh, rw) == 32 and rh % m == 0 and rw % m == 0
        if max(h, w) / min(h, w) <= 8:  # aspect kept within the ladder's half step
            assert abs(np.log2((rh / rw) / (h / w))) <= 1 / 8 + np.log2(1 + 32 / 256 / 2) + 0.2
    assert tiny.render_shape(50, 50, render_size=2048) == (48, 48)  # never above the photo's size
    assert tiny.render_shape(3, 5000) == (32, 256)  # a strip: squeezed to 8:1


def test_nothing_fit_writes_in_its_run_folder_is_a_photo_it_reads(tiny, tmp_path, monkeypatch):
    """The run's curves.png, state.json, best/ ... are never written over the training photos."""
    monkeypatch.setattr("bwcolor.data.scan", lambda *a, **k: pytest.fail("scanned photos"))
    run = tmp_path / "run"
    (run / "best").mkdir(parents=True)
    Image.new("RGB", (64, 64), (200, 40, 40)).save(run / "curves.png")
    Image.new("RGB", (64, 64), (40, 200, 40)).save(run / "best" / "photo.png")
    Image.new("RGB", (64, 64), (40, 40, 200)).save(tmp_path / "other.png")
    os.link(tmp_path / "other.png", tmp_path / "history.csv")
    before = digest(tmp_path)
    for data, name in [([run / "curves.png", tmp_path / "other.png"], "curves.png"),
                       (run / "best", "best"), ([tmp_path / "history.csv"], "history.csv")]:
        target = tmp_path if name == "history.csv" else run
        with pytest.raises(ValueError, match=rf"the output '.*{name}' would overwrite the input"):
            tiny.fit(data, checkpoint_dir=target, epochs=1, verbose=0)
    assert digest(tmp_path) == before


def _run_with_state(tmp_path, **state):
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.keras").write_bytes(b"")  # read_run_state does not open it
    config = Colorizer("default", image_size=32, architecture_config=TINY).get_config()
    (run / "state.json").write_text(json.dumps({"epoch": 1, "best": 1.0, "config": config,
                                                "metadata": {}, **state}))
    return run


@pytest.mark.parametrize("state,problem", [
    ({"epoch": -4}, "epoch must be a whole number >= 1"),
    ({"epoch": 0}, "epoch must be a whole number >= 1"),
    ({"epoch": True}, "epoch must be a whole number >= 1"),
    ({"epoch": 2.5}, "epoch must be a whole number >= 1"),
    ({"best": "low"}, "best must be a number"),
    ({"metadata": []}, "metadata must be an object"),
    ({"data": "photos"}, "data must be a list of paths"),
])
def test_a_damaged_state_json_is_damaged_not_a_start_epoch(tmp_path, state, problem):
    from bwcolor.training import resume

    run = _run_with_state(tmp_path, **state)
    with pytest.raises(ValueError, match=rf"state.json is damaged: {problem}.*cannot be resumed"):
        resume.read_run_state(run)
    with pytest.raises(ValueError, match="is damaged"):
        Colorizer.resume(run)


def test_resuming_on_other_photos_is_refused_naming_both(tmp_path):
    from bwcolor.training import checks

    first, other = tmp_path / "photos", tmp_path / "other"
    first.mkdir()
    other.mkdir()
    state = {"data": checks.data_record(first)}
    checks.check_same_data(first / "." , state)  # another spelling of the same folder
    with pytest.raises(ValueError, match=rf"trained on '{first}', not '{other}'.*Resume with "
                                         rf"the run's own data, or train a new run"):
        checks.check_same_data(other, state)
    checks.check_same_data(other, {})  # a run that recorded no data resumes as before


@pytest.mark.slow
def test_a_run_records_its_photos_and_refuses_a_resume_on_others(photo_dir, tmp_path):
    photos = tmp_path / "photos"
    shutil.copytree(photo_dir, photos)
    shutil.copytree(photo_dir, tmp_path / "others")
    run = tmp_path / "run"
    c = Colorizer("default", image_size=32, loss="mse", architecture_config=TINY)
    c.fit(photos, epochs=1, batch_size=2, checkpoint_dir=run, verbose=0)
    state = json.loads((run / "state.json").read_text())
    assert state["data"] == [str(photos.resolve())]
    assert "data" not in json.loads((run / "best" / "metadata.json").read_text()).get("training", {})
    with pytest.raises(ValueError, match=r"trained on '.*photos', not '.*others'"):
        Colorizer.resume(run).fit(tmp_path / "others", epochs=2, batch_size=2,
                                  checkpoint_dir=run, resume=True, verbose=0)
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
