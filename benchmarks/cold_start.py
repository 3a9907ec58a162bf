"""Cold start: how long a user waits before the first colorized photo, each step in a fresh process.

    python benchmarks/cold_start.py [--repeats 3] [--model default]

Every measurement runs in a new Python subprocess, so nothing is imported or compiled beforehand:

- ``import bwcolor`` and ``from bwcolor import Colorizer`` (in-process seconds, and the whole
  process's wall time, which adds interpreter start-up and shutdown);
- ``Colorizer.from_preset(model)``, then the first and the second ``colorize`` of a 1-MP JPEG
  (the bundled Castle Clinton photo resized to 1155 x 866), as the Python API does them (no
  persistent compilation cache), and again after ``_backend.enable_compilation_cache()``, as
  the CLI does;
- the whole ``bwcolor colorize one.jpg -o out.png`` command, wall time (``cli``);
- the same command run again with its output in place and no ``--overwrite`` (``cli_rerun``):
  it has nothing to do and answers without importing Keras or JAX; ``keras_imported`` says
  whether it did.

Every step also reports ``cpu_s``, the subprocess's user + system CPU seconds, which is steadier
than wall time when other programs share the machine.

``--without-matplotlib`` makes ``import matplotlib`` fail in every subprocess, as in an install
without the ``plot`` extra (Keras then skips its ``matplotlib.pyplot`` import); the command line
is then run as ``python -c "...; bwcolor.cli.main()"`` rather than the console script.

Each is run with the caches *cold* (``XDG_CACHE_HOME`` a fresh empty folder: no JAX persistent
compilation cache, no matplotlib font cache) and then *warm* (the same folder, filled by the cold
run). Prints one JSON object per line: one per step and cache state, with the median and every
repeat, then a summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Runs in the fresh subprocess; prints one JSON object. Timers start at the top of the script,
# after the interpreter itself has started.
_BLOCK = "import sys; sys.modules['matplotlib'] = None\n"
_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
step, model, photo = sys.argv[1], sys.argv[2], sys.argv[3]
out = {}
if step == "import_bwcolor":
    import bwcolor
    out["import_s"] = time.perf_counter() - t0
elif step == "import_colorizer":
    from bwcolor import Colorizer
    out["import_s"] = time.perf_counter() - t0
else:
    from bwcolor import Colorizer
    out["import_s"] = time.perf_counter() - t0
    if step == "api_compilation_cache":
        from bwcolor import _backend
        _backend.enable_compilation_cache()
    t = time.perf_counter()
    colorizer = Colorizer.from_preset(model)
    out["from_preset_s"] = time.perf_counter() - t
    for key in ("first_colorize_s", "second_colorize_s"):
        t = time.perf_counter()
        colorizer.colorize(photo)
        out[key] = time.perf_counter() - t
out["pyplot_imported"] = "matplotlib.pyplot" in sys.modules
out["in_process_s"] = time.perf_counter() - t0
print(json.dumps(out))
"""

_STEPS = ("import_bwcolor", "import_colorizer", "api", "api_compilation_cache", "cli",
          "cli_rerun")
# Printed by the rerun's process when it exits: whether it imported Keras.
_REPORT_KERAS = ("import atexit, sys; atexit.register(lambda: print('keras_imported=%s' % "
                 "('keras' in sys.modules)))\n")


def _cli_command():
    # The console script users run; `python -m bwcolor` where it is not on PATH (same code).
    exe = shutil.which("bwcolor")
    return [exe] if exe else [sys.executable, "-m", "bwcolor"]


def _run(step, model, photo, out_png, cache_home, without_matplotlib):
    env = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    block = _BLOCK if without_matplotlib else ""
    if step == "cli":
        cli = ([sys.executable, "-c", block + "from bwcolor.cli import main; sys.exit(main())"]
               if without_matplotlib else _cli_command())
        cmd = [*cli, "colorize", str(photo), "-o", str(out_png), "--model", model, "--overwrite"]
    elif step == "cli_rerun":  # the output is in place: nothing to do
        if not out_png.is_file():
            out_png.write_bytes(photo.read_bytes())
        code = block + _REPORT_KERAS + "from bwcolor.cli import main; sys.exit(main())"
        cmd = [sys.executable, "-c", code, "colorize", str(photo), "-o", str(out_png), "--model",
               model]
    else:
        cmd = [sys.executable, "-c", block + _CHILD, step, model, str(photo)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds (user + system) of the subprocess: on a machine shared with other work, wall
    # time grows with the load while CPU time mostly does not.
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{step} failed (exit {proc.returncode}). Received stderr:\n{proc.stderr}")
    result = {"wall_s": wall, "cpu_s": cpu}
    if step == "cli_rerun":
        if "colorized 0, skipped 1 existing" not in proc.stderr:
            raise RuntimeError(f"the rerun had something to do. Received stderr:\n{proc.stderr}")
        result["keras_imported"] = "keras_imported=True" in proc.stdout
    elif step != "cli":
        result.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    elif not out_png.is_file():
        raise RuntimeError(f"the CLI exited 0 but wrote no output. Received stderr:\n{proc.stderr}")
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--repeats", type=int, default=3,
                   help="fresh cache folders per step (default: 3); medians are reported")
    p.add_argument("--steps", nargs="+", choices=_STEPS, default=list(_STEPS))
    p.add_argument("--without-matplotlib", action="store_true",
                   help="make `import matplotlib` fail in the subprocesses (no plot extra)")
    p.add_argument("--photo", type=Path,
                   help="photo to resize to 1 MP (default: bwcolor.data.sample_photo())")
    args = p.parse_args()
    if args.repeats < 1:
        p.error(f"--repeats must be at least 1. Received: {args.repeats}")

    from PIL import Image

    if args.photo is None:
        from bwcolor.data import sample_photo

        args.photo = sample_photo()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photo = tmp / "one.jpg"
        # 1155 x 866 = 1.0 MP; the bundled photo is 1024 x 808.
        Image.open(args.photo).resize((1155, 866), Image.BICUBIC).save(photo, quality=92)
        for step in args.steps:
            for repeat in range(args.repeats):
                cache_home = tmp / f"cache-{step}-{repeat}"
                cache_home.mkdir()
                for state in ("cold", "warm"):  # warm: the folder the cold run just filled
                    r = _run(step, args.model, photo, tmp / "out.png", cache_home,
                             args.without_matplotlib)
                    results.setdefault((step, state), []).append(r)
            for state in ("cold", "warm"):
                runs = results[(step, state)]
                line = {"benchmark": "cold_start", "step": step, "cache": state,
                        "without_matplotlib": args.without_matplotlib}
                for key in runs[0]:
                    values = [r[key] for r in runs]
                    if isinstance(values[0], bool):
                        line[key] = values[0] if len(set(values)) == 1 else values
                    else:
                        line[key] = round(statistics.median(values), 3)
                        line[key + "_runs"] = [round(v, 3) for v in values]
                print(json.dumps(line), flush=True)
    summary = {"benchmark": "cold_start_summary", "model": args.model, "repeats": args.repeats,
               "backend": os.environ.get("KERAS_BACKEND", "jax"), "cpus": os.cpu_count(),
               "python": sys.version.split()[0],
               "without_matplotlib": args.without_matplotlib,
               "cli": ("python -c 'bwcolor.cli.main()'" if args.without_matplotlib
                       else " ".join(Path(c).name for c in _cli_command()))}
    for step in ("cli", "cli_rerun"):
        for state in ("cold", "warm"):
            if (step, state) in results:
                runs = results[(step, state)]
                summary[f"{step}_{state}_s"] = round(statistics.median(r["wall_s"] for r in runs), 3)
                summary[f"{step}_{state}_cpu_s"] = round(statistics.median(r["cpu_s"] for r in runs), 3)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
