"""Plan which output file each input photo gets, and refuse every plan that could lose data.

The rules (the user guide's "Safety guarantees" lists them for users):

- Paths are compared after resolving ``.``, ``..`` and symbolic links, so no spelling of a path
  gets around a check. The same input given twice counts once, and a photo reached through two
  inputs (overlapping folders, a link, a hard link) is one photo: it gets the first input's
  output, and the plan counts the others in ``duplicates``.
- No output may be an input, nor any other file the command reads (``reads``: the model's
  files, a hints file), under any name (:class:`bwcolor._io.InputFiles`); and the output folder
  may not lie inside (or be) an input folder that is walked: such plans are refused before any
  model is loaded.
- One input folder writes its tree directly under the output folder; several inputs keep a
  subfolder each (named after the folder); files given by name go directly under it.
- Output names are ``<stem><suffix>.<ext>``. When two inputs would get the same name (``a.jpg``
  and ``a.png`` in one folder), each of them keeps its own extension in the name
  (``a_jpg.png``, ``a_png.png``); a clash that remains (two input folders with one name) is
  refused with a message naming both inputs.
- Only regular files are read. Inside folders, hidden files, files that are not images and
  special files (FIFOs, sockets, devices) are skipped and counted; a file named explicitly
  that is not a readable image is a failure, and so is a file in a folder whose name says it is
  an image (``.jpg``, ``.png``, ...) but whose content is none (a damaged photo).
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from bwcolor._io import InputFiles, OutputIsInputError, file_identity
from bwcolor.data import ImageDecodeError, photo_format

__all__ = ["OUTPUT_EXTENSIONS", "OUTPUT_SUFFIXES", "Plan", "PlanError", "plan_outputs"]

#: ``--ext`` choices and the suffix each writes.
OUTPUT_EXTENSIONS = {"png": ".png", "jpg": ".jpg", "webp": ".webp", "tif": ".tif"}
#: Suffixes that make ``-o`` name an output file rather than a folder.
OUTPUT_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"}


class PlanError(ValueError):
    """A plan that would lose data or cannot be carried out; the message says why."""


@dataclass
class Plan:
    """What one ``bwcolor colorize`` call will do.

    Attributes
    ----------
    jobs : list of (Path, Path)
        (input photo, output file), in a deterministic order.
    failures : list of (Path, str)
        Inputs named explicitly that cannot be colorized, with the reason.
    skipped : dict
        Files inside input folders that were left out, per reason key, as lists of paths.
    renamed : int
        Outputs whose name keeps the input's extension because of a name clash.
    duplicates : list of (Path, Path)
        Photos reached a second time (overlapping inputs, links), each with the path it was
        first reached by, whose output it shares: each photo is colorized once.
    """

    jobs: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    skipped: dict = field(default_factory=lambda: defaultdict(list))
    renamed: int = 0
    duplicates: list = field(default_factory=list)


def _real(path):
    return Path(os.path.realpath(path))


def _inside(path, folder):
    """True when ``path`` is ``folder`` or lies under it (both already resolved)."""
    return path == folder or folder in path.parents


def _walk(root, report_skip, report_failure, every_file):
    """Image files under ``root`` to colorize (sorted; hidden names and linked folders skipped).

    One walk also adds every file under ``root``, hidden ones and non-images too, to
    ``every_file`` (an :class:`~bwcolor._io.InputFiles`): none of them may be written to.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        hidden = any(part.startswith(".") for part in Path(dirpath).relative_to(root).parts)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            every_file.add(path)
            if hidden or name.startswith("."):
                continue
            try:
                fmt = photo_format(path)
            except ImageDecodeError as e:
                if e.reason == "damaged":  # a photo, damaged: a failure, not a file to skip
                    report_failure(path, str(e))
                else:
                    report_skip(e.reason, path)
                continue
            except OSError:
                report_skip("unreadable", path)
                continue
            if fmt is None:
                report_skip("not_image", path)
            else:
                found.append(path)
    return found


def _check_explicit(path):
    """None when an explicitly named file may be an image, else the reason it cannot be."""
    try:
        fmt = photo_format(path)
    except ImageDecodeError as e:
        return str(e)
    except OSError as e:
        return f"cannot read the file ({e.strerror}). Received: path={str(path)!r}"
    if fmt is None:
        return f"not an image (its content is no image format bwcolor reads). Received: path={str(path)!r}"
    return None


#: The longest file name, in bytes, on the usual file systems (ext4, APFS, NTFS: 255).
NAME_MAX = 255


def plan_outputs(inputs, output, *, suffix="", ext=None, reads=()):
    """Map input photos and folders to output files, refusing unsafe plans.

    Parameters
    ----------
    inputs : list of paths
        Image files and folders.
    output : path
        An output file (one input file, and a name ending in an image suffix) or a folder.
    suffix : str
        Added to every output file's stem in folder mode (``"_color"``).
    ext : {None, "png", "jpg", "webp", "tif"}
        Output format in folder mode (None: png).
    reads : list of paths
        The other files the command reads (the model's files, a hints file): no output may be
        one of them, under any name.

    Raises
    ------
    PlanError
        For a missing input, an output that would overwrite an input or lie inside a walked
        input folder, a file output with several inputs, or an output name two inputs share.
    """
    if not inputs:
        raise PlanError("no inputs given")
    if ext is not None and ext not in OUTPUT_EXTENSIONS:
        raise PlanError(f"--ext must be one of {sorted(OUTPUT_EXTENSIONS)}. Received: {ext!r}")
    if suffix and (os.sep in suffix or (os.altsep and os.altsep in suffix)):
        raise PlanError(f"--suffix must not contain a path separator. Received: {suffix!r}")
    if suffix and any(ord(c) < 32 or ord(c) == 127 for c in suffix):
        raise PlanError(f"--suffix must not contain a control character (a newline, a tab). "
                        f"Received: {suffix!r}")
    output = Path(output)
    unique = _unique_inputs(inputs)
    file_mode = _output_mode(unique, output, suffix, ext)
    plan = Plan()
    input_files = InputFiles(reads)
    candidates = _candidates(unique, output, file_mode, plan, input_files)
    jobs = _name_outputs(candidates, output, suffix, OUTPUT_EXTENSIONS[ext or "png"], plan)
    _refuse_unsafe(jobs, input_files)
    reasons = [_name_too_long(dst) for _, dst in jobs]
    too_long = [(src, why) for (src, _), why in zip(jobs, reasons) if why]
    if jobs and len(too_long) == len(jobs) and not plan.failures:  # the suffix: a usage error
        raise PlanError(too_long[0][1])
    plan.failures += too_long  # those photos fail, with the reason; the others go on
    plan.jobs = [job for job, why in zip(jobs, reasons) if not why]
    return plan


def _name_too_long(dst):
    """Why ``dst``'s file name cannot exist (over NAME_MAX bytes), or None."""
    size = len(os.fsencode(dst.name))
    if size <= NAME_MAX:
        return None
    return (f"its output name would be {size} bytes, more than a file name may have "
            f"({NAME_MAX}); shorten --suffix or the photo's name. Received: {dst.name[:40]!r}...")


def _unique_inputs(inputs):
    """The inputs that exist, each once, however it is spelled (``.``, ``..``, links)."""
    seen, unique = set(), []
    for item in map(Path, inputs):
        if not item.exists():
            kind = "a broken link" if item.is_symlink() else "not found"
            raise PlanError(f"input {kind}. Received: {str(item)!r}")
        real = _real(item)
        if real not in seen:
            seen.add(real)
            unique.append(item)
    return unique


def _output_mode(inputs, output, suffix, ext):
    """True when ``-o`` names the output file itself; checks the flags that go with each mode."""
    file_mode = output.suffix.lower() in OUTPUT_SUFFIXES and not output.is_dir()
    if file_mode:
        if len(inputs) != 1 or inputs[0].is_dir():
            what = "a folder" if len(inputs) == 1 else f"{len(inputs)} inputs"
            raise PlanError(f"-o names an image file, but the input is {what}; give an output "
                            f"folder instead. Received: -o {str(output)!r}")
        if ext is not None and OUTPUT_EXTENSIONS[ext] != output.suffix.lower():
            raise PlanError(f"--ext {ext} contradicts the output file's suffix. "
                            f"Received: -o {str(output)!r}")
        if suffix:
            raise PlanError(f"--suffix names files inside an output folder; -o already names "
                            f"the output file. Received: -o {str(output)!r} --suffix {suffix!r}")
    elif output.exists() and not output.is_dir():
        raise PlanError(f"-o must be a folder (or, for one input file, a new image file ending "
                        f"in one of {sorted(OUTPUT_SUFFIXES)}). Received: -o {str(output)!r}")
    elif not output.exists() and _names_an_image_format(output):
        # Without this, "-o photo.gif" would quietly become a folder named photo.gif.
        raise PlanError(f"-o ends in {output.suffix!r}, an image format bwcolor does not write; "
                        f"name a file ending in one of {sorted(OUTPUT_SUFFIXES)}, or a folder. "
                        f"Received: -o {str(output)!r}")
    return file_mode


def _names_an_image_format(path):
    """True when ``path``'s suffix is one Pillow knows as an image format's."""
    from PIL import Image

    Image.init()
    return path.suffix.lower() in Image.registered_extensions()


def _candidates(inputs, output, file_mode, plan, input_files):
    """(input file, output folder, stem, input suffix or None in file mode) for every photo,
    each photo once (by file identity, else real path: the first input that reaches it); adds
    every file the inputs cover to ``input_files`` (none may be written to)."""
    out_real = _real(output)
    candidates, first_seen = [], {}

    def first_time(path):
        """False, and the photo counted in ``plan.duplicates``, when it was reached before."""
        key = file_identity(path) or _real(path)
        if key in first_seen:
            plan.duplicates.append((path, first_seen[key]))
            return False
        first_seen[key] = path
        return True

    single_folder = len(inputs) == 1 and inputs[0].is_dir()
    for item in inputs:
        real = _real(item)
        if not item.is_dir():
            input_files.add(item)
            if not first_time(item):
                continue
            problem = _check_explicit(item)
            if problem:
                plan.failures.append((item, problem))
            elif file_mode:
                candidates.append((item, output.parent, output.stem, None))
            else:
                candidates.append((item, output, item.stem, item.suffix))
            continue
        if _inside(out_real, real):
            raise PlanError(f"the output folder lies inside the input folder {str(item)!r}, "
                            f"which is read recursively; choose an output folder outside "
                            f"it. Received: -o {str(output)!r}")
        base = output if single_folder else output / (real.name or "root")
        found = _walk(item, lambda reason, p: plan.skipped[reason].append(p),
                      lambda p, why: first_time(p) and plan.failures.append((p, why)),
                      input_files)
        for f in found:
            if first_time(f):
                rel = f.relative_to(item)
                candidates.append((f, base / rel.parent, rel.stem, rel.suffix))
    return candidates


def _name_outputs(candidates, output, suffix, out_ext, plan):
    """[(input, output file)]: ``<stem><suffix><ext>``, or ``<stem>_<input ext><suffix><ext>``
    for every input whose plain name another input shares."""

    def name(folder, stem, src_suffix, keep_ext):
        if src_suffix is None:  # file mode: -o is the name
            return folder / output.name
        tag = f"_{src_suffix.lstrip('.').lower()}" if keep_ext and src_suffix else ""
        return folder / f"{stem}{tag}{suffix}{out_ext}"

    sharing = defaultdict(int)
    for _src, folder, stem, src_suffix in candidates:
        sharing[name(folder, stem, src_suffix, False)] += 1
    jobs = []
    for src, folder, stem, src_suffix in candidates:
        clash = sharing[name(folder, stem, src_suffix, False)] > 1
        plan.renamed += clash
        jobs.append((src, name(folder, stem, src_suffix, clash)))
    return jobs


def _refuse_unsafe(jobs, input_files):
    """PlanError for two inputs on one output, or an output that is a file the command reads
    (by path, or by identity: a hard link, or another spelling on a case-insensitive disk)."""
    owners = {}
    for src, dst in jobs:
        if dst in owners:
            raise PlanError(f"two inputs would be written to one output file {str(dst)!r}: "
                            f"{str(owners[dst])!r} and {str(src)!r}; colorize them separately "
                            f"or rename one")
        owners[dst] = src
        try:
            input_files.check(dst, advice="choose another output folder, --suffix or --ext")
        except OutputIsInputError as e:
            raise PlanError(str(e)) from None
