"""
Old film: colors that hold still
================================

A colorizer that guesses every frame anew flickers: as the camera moves, a wall or a face
changes color from one frame to the next. :mod:`bwcolor.video` carries each frame's colors
along the optical flow of the gray frames into the next one (and starts afresh at a cut). This
example makes a short clip, a camera panning over a photo, colorizes it frame by frame and with
the flow, and measures the flicker: the warping error, the mean a*b* change between a frame and
the one before it moved along the true motion. Then it colorizes a film file the way
``bwcolor colorize film.mp4 -o film_color.mp4`` does.

Needs the video extra: ``pip install "bwcolor[video]"``.
"""

# %%
import matplotlib.pyplot as plt

from bwcolor import Colorizer, video
from bwcolor.data import sample_photos

colorizer = Colorizer.from_preset("default")
photo = sample_photos(["chelsea"])["chelsea"]
clip, flows = video.synthetic_clip(photo, frames=8, size=(144, 192), pan=(0.25, 0.0))

results = {}
for consistency in ("none", "flow"):
    frames = list(video.colorize_frames(colorizer, clip, consistency=consistency))
    results[consistency] = frames
    scores = video.evaluate_clip(frames, clip, flows)
    print(f"consistency={consistency!r}: warping error {scores['warping_error']:.2f}, "
          f"CIEDE2000 {scores['delta_e2000']:.1f}")

# %%
# Every other frame of the pan, colorized on its own (top) and along the flow (bottom).
fig, axes = plt.subplots(2, 4, figsize=(12, 4.4))
for row, consistency in enumerate(("none", "flow")):
    for col, t in enumerate(range(0, 8, 2)):
        axes[row, col].imshow(results[consistency][t])
        axes[row, col].set_title(f"{consistency}, frame {t}", fontsize=9)
        axes[row, col].set_axis_off()
fig.tight_layout()
plt.show()

# %%
# A film file: decoded and written with PyAV (H.264 out), frame times and any sound kept. The
# output goes to a temporary file beside its name and is renamed only when complete.
import tempfile
from pathlib import Path

import av

with tempfile.TemporaryDirectory() as folder:
    film = Path(folder) / "film.mp4"
    with av.open(str(film), "w") as out:  # the gray clip, as a 12 frames/s film
        stream = out.add_stream("libx264", rate=12)
        stream.height, stream.width = clip[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for frame in clip:
            gray = frame.mean(axis=2, keepdims=True).repeat(3, axis=2).astype("uint8")
            for packet in stream.encode(av.VideoFrame.from_ndarray(gray, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    info = video.colorize_video(colorizer, film, Path(folder) / "film_color.mp4")
    print(f"film_color.mp4: {info.frames} frames of {info.width} x {info.height} at "
          f"{float(info.fps):g} frames/s, {info.codec}")
