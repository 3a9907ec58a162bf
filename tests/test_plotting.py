"""bwcolor.plotting writes its pictures without ever replacing a file it was not asked to."""

import csv
import os

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from bwcolor import plotting


class _Copy:
    """Stands in for a Colorizer: 'colorizes' by returning the photo as it is."""

    def colorize(self, images, render_size=None):
        return [np.asarray(i) for i in images]


@pytest.fixture
def history(tmp_path):
    path = tmp_path / "history.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["epoch", "loss", "val_loss"])
        writer.writeheader()
        writer.writerows([{"epoch": 1, "loss": 2.0, "val_loss": 2.5},
                          {"epoch": 2, "loss": 1.5, "val_loss": 2.2}])
    return path


def test_plots_refuse_an_existing_file_unless_overwrite(history, tmp_path, rng):
    photo = rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    for draw in (lambda path, **kw: plotting.plot_history(history, path, **kw),
                 lambda path, **kw: plotting.plot_comparison([photo], _Copy(), path, **kw)):
        target = tmp_path / "picture.png"
        target.write_bytes(b"someone's file")
        with pytest.raises(FileExistsError, match=r"overwrite=True.*Received: path='.*picture.png'"):
            draw(target)
        assert target.read_bytes() == b"someone's file"
        draw(target, overwrite=True)
        assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        target.unlink()
        draw(target)  # a new file needs no flag
        assert target.is_file()


def test_a_comparison_never_replaces_one_of_its_photos(tmp_path, rng):
    from PIL import Image

    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(path)
    before = path.read_bytes()
    os.link(path, tmp_path / "hard.png")
    (tmp_path / "soft.png").symlink_to(path)
    for name in ("./photo.png", "hard.png", "soft.png"):  # the photo under any of its names
        with pytest.raises(ValueError, match="one of the images"):
            plotting.plot_comparison([path], _Copy(), tmp_path / name, overwrite=True)
    assert path.read_bytes() == before
