"""bwcolor._plan: which output each input gets, and every plan that could lose data is refused."""

import os
import re

import pytest
from PIL import Image

from bwcolor._plan import PlanError, plan_outputs


def _img(path, color=(120, 80, 40)):
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".png": "PNG", ".tif": "TIFF"}.get(path.suffix, "JPEG")
    Image.new("RGB", (8, 6), color).save(path, format=fmt)
    return path


@pytest.fixture
def scans(tmp_path):
    root = tmp_path / "scans"
    _img(root / "a.jpg")
    _img(root / "box" / "b.jpg")
    return root


def rel(plan, base):
    return sorted(os.path.relpath(dst, base) for _, dst in plan.jobs)


def test_one_folder_writes_its_tree_directly_under_the_output(scans, tmp_path):
    plan = plan_outputs([scans], tmp_path / "out")
    assert rel(plan, tmp_path / "out") == ["a.png", "box/b.png"]


def test_several_inputs_keep_a_subfolder_each_and_files_go_on_top(scans, tmp_path):
    other = _img(tmp_path / "loose.jpg")
    plan = plan_outputs([scans, other], tmp_path / "out")
    assert rel(plan, tmp_path / "out") == ["loose.png", "scans/a.png", "scans/box/b.png"]


def test_suffix_and_ext(scans, tmp_path):
    plan = plan_outputs([scans], tmp_path / "out", suffix="_color", ext="jpg")
    assert rel(plan, tmp_path / "out") == ["a_color.jpg", "box/b_color.jpg"]
    with pytest.raises(PlanError, match="separator"):
        plan_outputs([scans], tmp_path / "out", suffix="../x")


@pytest.mark.parametrize("suffix", ["_a\nb", "\t", "x\x7f", "\0"])
def test_a_suffix_with_control_characters_is_refused(scans, tmp_path, suffix):
    with pytest.raises(PlanError, match=r"control character.*Received: " + re.escape(repr(suffix))):
        plan_outputs([scans], tmp_path / "out", suffix=suffix)


def test_an_output_name_too_long_for_the_disk_fails_that_photo_alone(scans, tmp_path):
    """Checked up front: Path.exists() raises ENAMETOOLONG, which stopped the whole run."""
    long_stem = "y" * 240
    _img(scans / f"{long_stem}.jpg")
    plan = plan_outputs([scans], tmp_path / "out", suffix="_colorized_by_bwcolor")
    assert rel(plan, tmp_path / "out") == ["a_colorized_by_bwcolor.png",
                                           "box/b_colorized_by_bwcolor.png"]
    [(src, problem)] = plan.failures
    assert src.name == f"{long_stem}.jpg"
    assert problem.startswith("its output name would be 265 bytes, more than a file name may "
                              "have (255); shorten --suffix")
    with pytest.raises(PlanError, match="would be 305 bytes"):  # every photo: a usage error
        plan_outputs([scans / "a.jpg"], tmp_path / "out", suffix="x" * 300)


def test_same_stem_in_one_folder_keeps_the_extensions_apart(scans, tmp_path):
    _img(scans / "a.png")
    plan = plan_outputs([scans], tmp_path / "out")
    assert rel(plan, tmp_path / "out") == ["a_jpg.png", "a_png.png", "box/b.png"]
    assert plan.renamed == 2


def test_two_input_folders_with_one_name_are_refused_naming_both(tmp_path):
    one, two = _img(tmp_path / "x" / "scans" / "a.jpg").parent, _img(tmp_path / "y" / "scans" / "a.jpg").parent
    with pytest.raises(PlanError) as info:
        plan_outputs([one, two], tmp_path / "out")
    assert str(one / "a.jpg") in str(info.value) and str(two / "a.jpg") in str(info.value)


def test_two_files_with_one_name_are_refused(tmp_path):
    a, b = _img(tmp_path / "x" / "a.jpg"), _img(tmp_path / "y" / "a.jpg")
    with pytest.raises(PlanError, match="two inputs"):
        plan_outputs([a, b], tmp_path / "out")


def test_the_same_folder_twice_counts_once(scans, tmp_path):
    plan = plan_outputs([scans, scans / ".", tmp_path / "scans" / ".." / "scans"], tmp_path / "out")
    assert rel(plan, tmp_path / "out") == ["a.png", "box/b.png"]


@pytest.mark.parametrize("output", ["scans", "scans/out", "scans/box", "scans/../scans/new", "scans/./."])
def test_output_inside_a_walked_input_is_refused(scans, tmp_path, output):
    with pytest.raises(PlanError, match="inside the input folder"):
        plan_outputs([scans], tmp_path / output)


def test_symlinks_do_not_get_around_the_checks(scans, tmp_path):
    (tmp_path / "link").symlink_to(scans)
    with pytest.raises(PlanError, match="inside the input folder"):
        plan_outputs([scans], tmp_path / "link" / "colored")
    with pytest.raises(PlanError, match="inside the input folder"):
        plan_outputs([tmp_path / "link"], scans / "colored")
    # An output file that is a link to an input is the input.
    _img(tmp_path / "out" / "placeholder.jpg")
    (tmp_path / "out" / "a.png").symlink_to(scans / "a.jpg")
    with pytest.raises(PlanError, match="overwrite the input"):
        plan_outputs([scans / "a.jpg"], tmp_path / "out")


@pytest.mark.parametrize("out", ["a.png", "./a.png", "../scans/a.png"])
def test_an_output_equal_to_its_input_is_refused(scans, tmp_path, out, monkeypatch):
    _img(scans / "a.png")
    monkeypatch.chdir(scans)
    with pytest.raises(PlanError, match="overwrite the input"):
        plan_outputs(["a.png"], out)


def test_an_output_folder_full_of_inputs_is_refused(tmp_path):
    # The inputs are PNGs in the output folder itself: colorizing them would replace them.
    folder = tmp_path / "photos"
    _img(folder / "x.png")
    with pytest.raises(PlanError, match="overwrite the input"):
        plan_outputs([folder / "x.png"], folder)


def test_file_mode_rules(scans, tmp_path):
    plan = plan_outputs([scans / "a.jpg"], tmp_path / "colored.jpg")
    assert [dst.name for _, dst in plan.jobs] == ["colored.jpg"]
    with pytest.raises(PlanError, match="image file"):
        plan_outputs([scans], tmp_path / "colored.png")
    with pytest.raises(PlanError, match="image file"):
        plan_outputs([scans / "a.jpg", scans / "box" / "b.jpg"], tmp_path / "colored.png")
    with pytest.raises(PlanError, match="--ext"):
        plan_outputs([scans / "a.jpg"], tmp_path / "colored.png", ext="jpg")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(PlanError, match="-o must be a folder"):
        plan_outputs([scans], tmp_path / "notes.txt")


def test_missing_inputs_and_broken_links(tmp_path):
    with pytest.raises(PlanError, match="not found"):
        plan_outputs([tmp_path / "nope.jpg"], tmp_path / "out")
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(PlanError, match="broken link"):
        plan_outputs([tmp_path / "dangling.jpg"], tmp_path / "out")


def test_non_images_in_folders_are_skipped_but_named_ones_fail(scans, tmp_path):
    (scans / "README.txt").write_text("scanned 1998")
    (scans / "a.jpg.xmp").write_text("<x:xmpmeta/>")
    (scans / ".hidden.jpg").write_bytes(b"")
    if hasattr(os, "mkfifo"):
        os.mkfifo(scans / "pipe.jpg")
    plan = plan_outputs([scans], tmp_path / "out")
    assert sorted(p.name for p in plan.skipped["not_image"]) == ["README.txt", "a.jpg.xmp"]
    assert [p.name for p in plan.skipped.get("not_regular", [])] == (
        ["pipe.jpg"] if hasattr(os, "mkfifo") else [])
    assert not plan.failures
    plan = plan_outputs([scans / "README.txt", scans / "a.jpg"], tmp_path / "out")
    assert [p.name for p, _ in plan.failures] == ["README.txt"]
    assert [p.name for p, _ in plan.jobs] == ["a.jpg"]


def test_a_photo_reached_through_two_inputs_is_one_photo(scans, tmp_path):
    """Overlapping inputs (a folder and a folder inside it), a file named beside its folder,
    a link and a hard link: each photo is planned once, under the first input that reaches it."""
    plan = plan_outputs([scans, scans / "box"], tmp_path / "out")
    assert rel(plan, tmp_path / "out") == ["scans/a.png", "scans/box/b.png"]
    assert [(p.name, first.name) for p, first in plan.duplicates] == [("b.jpg", "b.jpg")]
    plan = plan_outputs([scans / "box" / "b.jpg", scans], tmp_path / "out")
    assert rel(plan, tmp_path / "out") == ["b.png", "scans/a.png"]  # the first mapping is kept
    os.link(scans / "a.jpg", scans / "box" / "same_as_a.jpg")
    (scans / "box" / "link_to_a.jpg").symlink_to(scans / "a.jpg")
    plan = plan_outputs([scans], tmp_path / "out")
    assert rel(plan, tmp_path / "out") == ["a.png", "box/b.png"]
    assert sorted(p.name for p, _ in plan.duplicates) == ["link_to_a.jpg", "same_as_a.jpg"]


def test_a_damaged_photo_in_a_folder_fails_but_other_files_are_skipped(scans, tmp_path):
    (scans / "cut_off.jpg").write_bytes(b"")
    (scans / "html_saved_as.png").write_text("<html>404</html>")
    (scans / "README.txt").write_text("scanned 1998")
    plan = plan_outputs([scans], tmp_path / "out")
    assert sorted(p.name for p, _ in plan.failures) == ["cut_off.jpg", "html_saved_as.png"]
    assert all("damaged" in why for _, why in plan.failures)
    assert [p.name for p in plan.skipped["not_image"]] == ["README.txt"]
    plan = plan_outputs([scans / "cut_off.jpg", scans / "a.jpg"], tmp_path / "out")
    assert [(p.name, "damaged" in why) for p, why in plan.failures] == [("cut_off.jpg", True)]


def test_no_output_is_a_file_the_command_reads_besides_the_photos(scans, tmp_path):
    """reads: the model's files and a hints file, under any name, with --overwrite too."""
    model = tmp_path / "p"
    model.mkdir()
    (model / "model.weights.h5").write_bytes(b"weights")
    hints = tmp_path / "a.png"  # a hints file with an unlucky name
    hints.write_text("[]")
    with pytest.raises(PlanError, match=r"overwrite the input .*a\.png"):
        plan_outputs([scans / "a.jpg"], tmp_path, reads=[hints])
    out = tmp_path / "out"
    out.mkdir()
    os.link(model / "model.weights.h5", out / "a.png")
    with pytest.raises(PlanError, match=r"overwrite the input .*model\.weights\.h5' under another name"):
        plan_outputs([scans / "a.jpg"], out, reads=[model / "model.weights.h5"])
    plan_outputs([scans / "a.jpg"], tmp_path / "elsewhere", reads=[model / "model.weights.h5", hints])
