"""evaluate_with_hints: hint-count curves scored with colors sampled from the originals (#20)."""

import json

import keras
import numpy as np
import pytest

from bwcolor import Colorizer, color, hints
from bwcolor.evaluation import evaluate, evaluate_with_hints, ground_truth_hints, reference_crops

TINY = dict(widths=(8, 8), blocks=(1, 1))


class PaintHints:
    """A stand-in hint model: the photo's L* with a* = b* = 0, except each hint's patch, which
    gets the hint's a*b*. Records the hints it is given."""

    accepts_hints = True

    def __init__(self):
        self.config = {"image_size": 32}
        self.calls = []

    def colorize(self, images, *, render_size=None, annealing_temperature=None, hints=None):
        self.calls.append(hints)
        outs = []
        for i, rgb in enumerate(images):
            lab = color.rgb_to_lab(rgb / 255.0)
            lab[..., 1:] = 0
            for h in (hints[i] if hints else []):
                r = hints_radius(h)
                hint_lab = color.rgb_to_lab(np.asarray(h.rgb, np.float64) / 255.0)
                lab[max(0, int(h.y) - r):int(h.y) + r + 1,
                    max(0, int(h.x) - r):int(h.x) + r + 1, 1:] = hint_lab[1:]
            outs.append(np.round(color.lab_to_rgb(lab) * 255).astype(np.uint8))
        return outs


def hints_radius(h):
    return hints.DEFAULT_RADIUS if h.radius is None else round(h.radius)


@pytest.fixture(scope="module")
def hint_model():
    keras.utils.set_random_seed(3)
    return Colorizer("default", image_size=32, architecture_config={**TINY, "hints": True})


@pytest.fixture(scope="module")
def automatic_model():
    return Colorizer("default", image_size=32, architecture_config=TINY)


def test_one_row_per_count_and_count_zero_is_evaluate(hint_model, photo_dir):
    rows = evaluate_with_hints(hint_model, photo_dir, (0, 1, 5), size=32)
    assert [r["count"] for r in rows] == [0, 1, 5]
    for r in rows:
        assert r["n_images"] == 6 and r["n_skipped"] == 0
        assert {"psnr", "ssim", "delta_e2000", "colorfulness"} <= set(r)
    assert {k: v for k, v in rows[0].items() if k != "count"} == pytest.approx(
        evaluate(hint_model, photo_dir, size=32))


def test_hints_change_a_hint_models_scores(hint_model, photo_dir):
    rows = evaluate_with_hints(hint_model, photo_dir, (0, 20), size=32, radius=4)
    assert rows[0]["delta_e2000"] != pytest.approx(rows[1]["delta_e2000"], abs=1e-6)


def test_true_colors_make_a_model_that_follows_them_better(photo_dir):
    rows = evaluate_with_hints(PaintHints(), photo_dir, (0, 1, 5, 20), size=32, radius=2)
    errors = [r["delta_e2000"] for r in rows]
    assert errors == sorted(errors, reverse=True) and errors[-1] < errors[0] - 1


def test_positions_are_nested_seeded_and_the_same_for_every_model(photo_dir):
    a, b, c = PaintHints(), PaintHints(), PaintHints()
    evaluate_with_hints(a, photo_dir, (5, 0, 20), size=32, seed=7)
    evaluate_with_hints(b, photo_dir, (20,), size=32, seed=7)
    evaluate_with_hints(c, photo_dir, (20,), size=32, seed=8)
    five, zero, twenty = a.calls
    assert zero is None  # count 0: no hints argument at all
    assert twenty == b.calls[0]  # the same hints whatever the other counts
    assert all(len(h) == 20 for h in twenty) and all(len(h) == 5 for h in five)
    assert [h[:5] for h in twenty] == five
    assert c.calls[0] != twenty
    # Different photos get different positions.
    assert len({tuple((h.x, h.y) for h in photo) for photo in twenty}) == len(twenty)


def test_hint_colors_are_the_mean_true_color_of_their_patch(rng):
    reference = rng.integers(40, 200, (48, 64, 3)).astype(np.uint8)
    lab = color.uint8_rgb_to_lab(reference)
    for h in ground_truth_hints(reference, 10, seed=1, radius=3):
        assert 0 <= h.x < 64 and 0 <= h.y < 48 and h.radius == 3
        expected = lab[max(0, h.y - 3):h.y + 4, max(0, h.x - 3):h.x + 4].reshape(-1, 3).mean(0)
        got = color.rgb_to_lab(np.asarray(h.rgb, np.float64) / 255.0)
        np.testing.assert_allclose(got[1:], expected[1:], atol=1.5)
    # The patch is the one hint_channels covers at the render shape: at half the photo's size,
    # each render pixel is 2 x 2 photo pixels, and the default patch 5 x 5 render pixels.
    flat = np.zeros((40, 40, 3), np.uint8)
    flat[:, :20] = (150, 110, 80)
    flat[:, 20:] = (60, 90, 160)
    lab = color.uint8_rgb_to_lab(flat)
    mixed = 0
    for h in ground_truth_hints(flat, 20, seed=2, radius=None, render_shape=(20, 20)):
        ry, rx = h.y // 2, h.x // 2
        patch = lab[2 * max(0, ry - 2):2 * (ry + 3), 2 * max(0, rx - 2):2 * (rx + 3)]
        expected = patch.reshape(-1, 3).mean(0)
        got = color.rgb_to_lab(np.asarray(h.rgb, np.float64) / 255.0)
        np.testing.assert_allclose(got[1:], expected[1:], atol=1.5)
        mixed += 2 * (rx - 2) < 20 < 2 * (rx + 3)
    assert mixed  # some patches straddle the edge: their color is a mean of both sides


def test_prefixes_do_not_depend_on_n(rng):
    reference = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    assert ground_truth_hints(reference, 3, seed=4, index=2) == \
        ground_truth_hints(reference, 12, seed=4, index=2)[:3]
    assert ground_truth_hints(reference, 0) == []


def test_an_automatic_model_is_scored_only_without_hints(automatic_model, photo_dir):
    with pytest.raises(ValueError, match=r"Colorizer\(architecture='default'.*does not take "
                                         r"color hints.*only at count 0"):
        evaluate_with_hints(automatic_model, photo_dir, (0, 5), size=32)
    (row,) = evaluate_with_hints(automatic_model, photo_dir, (0,))
    assert row["count"] == 0 and row["n_images"] == 6


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(counts=()), ValueError, "at least one"),
    (dict(counts=(0, -1)), ValueError, r"counts\[1\] must be >= 0"),
    (dict(counts=(1.5,)), TypeError, "must be an int"),
    (dict(counts=(1, 1)), ValueError, "not repeat"),
    (dict(counts="5"), TypeError, "sequence of ints"),
    (dict(seed=-1), ValueError, "seed must be >= 0"),
    (dict(radius=-1), ValueError, "radius must be None or a finite number >= 0"),
    (dict(radius=float("nan")), ValueError, "radius"),
    (dict(per_image="yes"), TypeError, "per_image must be a bool"),
    (dict(annealing_temperature=0), ValueError, "annealing_temperature"),
    (dict(size=16), ValueError, "size must be >= 32"),
    (dict(split="tests"), ValueError, "split must be"),
])
def test_bad_arguments_are_named(kwargs, error, match, photo_dir):
    model = PaintHints()
    with pytest.raises(error, match=match):
        evaluate_with_hints(model, photo_dir, **{"counts": (0, 1), **kwargs})
    assert model.calls == []  # refused before any colorizing


def test_needs_a_colorize_and_a_size(photo_dir):
    with pytest.raises(TypeError, match="colorize method"):
        evaluate_with_hints(object(), photo_dir)

    no_config = PaintHints()
    no_config.config = {}
    with pytest.raises(ValueError, match="size is needed"):
        evaluate_with_hints(no_config, photo_dir)


def test_per_image_rows_name_the_photos(photo_dir):
    rows = evaluate_with_hints(PaintHints(), photo_dir, (0, 5), size=32, per_image=True)
    _crops, paths, _ = reference_crops(photo_dir, 32, None)
    for r in rows:
        assert [p["path"] for p in r["per_image"]] == [str(p) for p in paths]
        assert np.mean([p["delta_e2000"] for p in r["per_image"]]) == pytest.approx(
            r["delta_e2000"])


def _script(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hint_curve_script_rows_figure_and_targets(hint_model, automatic_model, photo_dir,
                                                   tmp_path, capsys):
    pytest.importorskip("matplotlib")
    hint_model.save(tmp_path / "hint")
    automatic_model.save(tmp_path / "auto")
    out, png = tmp_path / "rows.json", tmp_path / "curve.png"
    _script("hint_curve").main([str(photo_dir), "--split", "all", "--size", "32", "--counts", "0",
                                "5", "--model", f"h={tmp_path / 'hint'}", "--model",
                                f"a={tmp_path / 'auto'}", "-o", str(png), "--json", str(out)])
    rows = json.loads(out.read_text())
    assert [(r["model"], r["count"]) for r in rows] == [("h", 0), ("h", 5), ("a", 0)]
    assert all(r["n_images"] == 6 for r in rows) and png.stat().st_size > 0
    printed = capsys.readouterr()
    assert [json.loads(line) for line in printed.out.splitlines()] == rows
    assert "h: 0 hints" in printed.err


def test_hint_curve_targets():
    check = _script("hint_curve").check_targets
    rows = [{"model": "new", "hints": True, "count": 0, "delta_e2000": 11.6},
            {"model": "new", "hints": True, "count": 10, "delta_e2000": 8.5},
            {"model": "old", "hints": False, "count": 0, "delta_e2000": 11.5},
            {"model": "seed", "hints": False, "count": 0, "delta_e2000": 12.0}]
    assert [line.endswith(": met") for line in check(rows)] == [True, True]
    rows[1]["delta_e2000"] = 8.8
    rows[0]["delta_e2000"] = 11.71
    assert [line.endswith("NOT met") for line in check(rows)] == [True, True]


def test_comparison_sheet_script(automatic_model, photo_dir, tmp_path, capsys):
    automatic_model.save(tmp_path / "auto")
    png = tmp_path / "sheet.png"
    _script("comparison_sheet").main([str(photo_dir), "--split", "train", "--every", "2",
                                      "--size", "32", "--tile", "64", "--model",
                                      f"auto={tmp_path / 'auto'}", "-o", str(png)])
    printed = capsys.readouterr()
    lines = [json.loads(line) for line in printed.out.splitlines()]
    train = sorted(p.name for p in reference_crops(photo_dir, 32, "train")[1])
    assert len(train) > 2 and [line["path"] for line in lines] == train[::2]
    assert "only" in printed.err  # fewer than 12 photos: said
    from PIL import Image

    with Image.open(png) as im:
        assert im.width == 3 * 64 + 2 * 2


@pytest.mark.slow
def test_pretrained_hints_recipe_trains_and_packages_only_the_branch(photo_dir, tmp_path):
    """scripts/train_preset.py pretrained_hints from a pretrained_unet run's best/, then
    scripts/package_hint_default.py with the released preset made from that run as --donor: the
    donor's shape, crop size and temperature; its encoder and decoder unchanged, the branch
    trained; the package unfrozen (its dropout back), with the released preset's temperature,
    record and NOTICE (and a paragraph on the branch). Another net as donor is refused."""
    arch = dict(backbone_weights=None, widths=[4, 4, 4, 4], global_width=4, dropout=0.25,
                hints=True)
    donor = Colorizer("pretrained_unet", image_size=64, annealing_temperature=0.5,
                      architecture_config=arch)
    donor.save(tmp_path / "donor")
    _script("train_preset").main(["pretrained_hints", str(photo_dir), "-o", str(tmp_path / "run"),
                                  "--init-from", str(tmp_path / "donor"), "--epochs", "1",
                                  "--batch-size", "2", "--repeats", "1", "--workers", "1",
                                  "--mixed-precision", "none", "--validation-split", "0"])
    run = Colorizer.from_preset(tmp_path / "run")
    assert run.config["architecture_config"] == {**arch, "freeze_automatic": True}
    assert (run.config["image_size"], run.config["annealing_temperature"]) == (64, 0.5)
    assert run.metadata["initialized_from"]["layers_copied"] == 2  # the encoder and decoder

    def weights(model, names):
        return [w for name in names for w in model.get_layer(name).get_weights()]

    automatic, branch = ("encoder", "decoder"), ("hint_in_conv", "hint_correction")
    for a, b in zip(weights(run.model, automatic), weights(donor.model, automatic), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not any(np.array_equal(a, b) for a, b in zip(weights(run.model, branch),
                                                         weights(donor.model, branch)))

    # The release made from the donor run: float16, its own temperature, record and NOTICE.
    donor.config["annealing_temperature"] = 0.3
    donor.metadata["test_metrics"] = {"delta_e2000": 1.0}
    donor.save(tmp_path / "released", weights_dtype="float16")
    (tmp_path / "released" / "NOTICE").write_text("model.weights.h5 holds two parts:\n\n1. The "
                                                  "encoder.\n\n2. The decoder.\n")
    package = _script("package_hint_default").main
    package([str(tmp_path / "run"), str(tmp_path / "packaged"), "--donor",
             str(tmp_path / "released")])
    packaged = Colorizer.from_preset(tmp_path / "packaged")
    assert packaged.config["architecture_config"] == {**arch, "hint_width": 32}
    assert packaged.config["annealing_temperature"] == 0.3
    assert packaged.metadata["test_metrics"] == {"delta_e2000": 1.0}
    assert packaged.metadata["hints"]["recipe"]["name"] == "pretrained_hints"
    assert [layer.name for layer in packaged.model.get_layer("decoder").layers
            if "dropout" in layer.name] == ["dropout16", "dropout8", "dropout4"]
    for a, b in zip(packaged.model.get_weights(), run.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b.astype(np.float16))
    notice = (tmp_path / "packaged" / "NOTICE").read_text()
    assert notice.startswith("model.weights.h5 holds three parts:")
    assert "3. The hint branch" in notice and "pretrained_hints" in notice

    other = Colorizer("pretrained_unet", image_size=64, architecture_config=arch)
    other.save(tmp_path / "other")
    with pytest.raises(SystemExit, match=r"layer '(encoder|decoder)' differs"):
        package([str(tmp_path / "run"), str(tmp_path / "refused"), "--donor",
                 str(tmp_path / "other")])
    assert not (tmp_path / "refused").exists()
