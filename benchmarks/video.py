"""Old film (issue #28): flicker, accuracy and speed of colorizing a video, per frame and with
the flow-guided consistency step, with the bundled default preset.

    python benchmarks/video.py                 # the numbers the guide quotes
    python benchmarks/video.py --blend 0.1 0.2 0.35   # also the consistency step at other blends

Clips: three shots over real photos (bwcolor.data.sample_photos: a pan over 'astronaut', a zoom
into 'chelsea', a diagonal pan with zoom over 'coffee'), cut one after the other, made by
bwcolor.video.synthetic_clip with their true motion. Quality is measured on the frames
(bwcolor.video.colorize_frames, no codec): the warping error of Lai et al. 2018 with the true
flow (a*b* units; pairs across a cut left out) and the mean CIEDE2000 to the color originals.
Speed is measured end to end through files (bwcolor.video.colorize_video: decode, L*, model,
consistency, join, H.264 encode) at 854x480 and 1920x1080, after a warm-up clip of that size
compiles the model. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def _clip(photos, frames, size):
    from bwcolor.video import synthetic_clip

    shots = [synthetic_clip(photos["astronaut"], frames, size, pan=(0.2, 0.0)),
             synthetic_clip(photos["chelsea"], frames, size, pan=(0.0, 0.0), zoom=1.4),
             synthetic_clip(photos["coffee"], frames, size, pan=(-0.15, 0.08), zoom=1.2)]
    return [f for clip, _ in shots for f in clip], [f for _, flows in shots for f in flows]


def _write(path, clip, fps=24):
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "12"})
        stream.height, stream.width = clip[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for rgb in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def _quality(colorizer, clip, flows, blends):
    from bwcolor import video

    result = {}
    for name, consistency, blend in [("per_frame", "none", None),
                                     *[(f"flow_blend_{b:g}", "flow", b) for b in blends]]:
        if blend is not None:
            video.BLEND = blend
        out = list(video.colorize_frames(colorizer, clip, consistency=consistency))
        result[name] = {k: round(v, 3) for k, v in video.evaluate_clip(out, clip, flows).items()}
    return result


def _speed(colorizer, photos, size, frames, tmp):
    from bwcolor import video

    clip, _ = _clip(photos, frames, size)
    src = tmp / f"{size[0]}p.mp4"
    _write(src, clip)
    warm = tmp / "warm.mp4"
    _write(warm, clip[:2])
    video.colorize_video(colorizer, warm, tmp / "warm_out.mp4", overwrite=True)
    result = {}
    for consistency in ("none", "flow"):
        timings = {}
        t0 = time.perf_counter()
        info = video.colorize_video(colorizer, src, tmp / f"out_{consistency}.mp4",
                                    consistency=consistency, overwrite=True, timings=timings)
        seconds = time.perf_counter() - t0
        result[consistency] = {
            "frames": info.frames, "fps": round(info.frames / seconds, 2),
            "seconds": round(seconds, 2),
            "stage_seconds": {k: round(v, 2) for k, v in timings.items()},
            "consistency_share": round(timings.get("consistency", 0.0) / seconds, 3)}
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--frames", type=int, default=24, help="frames per shot (3 shots)")
    p.add_argument("--speed-frames", type=int, default=8, help="frames per shot when timing")
    p.add_argument("--blend", type=float, nargs="*", default=[],
                   help="also measure the consistency step at these blends (the default's too)")
    args = p.parse_args()

    from bwcolor import _backend, video
    from bwcolor.colorizer import Colorizer
    from bwcolor.data import sample_photos

    _backend.enable_compilation_cache()
    colorizer = Colorizer.from_preset(args.model)
    photos = sample_photos(["astronaut", "chelsea", "coffee"])
    default_blend = video.BLEND
    blends = sorted({default_blend, *args.blend})
    clip, flows = _clip(photos, args.frames, (480, 854))
    report = {"benchmark": "video", "model": args.model, "backend": _backend.name(),
              "cpus": os.cpu_count(), "blend": default_blend,
              "quality_480p": _quality(colorizer, clip, flows, blends)}
    video.BLEND = default_blend
    base = report["quality_480p"]["per_frame"]
    ours = report["quality_480p"][f"flow_blend_{default_blend:g}"]
    report["warping_error_reduction"] = round(1 - ours["warping_error"] / base["warping_error"], 3)
    report["delta_e2000_change"] = round(ours["delta_e2000"] - base["delta_e2000"], 3)
    with tempfile.TemporaryDirectory() as tmp:
        for name, size in {"480p": (480, 854), "1080p": (1080, 1920)}.items():
            report[f"speed_{name}"] = _speed(colorizer, photos, size, args.speed_frames, Path(tmp))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
