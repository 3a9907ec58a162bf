import os
import pickle

import keras
import numpy as np
import pytest
from PIL import Image

from bwcolor import color, data
from bwcolor.color import rgb_to_lab
from bwcolor.data import ColorizationDataset, Degradations, ImageDecodeError, load_rgb, scan


@pytest.fixture(scope="module")
def rgb(photos):
    return photos["coffee"][:120, :160]


def _save(img, path, **kw):
    img.save(path, **kw)
    return path


def test_modes_decode_to_float_rgb(tmp_path, rgb):
    base = Image.fromarray(rgb)
    cases = {
        "rgb.png": base,
        "gray.png": base.convert("L"),
        "gray_alpha.png": base.convert("LA"),
        "rgba.png": base.convert("RGBA"),
        "palette.gif": base.convert("P"),
        "cmyk.jpg": base.convert("CMYK"),
        "photo.webp": base,
        "photo.bmp": base,
        "photo.tiff": base,
    }
    cases["gray16.png"] = Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257)
    cases["bilevel.png"] = base.convert("1")
    for name, img in cases.items():
        load = load_rgb(_save(img, tmp_path / name))
        assert load.shape == (120, 160, 3) and load.dtype == np.float32, name
        assert load.min() >= 0 and load.max() <= 1, name
        # What colorize keeps: the L* of the decoded RGB, by lookup tables (float32 rounding).
        lightness = data.pil_to_lightness(data.open_image(tmp_path / name))
        assert lightness.shape == (120, 160) and lightness.dtype == np.float32, name
        np.testing.assert_allclose(lightness, rgb_to_lab(load.astype(np.float64))[..., 0],
                                   atol=2e-4, err_msg=name)
    # lossless RGB formats reproduce the pixels exactly
    np.testing.assert_allclose(load_rgb(tmp_path / "rgb.png") * 255, rgb, atol=1e-3)


def test_sixteen_bit_gray_keeps_precision(tmp_path):
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    path = _save(Image.fromarray(ramp), tmp_path / "g16.png")
    out, is_gray = load_rgb(path, return_is_gray=True)
    assert is_gray
    np.testing.assert_allclose(out[..., 0], ramp / 65535.0, atol=1e-6)
    tiff = _save(Image.fromarray(ramp), tmp_path / "g16.tiff")
    np.testing.assert_allclose(load_rgb(tiff)[..., 0], ramp / 65535.0, atol=1e-6)


def test_transparency_composites_on_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[:, :4, 3] = 255  # left half opaque red, right half transparent
    out = load_rgb(_save(Image.fromarray(rgba, "RGBA"), tmp_path / "t.png"))
    np.testing.assert_allclose(out[0, 0], [1, 0, 0])
    np.testing.assert_allclose(out[0, 7], [1, 1, 1])
    pal = Image.fromarray(rgba, "RGBA").convert("P")
    pal.info["transparency"] = pal.getpixel((7, 0))
    out = load_rgb(_save(pal, tmp_path / "p.png", transparency=pal.getpixel((7, 0))))
    np.testing.assert_allclose(out[0, 7], [1, 1, 1])


def test_exif_orientation_is_applied(tmp_path, rgb):
    img = Image.fromarray(rgb)  # 160 wide, 120 tall
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    out = load_rgb(_save(img, tmp_path / "rot.jpg", exif=exif.tobytes(), quality=95))
    assert out.shape[:2] == (160, 120)


def test_decoding_in_threads_leaves_warning_filters_alone(photo_dir):
    """warnings.catch_warnings() is not thread-safe: raced by loader threads, a decode-time
    filter once leaked and silenced every UserWarning in the process after a fit."""
    import warnings
    from concurrent.futures import ThreadPoolExecutor

    files = sorted(photo_dir.iterdir()) * 40
    before = list(warnings.filters)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(data.open_image, files))
    assert warnings.filters == before


def test_first_frame_of_animation(tmp_path):
    frames = [Image.new("RGB", (16, 16), c) for c in [(255, 0, 0), (0, 0, 255)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.warns(UserWarning, match="anim.gif: has 2 frames .*only the first is used"):
        out = load_rgb(path)
    assert out[0, 0, 0] > 0.9 and out[0, 0, 2] < 0.1


@pytest.mark.parametrize("content, reason", [
    (b"", "not_image"),
    (b"hello, I am text", "not_image"),
])
def test_non_images_are_refused(tmp_path, content, reason):
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError, match=r"x.jpg") as e:
        load_rgb(path)
    assert e.value.reason == reason


def test_truncated_and_directory_and_missing(tmp_path, rgb):
    good = _save(Image.fromarray(rgb), tmp_path / "good.jpg")
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes(good.read_bytes()[:600])
    with pytest.raises(ImageDecodeError, match=r"trunc.jpg") as e:
        load_rgb(trunc)
    assert e.value.reason == "unreadable"
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(ImageDecodeError, match="directory"):
        load_rgb(tmp_path / "dir.jpg")
    with pytest.raises(ImageDecodeError, match="not found"):
        load_rgb(tmp_path / "missing.jpg")


def test_decompression_bomb_is_a_clear_error(tmp_path, monkeypatch):
    path = _save(Image.new("RGB", (200, 200)), tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 200x200 is > 2x the limit
    with pytest.raises(ImageDecodeError, match="decompression-bomb") as e:
        load_rgb(path)
    assert e.value.reason == "too_large"


def test_scan_reports_every_exclusion(tmp_path, photos):
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(photos["astronaut"][:96, :96]).save(folder / "ok.jpg")
    Image.fromarray(photos["chelsea"][:96, :128]).save(folder / "sub" / "named_wrong.txt", format="PNG")
    Image.fromarray(photos["astronaut"][:96, :96]).convert("L").save(folder / "gray.png")
    Image.fromarray(photos["coffee"][:20, :20]).save(folder / "small.png")
    (folder / "notes.jpg").write_text("not a photo")
    (folder / "broken.png").write_bytes((folder / "gray.png").read_bytes()[:100])
    sepia = np.stack([np.linspace(0.3, 0.31, 96 * 96).reshape(96, 96)] * 3, -1)
    Image.fromarray((sepia * 255).astype(np.uint8)).save(folder / "flat.png")
    _splits, report = scan(folder, image_size=64)
    assert report.found == 7
    assert report.n_used == 2  # ok.jpg, and the PNG named .txt (found by content)
    # notes.jpg: named as a photo, but text: damaged (named_wrong.txt is a photo, found by content)
    assert dict(report.skipped) == {"near_gray": 2, "too_small": 1, "damaged": 1, "unreadable": 1}
    text = str(report)
    for name in ["gray.png", "small.png", "notes.jpg", "broken.png", "flat.png"]:
        assert name in text
    assert report.as_dict()["skipped"]["near_gray"] == 2


def test_splits_are_stable_when_files_are_added():
    names = [f"photo_{i}.jpg" for i in range(400)]
    before = {n: data.split_of(n) for n in names}
    more = names + [f"new_{i}.jpg" for i in range(400)]
    after = {n: data.split_of(n) for n in more}
    assert all(after[n] == before[n] for n in names)
    counts = {s: list(before.values()).count(s) for s in data.SPLITS}
    assert 320 < counts["train"] < 400 and counts["test"] > 5 and counts["validation"] > 5
    with pytest.raises(ValueError, match="Received"):
        data.split_of("x", (0.5, 0.2, 0.2))


def test_find_files_survives_symlink_loops(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "loop").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "a" / "f.png").write_bytes(b"")
    assert data.find_files(tmp_path) == [tmp_path / "a" / "f.png"]


@pytest.fixture(scope="module")
def photo_paths(photo_dir):
    splits, report = scan(photo_dir, image_size=32, fractions=(1.0, 0.0, 0.0))
    assert report.n_used == 6
    return splits["train"]


def test_batches_have_the_right_shapes_and_ranges(photo_paths):
    ds = ColorizationDataset(photo_paths, 32, 4, training=True, output_stride=4)
    assert len(ds) == 1  # the ragged last batch is dropped in training
    x, y = ds[0]
    assert x.shape == (4, 32, 32, 1) and y.shape == (4, 8, 8, 2)
    assert x.dtype == np.float32 and y.dtype == np.float32
    assert x.min() >= -1 and x.max() <= 1 and np.abs(y).max() < 1
    ev = ColorizationDataset(photo_paths, 32, 4, training=False)
    assert len(ev) == 2 and ev[1][0].shape == (2, 32, 32, 1)


def test_eval_batches_are_exact_lab_of_center_crops(photo_paths):
    ds = ColorizationDataset(photo_paths[:1], 32, 1, training=False)
    x, y = ds[0]
    # JPEG decoding at reduced scale (draft) is part of the pipeline
    u8 = (load_rgb(photo_paths[0], min_short_side=32) * 255 + 0.5).astype(np.uint8)
    img = Image.fromarray(u8)
    s = 32 / min(img.size)
    img = img.resize((max(32, round(img.width * s)), max(32, round(img.height * s))), Image.BILINEAR)
    x0, y0 = (img.width - 32) // 2, (img.height - 32) // 2
    lab = rgb_to_lab(np.asarray(img.crop((x0, y0, x0 + 32, y0 + 32))) / 255.0)
    np.testing.assert_allclose(x[0, ..., 0], lab[..., 0] / 50 - 1, atol=1e-4)
    np.testing.assert_allclose(y[0], lab[..., 1:] / 128, atol=1e-4)


def test_rgb_targets_are_the_crops_of_the_ab_targets(photo_paths):
    """targets="rgb" yields the same crops and inputs; its targets are the uint8 crop itself."""
    for training in (True, False):
        kw = dict(training=training, output_stride=4, seed=5, degradations=Degradations(probability=1.0))
        ab_ds = ColorizationDataset(photo_paths, 32, 3, **kw)
        rgb_ds = ColorizationDataset(photo_paths, 32, 3, targets="rgb", **kw)
        (xa, ya), (xr, yr) = ab_ds[0], rgb_ds[0]
        assert yr.shape == (3, 32, 32, 3) and yr.dtype == np.uint8 and yr.flags.c_contiguous
        np.testing.assert_allclose(xr, xa, atol=1e-5)
        ab = color.uint8_rgb_to_lab(yr)[..., 1:].reshape(3, 8, 4, 8, 4, 2).mean(axis=(2, 4))
        np.testing.assert_allclose(color.ab_to_target(ab), ya, atol=1e-5)
    with pytest.raises(ValueError, match="targets must be"):
        ColorizationDataset(photo_paths, 32, 3, training=True, targets="lab")


@pytest.mark.parametrize("shape", [(32, 32), (32, 90), (200, 33), (47, 47)])
def test_random_crops_stay_inside_any_photo(shape, tmp_path):
    """Windows at any scale and at the photo's edges give full S x S crops of photo pixels only
    (a flat photo gives flat crops: no padding or border color creeps in)."""
    rgb = np.full((*shape, 3), (200, 90, 30), dtype=np.uint8)
    rgb[0, 0] = rgb[-1, -1] = (201, 91, 31)  # corners are reachable and within a level of the rest
    from bwcolor.data import crops

    for seed in range(50):
        crop = crops.random_crop(rgb, 32, np.random.default_rng(seed))
        assert crop.shape == (32, 32, 3)
        assert np.abs(crop.astype(int) - (200, 90, 30)).max() <= 1


def test_determinism_under_a_seed(photo_paths, tmp_path):
    a = ColorizationDataset(photo_paths, 32, 2, training=True, seed=3, degradations=Degradations())
    b = ColorizationDataset(photo_paths, 32, 2, training=True, seed=3, degradations=Degradations(),
                            cache_dir=tmp_path / "cache")
    for i in range(len(a)):
        np.testing.assert_array_equal(a[i][0], b[i][0])
        np.testing.assert_array_equal(a[i][1], b[i][1])
    assert len(os.listdir(tmp_path / "cache")) == len(photo_paths)
    np.testing.assert_array_equal(b[0][0], a[0][0])  # second pass reads the memory-mapped cache
    clone = pickle.loads(pickle.dumps(b))  # spawned worker processes get a pickled copy
    np.testing.assert_array_equal(clone[0][1], b[0][1])
    c = ColorizationDataset(photo_paths, 32, 2, training=True, seed=4)
    assert not np.array_equal(a[0][1], c[0][1])
    a.on_epoch_end()
    assert not np.array_equal(a[0][1], b[0][1])  # a new epoch reshuffles


@pytest.mark.parametrize("max_maps", [2, 256])
@pytest.mark.parametrize("crop_on_device", [False, True])
def test_cache_gives_the_decoded_batches(photo_paths, tmp_path, monkeypatch, max_maps, crop_on_device):
    """Cached photos are memory-mapped while every one fits under MAX_OPEN_MAPS, and read by
    rows beyond (no file descriptors held); both give the batches of decoding every time."""
    from bwcolor.data import cache

    monkeypatch.setattr(cache, "MAX_OPEN_MAPS", max_maps)
    kw = dict(training=True, seed=2, crop_on_device=crop_on_device)
    plain = ColorizationDataset(photo_paths, 32, 3, **kw)
    cached = ColorizationDataset(photo_paths, 32, 3, cache_dir=tmp_path, **kw)
    for _ in range(2):  # the first pass writes the cache, the second reads it
        for i in range(len(cached)):
            # (x, y), or ((windows, boxes),) with crop_on_device: every array must match.
            for got, want in zip(keras.tree.flatten(cached[i]), keras.tree.flatten(plain[i]), strict=True):
                np.testing.assert_array_equal(got, want)
    kinds = {type(v) for v in cached._cached.values()}
    assert len(cached._cached) == len(photo_paths)
    assert kinds == ({np.memmap} if max_maps >= len(photo_paths) else {cache.CachedRows})


def test_fill_cache_decodes_every_photo_once(photo_paths, tmp_path):
    ds = ColorizationDataset(photo_paths * 2, 32, 3, training=True, seed=4, cache_dir=tmp_path)
    ds.fill_cache(threads=3)
    assert len(list(tmp_path.glob("*.npy"))) == len(photo_paths)
    assert not list(tmp_path.glob("*.tmp"))  # written atomically
    plain = ColorizationDataset(photo_paths * 2, 32, 3, training=True, seed=4)
    for i in range(len(ds)):
        np.testing.assert_array_equal(ds[i][1], plain[i][1])
    with pytest.raises(ValueError, match="cache_dir=None"):
        plain.fill_cache()


def test_cached_rows_read_what_the_array_holds(tmp_path, rng):
    from bwcolor.data.cache import CachedRows

    rgb = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    np.save(tmp_path / "p.npy", rgb)
    rows = CachedRows(tmp_path / "p.npy")
    assert rows.shape == rgb.shape
    np.testing.assert_array_equal(np.asarray(rows), rgb)
    for key in [(slice(2, 5), slice(1, 4)), (slice(5, 99), slice(None)), (slice(6, 2), slice(None))]:
        np.testing.assert_array_equal(rows[key], rgb[key])
    with pytest.raises(IndexError, match="contiguous"):
        rows[::2, :]
    (tmp_path / "p.npy").write_bytes((tmp_path / "p.npy").read_bytes()[:-10])  # cut after opening
    with pytest.raises(OSError, match="truncated"):
        np.asarray(rows)
    np.save(tmp_path / "f.npy", rgb.astype(np.float32))
    with pytest.raises(ValueError, match="not a bwcolor photo cache"):
        CachedRows(tmp_path / "f.npy")


def test_degradations_touch_input_only(photo_paths):
    plain = ColorizationDataset(photo_paths, 32, 2, training=True, seed=1)
    damaged = ColorizationDataset(photo_paths, 32, 2, training=True, seed=1,
                                  degradations=Degradations(probability=1.0))
    (x0, y0), (x1, y1) = plain[0], damaged[0]
    np.testing.assert_array_equal(y0, y1)
    assert not np.allclose(x0, x1)
    assert x1.min() >= -1 and x1.max() <= 1
    with pytest.raises(ValueError, match="unknown degradation"):
        Degradations(kinds=["scratches"])


def test_repeats_lengthen_an_epoch(photo_paths):
    ds = ColorizationDataset(photo_paths, 32, 2, training=True, repeats=3)
    assert len(ds) == 9


def test_empty_dataset_is_an_error():
    with pytest.raises(ValueError, match="no images"):
        ColorizationDataset([], 32, 2, training=True)


def test_sample_photos_are_real_color_photos(photos):
    assert {"astronaut", "chelsea", "coffee", "rocket", "motorcycle", "grace_hopper"} <= set(photos)
    for name, img in photos.items():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, name
        chroma = np.hypot(*rgb_to_lab(img[::8, ::8] / 255.0)[..., 1:].transpose(2, 0, 1)).mean()
        assert chroma > 2, name


def test_grain_pipeline_matches_the_pydataset_transforms(photo_paths):
    pytest.importorskip("grain")
    from bwcolor.data import grain_dataset

    ev = list(grain_dataset(photo_paths, 32, 4, training=False, output_stride=4))
    ref = ColorizationDataset(photo_paths, 32, 4, training=False, output_stride=4)
    assert [x.shape for x, _ in ev] == [(4, 32, 32, 1), (2, 32, 32, 1)]
    np.testing.assert_array_equal(ev[0][1], ref[0][1])  # same center crops, same targets
    it = iter(grain_dataset(photo_paths, 32, 3, training=True, seed=5, output_stride=4))
    epoch1 = [next(it)[1] for _ in range(2)]
    epoch2 = [next(it)[1] for _ in range(2)]
    assert epoch1[0].shape == (3, 8, 8, 2)
    assert not np.array_equal(np.concatenate(epoch1), np.concatenate(epoch2))  # new crops
    again = iter(grain_dataset(photo_paths, 32, 3, training=True, seed=5, output_stride=4))
    np.testing.assert_array_equal(next(again)[1], epoch1[0])  # deterministic under a seed


@pytest.mark.parametrize("arr, shape, dtype", [
    (np.full((4, 5), 255, np.uint8), (4, 5, 3), np.float32),
    (np.zeros((4, 5, 1), np.uint16), (4, 5, 3), np.float32),
    (np.ones((4, 5, 4), np.float64), (4, 5, 3), np.float32),  # alpha dropped
])
def test_validate_image_array_gives_float_rgb(arr, shape, dtype):
    rgb = data.validate_image_array(arr)
    assert rgb.shape == shape and rgb.dtype == dtype
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert rgb.max() == (1.0 if arr.dtype != np.uint16 else 0.0)


def test_validate_image_array_keeps_uint8_when_asked():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
    kept = data.validate_image_array(gray, keep_uint8=True)
    assert kept.dtype == np.uint8 and kept.shape == (3, 4)
    np.testing.assert_array_equal(kept, gray[..., 0])


@pytest.mark.parametrize("arr, error, received", [
    (np.zeros((4, 4), bool), TypeError, "dtype=bool"),
    (np.zeros((4, 4), np.int32), TypeError, "dtype=int32"),
    (np.zeros((4, 4, 2), np.uint8), ValueError, r"shape=\(4, 4, 2\)"),
    (np.zeros((0, 4), np.uint8), ValueError, r"shape=\(0, 4\)"),
    (np.zeros((5, 0, 3), np.uint8), ValueError, r"shape=\(5, 0, 3\)"),
    (np.array([[0.5, np.nan]]), ValueError, "1 of 2 values not finite"),
    (np.array([[-0.5, 1.5]]), ValueError, "min=-0.5, max=1.5"),
])
def test_validate_image_array_names_what_it_received(arr, error, received):
    with pytest.raises(error, match=f"Received: .*{received}"):
        data.validate_image_array(arr)


def test_validate_image_array_says_an_empty_array_has_no_pixels():
    with pytest.raises(ValueError, match=r"has no pixels. Received: shape=\(3, 0\)"):
        data.validate_image_array(np.zeros((3, 0), np.uint8))


def test_copies_of_one_photo_stay_in_one_split_and_are_reported(tmp_path, photos):
    """The split is a hash of the path, so copies under other names would land in training and
    test: copies (the same file, or the same pixels saved again) follow their original's split,
    and photos without copies keep the split of their path."""
    from bwcolor.data import split_of

    fractions = (0.5, 0.25, 0.25)
    folder = tmp_path / "photos"
    folder.mkdir()
    originals = {}
    for name in ["astronaut", "chelsea", "coffee"]:
        path = folder / f"{name}.png"
        Image.fromarray(photos[name][:64, :64]).save(path, compress_level=9)
        originals[path.name] = split_of(path.name, fractions)
    # A copy whose own path hash picks another split than its original's.
    copy = next(f"copies/c{i}.png" for i in range(100)
                if split_of(f"copies/c{i}.png", fractions) != originals["chelsea.png"])
    (folder / copy).parent.mkdir()
    (folder / copy).write_bytes((folder / "chelsea.png").read_bytes())
    resaved = next(f"copies/r{i}.png" for i in range(100)
                   if split_of(f"copies/r{i}.png", fractions) != originals["coffee.png"])
    Image.fromarray(photos["coffee"][:64, :64]).save(folder / resaved, compress_level=1)
    assert (folder / resaved).read_bytes() != (folder / "coffee.png").read_bytes()
    splits, report = scan(folder, image_size=32, fractions=fractions)
    where = {p.relative_to(folder).as_posix(): s for s, paths in splits.items() for p in paths}
    assert {name: where[name] for name in originals} == originals  # singles did not move
    assert where[copy] == where["chelsea.png"] and where[resaved] == where["coffee.png"]
    assert report.n_used == 5 and report.duplicates == 2
    assert report.as_dict()["duplicates"] == 2
    assert "2 are copies of other photos" in report.summary()
    text = str(report)
    assert f"{folder / copy} = {folder / 'chelsea.png'}" in text and resaved.split("/")[1] in text
