import json
import shutil
import warnings

import keras
import numpy as np
import pytest
from PIL import Image

from bwcolor import Colorizer, color, losses, presets

TINY = dict(widths=(8, 8), blocks=(1, 1))


@pytest.fixture(scope="module")
def trained(photo_dir, tmp_path_factory):
    """One tiny default model trained for two epochs on the six sample photos, with a run folder."""
    run = tmp_path_factory.mktemp("run")
    c = Colorizer("default", image_size=32, architecture_config=TINY)
    history = c.fit(photo_dir, epochs=2, batch_size=2, validation_split=0.2, test_split=0.2,
                    checkpoint_dir=run, verbose=0)
    return c, run, history


def test_best_preset_metadata_scores_its_own_weights(trained, photo_dir):
    """best/ is the best validation epoch; its test metrics must be of those weights."""
    from bwcolor import data

    _, run, _ = trained
    test_paths = data.scan(photo_dir, image_size=32, fractions=(0.6, 0.2, 0.2))[0]["test"]
    best = Colorizer.from_preset(run / "best")
    stored = json.loads((run / "best" / "metadata.json").read_text())["test_metrics"]
    assert stored == pytest.approx(best.evaluate(test_paths))


def test_fit_writes_a_complete_run_folder(trained):
    c, run, history = trained
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))
    assert {"last.keras", "best", "history.csv", "curves.png", "state.json"} <= {p.name for p in run.iterdir()}
    state = json.loads((run / "state.json").read_text())
    assert state["epoch"] == 2
    assert c.report.found == 6 and c.report.n_used == 6
    assert set(c.metadata["test_metrics"]) >= {"psnr", "ssim", "delta_e2000", "colorfulness"}
    assert len(c.config["loss_config"]["weights"]) == len(c.bins)  # prior from training photos
    assert (run / "history.csv").read_text().count("\n") == 3


def test_colorize_keeps_the_photos_own_lightness(trained, photos):
    c, _, _ = trained
    rgb = photos["chelsea"][:101, :157]  # non-square, not a multiple of the stride
    out = c.colorize(rgb)
    assert out.shape == rgb.shape and out.dtype == np.uint8
    L_in = color.rgb_to_lab(rgb / 255.0)[..., 0]
    L_out = color.rgb_to_lab(out / 255.0)[..., 0]
    assert np.abs(L_in - L_out).max() < 0.6  # uint8 rounding of the output only


def test_colorize_in_bands_equals_colorize_whole(trained, photos, monkeypatch):
    """Large photos are joined in bands of rows on a thread pool: same pixels as one piece."""
    from bwcolor import postprocessing

    c, _, _ = trained
    rgb = photos["chelsea"][:101, :157]
    whole = c.colorize(rgb)
    monkeypatch.setattr(postprocessing, "_JOIN_BAND_PIXELS", 157 * 7)  # 15 bands, the last ragged
    np.testing.assert_array_equal(c.colorize(rgb), whole)


def test_flip_average_of_a_mirror_symmetric_photo_is_mirror_symmetric(trained, photos):
    """The prediction averaged with that of the mirrored photo, mirrored back, is symmetric for a
    symmetric photo (whatever the net's own asymmetries), with or without refined chroma."""
    c, _, _ = trained
    half = photos["chelsea"][:64, :48]
    rgb = np.concatenate([half, half[:, ::-1]], axis=1)
    out = c.colorize(rgb, flip_average=True, refine_chroma=False)
    np.testing.assert_array_equal(out, out[:, ::-1])
    out = c.colorize(rgb, flip_average=True).astype(int)
    assert np.abs(out - out[:, ::-1]).max() <= 1  # the guided filter's float sums: rounding only


def test_colorize_refines_chroma_by_default_and_without_it_is_the_bilinear_join(trained, photos):
    """By default a*b* is upsampled by the guided filter on the photo's L*; refine_chroma=False
    gives the colors of earlier versions exactly: the model's a*b* resized bilinearly."""
    from bwcolor import postprocessing

    c, _, _ = trained
    rgb = photos["chelsea"][:101, :157]
    (lightness, shape), = c.preprocessor.prepare([rgb])[0]
    (_, x), = c.preprocessor.batches([(lightness, shape)], 1)
    ab = c.predict_ab(x)[0]
    np.testing.assert_array_equal(c.colorize(rgb, refine_chroma=False),
                                  postprocessing._lab_to_uint8(
                                      lightness, postprocessing._resize(ab, 101, 157)))
    np.testing.assert_array_equal(
        c.colorize(rgb), postprocessing._lab_to_uint8(lightness,
                                                      postprocessing.guided_upsample(lightness, ab)))


def test_colorize_options_keep_the_lightness_and_are_checked(trained, photos):
    c, _, _ = trained
    rgb = photos["chelsea"][:101, :157]
    L_in = color.rgb_to_lab(rgb / 255.0)[..., 0]
    for options in ({"flip_average": True}, {"refine_chroma": True},
                    {"flip_average": True, "refine_chroma": True}):
        out = c.colorize(rgb, **options)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        assert np.abs(color.rgb_to_lab(out / 255.0)[..., 0] - L_in).max() < 0.6
    for name in ("flip_average", "refine_chroma"):
        with pytest.raises(TypeError, match=name):
            c.colorize(rgb, **{name: 1})


def test_colorize_accepts_paths_pil_arrays_and_lists(trained, photo_dir, photos):
    c, _, _ = trained
    path = photo_dir / "coffee.jpg"
    from_path = c.colorize(path)
    with Image.open(path) as im:
        from_pil = c.colorize(im)
    np.testing.assert_array_equal(from_path, from_pil)
    with Image.open(path) as im:
        gray = np.asarray(im.convert("L"))
    outs = c.colorize([str(path), gray, gray[..., None], gray / 255.0])
    assert isinstance(outs, list) and len(outs) == 4
    assert all(o.shape == (*gray.shape, 3) for o in outs)
    # color input is reduced to its L first: gray and color versions colorize alike
    lab_color = c.colorize(photos["coffee"][:64, :96])
    gray_version = (color.rgb_to_gray(photos["coffee"][:64, :96] / 255.0) * 255 + 0.5).astype(np.uint8)
    assert np.abs(lab_color.astype(int) - c.colorize(gray_version)).mean() < 2


@pytest.mark.parametrize("bad, error, match", [
    (np.full((8, 8), np.nan, np.float32), ValueError, "NaN"),
    (np.full((8, 8), 2.0), ValueError, r"\[0, 1\]"),
    (np.zeros((8, 8), bool), TypeError, "dtype"),
    (np.zeros((8, 8), np.int64), TypeError, "uint8"),
    (np.zeros((2, 8, 8, 3), np.uint8), ValueError, "shape"),
    (np.zeros((0, 8), np.uint8), ValueError, "shape"),
    (12, TypeError, "path"),
])
def test_colorize_rejects_bad_arrays(trained, bad, error, match):
    with pytest.raises(error, match=match):
        trained[0].colorize(bad)


def test_save_and_from_preset_give_identical_output(trained, photo_dir, tmp_path):
    c, run, _ = trained
    c.save(tmp_path / "preset")
    names = {p.name for p in (tmp_path / "preset").iterdir()}
    assert names == {"config.json", "model.weights.h5", "metadata.json"}
    again = Colorizer.from_preset(tmp_path / "preset")
    path = photo_dir / "rocket.jpg"
    x = np.linspace(-1, 1, 2 * 32 * 64, dtype="float32").reshape(2, 32, 64, 1)
    np.testing.assert_allclose(again.predict_ab(x), c.predict_ab(x), atol=5e-3)  # Lab units
    # 8-bit output: float rounding (oneDNN picks kernels per layout) may flip a .5 by one level
    diff = np.abs(again.colorize(path).astype(int) - c.colorize(path))
    assert diff.max() <= 1 and diff.mean() < 0.01
    with pytest.raises(FileExistsError, match="overwrite"):
        c.save(tmp_path / "preset")
    c.save(tmp_path / "preset", overwrite=True)
    assert Colorizer.from_preset(run).config["architecture"] == "default"  # a run folder loads too


def _stored_dtypes(path):
    import h5py

    found = []
    with h5py.File(path / "model.weights.h5", "r") as f:
        f.visititems(lambda name, obj: found.append(obj.dtype) if isinstance(obj, h5py.Dataset) else None)
        assert "optimizer" not in f  # presets hold weights only
    return found


def test_float16_weights_halve_the_stored_arrays(trained, tmp_path):
    c, _, _ = trained
    c.save(tmp_path / "f32")
    c.save(tmp_path / "f16", weights_dtype="float16")
    assert {str(d) for d in _stored_dtypes(tmp_path / "f32")} == {"float32"}
    assert {str(d) for d in _stored_dtypes(tmp_path / "f16")} == {"float16"}
    x = np.linspace(0, 1, 32 * 48).reshape(32, 48)
    diff = Colorizer.from_preset(tmp_path / "f16").colorize(x).astype(int) - c.colorize(x)
    assert np.abs(diff).max() <= 2


def test_resume_continues_with_optimizer_state(photo_dir, tmp_path, training_datasets):
    """Also the GPU data path (uint8 crops, ab computed in the loss) on CPU: resume keeps it."""
    run = tmp_path / "run"
    c = Colorizer("default", image_size=32, architecture_config=TINY)
    c.fit(photo_dir, epochs=1, batch_size=2, checkpoint_dir=run, verbose=0, targets_on_device=True)
    assert [ds.workers for ds in training_datasets] == [2]  # "auto": host crops need threads
    assert c.metadata["training"]["targets_on_device"] is True
    saved = keras.models.load_model(run / "last.keras", safe_mode=True)
    assert isinstance(saved.loss, losses.RGBTargets) and saved.loss.output_stride == 4
    steps = int(keras.ops.convert_to_numpy(saved.optimizer.iterations))
    assert steps > 0
    resumed = Colorizer("default", image_size=32, architecture_config=TINY)
    resumed.fit(photo_dir, epochs=2, batch_size=2, checkpoint_dir=run, resume=True, verbose=0)
    assert isinstance(resumed.model.loss, losses.RGBTargets)
    assert np.all(np.isfinite(resumed.model.history.history["loss"]))
    assert json.loads((run / "state.json").read_text())["epoch"] == 2
    assert int(keras.ops.convert_to_numpy(resumed.model.optimizer.iterations)) == 2 * steps
    assert (run / "history.csv").read_text().count("\n") == 3  # header + 2 epochs
    with pytest.raises(ValueError, match="resume=True"):
        Colorizer("default", image_size=32, architecture_config=TINY).fit(
            photo_dir, checkpoint_dir=tmp_path / "empty", resume=True)
    with pytest.raises(ValueError, match="targets_on_device"):
        Colorizer("default", image_size=32, architecture_config=TINY).fit(
            photo_dir, targets_on_device="gpu")


def test_fit_refuses_a_folder_with_nothing_usable(tmp_path):
    # A .jpg whose content is no image is damaged; a file named as no photo is not an image.
    (tmp_path / "junk.jpg").write_text("no")
    (tmp_path / "notes.dat").write_bytes(b"no")
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / "tiny.png")
    c = Colorizer("default", image_size=32, architecture_config=TINY)
    with pytest.raises(ValueError, match="no usable training photos") as raised:
        c.fit(tmp_path, epochs=1, verbose=0)
    for reason in ("damaged: named as an image", "not an image", "smaller than the training crop"):
        assert reason in str(raised.value)  # each reason, in whichever order the scan met them


def test_evaluate_returns_all_metrics(trained, photo_dir, tmp_path):
    scores = trained[0].evaluate(photo_dir)
    assert set(scores) == {"psnr", "ssim", "delta_e2000", "colorfulness", "colorfulness_reference",
                           "n_images", "n_skipped"}
    assert scores["n_images"] == 6 and scores["psnr"] > 10 and 0 < scores["ssim"] <= 1
    broken = tmp_path / "broken.png"
    broken.write_bytes((photo_dir / "coffee.jpg").read_bytes()[:300])
    paths = [photo_dir / "coffee.jpg", broken]
    from bwcolor.evaluation import reference_crops

    with pytest.warns(UserWarning, match=r"broken\.png"):
        crops, read, skipped = reference_crops(paths, 32, None)
    assert len(crops) == 1 and skipped == 1 and read == [photo_dir / "coffee.jpg"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scores = trained[0].evaluate(paths, per_image=True)
    assert scores["n_images"] == 1 and scores["n_skipped"] == 1
    (only,) = scores["per_image"]  # the broken file has no row: it was skipped, and counted
    assert only["path"] == str(photo_dir / "coffee.jpg")
    assert only["delta_e2000"] == pytest.approx(scores["delta_e2000"])


def test_colorfulness_known_values():
    from bwcolor.metrics import colorfulness

    assert colorfulness(np.full((4, 4, 3), 128, np.uint8)) == 0
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255  # rg = 255, yb = 127.5, no variance: M = 0.3 * hypot(255, 127.5)
    assert colorfulness(red) == pytest.approx(0.3 * np.hypot(255, 127.5))
    assert colorfulness(red / 255.0) == pytest.approx(colorfulness(red))


def test_gray_baseline(photo_dir):
    from bwcolor.colorizer import evaluate_gray_baseline

    scores = evaluate_gray_baseline(photo_dir, size=32, per_image=True)
    assert scores["colorfulness"] < 0.5 and scores["colorfulness_reference"] > 10
    rows = scores["per_image"]
    assert len(rows) == scores["n_images"] == 6
    assert np.mean([r["psnr"] for r in rows]) == pytest.approx(scores["psnr"])
    assert scores["n_images"] == 6 and scores["delta_e2000"] > 0


@pytest.mark.parametrize("patch, match", [
    ({"surprise": 1}, "unknown keys"),
    ({"image_size": "big"}, "image_size"),
    ({"architecture": "nope"}, "unknown architecture"),
])
def test_config_json_is_validated(trained, tmp_path, patch, match):
    trained[0].save(tmp_path / "p")
    cfg = json.loads((tmp_path / "p" / "config.json").read_text())
    cfg.update(patch)
    (tmp_path / "p" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=match):
        Colorizer.from_preset(tmp_path / "p")


def test_unknown_preset_lists_the_available_ones():
    with pytest.raises(ValueError, match="default"):
        Colorizer.from_preset("no-such-preset")


def test_lambda_models_are_refused(tmp_path):
    inputs = keras.Input((4, 4, 1))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    model.save(tmp_path / "evil.keras")
    with pytest.raises(ValueError, match=r"[Ll]ambda"):
        keras.models.load_model(tmp_path / "evil.keras", safe_mode=True)
    # A run folder's last.keras is loaded the same way by resume
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(tmp_path / "evil.keras", run / "last.keras")
    (run / "state.json").write_text(json.dumps({"epoch": 1, "best": 1.0, "config": {
        "architecture": "default", "image_size": 32, "loss": "mse",
        "architecture_config": TINY}}))
    with pytest.raises(ValueError, match=r"[Ll]ambda"):
        Colorizer("default", image_size=32, architecture_config=TINY).fit(
            [tmp_path / "photos"], checkpoint_dir=run, resume=True, epochs=2)


def test_bundled_presets_load_offline_and_colorize():
    assert {"default", "seed"} <= set(presets.available())
    c = Colorizer.from_preset("default")
    assert c.config["architecture"] == "pretrained_unet"
    meta = c.metadata
    assert meta["recipe"]["name"] == "default" and "devices" in meta["compute"]
    out = c.colorize(np.tile(np.linspace(0, 255, 64, dtype=np.uint8), (48, 1)))
    assert out.shape == (48, 64, 3)
    size = (presets.BUILTIN_DIR / "default" / "model.weights.h5").stat().st_size
    assert size < 16 * 10**6  # the default preset's budget


def test_fit_with_the_grain_loader(photo_dir):
    pytest.importorskip("grain")
    c = Colorizer("default", image_size=32, architecture_config=TINY)
    history = c.fit(photo_dir, epochs=2, batch_size=2, loader="grain", verbose=0, test_split=0.0)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))
    with pytest.raises(ValueError, match="loader"):
        c.fit(photo_dir, epochs=1, loader="tf.data", verbose=0)


def test_temperature_zero_is_an_error_not_the_default(trained):
    with pytest.raises(ValueError, match="temperature"):
        trained[0].colorize(np.zeros((32, 32), np.uint8), annealing_temperature=0)


def test_a_damaged_checkpoint_says_so_before_any_photo_is_read(trained, photo_dir, tmp_path,
                                                                monkeypatch):
    """A last.keras cut short (Keras calls it "not found") or missing its weights."""
    import zipfile

    _, run, _ = trained
    whole = (run / "last.keras").read_bytes()
    damaged = tmp_path / "run"
    shutil.copytree(run, damaged)
    with zipfile.ZipFile(run / "last.keras") as src, \
            zipfile.ZipFile(tmp_path / "no_weights.keras", "w") as dst:
        for name in src.namelist():
            if not name.endswith(".h5"):
                dst.writestr(name, src.read(name))
    monkeypatch.setattr("bwcolor.data.scan", lambda *a, **k: pytest.fail("scanned photos"))
    for content in (whole[:len(whole) // 2], (tmp_path / "no_weights.keras").read_bytes()):
        (damaged / "last.keras").write_bytes(content)
        with pytest.raises(ValueError, match=r"the checkpoint '.*last.keras' is damaged"):
            Colorizer.resume(damaged)
        with pytest.raises(ValueError, match=r"the checkpoint '.*last.keras' is damaged"):
            Colorizer.resume(run).fit(photo_dir, epochs=3, checkpoint_dir=damaged, resume=True)


def test_resuming_on_other_split_fractions_is_refused(trained, photo_dir, tmp_path):
    """The splits hash each path against the fractions: others would move photos between them."""
    _, run, _ = trained
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    with pytest.raises(ValueError, match=r"split its photos with validation_split=0\.2.*"
                                         r"Received: validation_split=0\.05"):
        Colorizer.resume(copy).fit(photo_dir, epochs=3, checkpoint_dir=copy, resume=True,
                                   verbose=0)
    assert json.loads((copy / "state.json").read_text())["epoch"] == 2
