"""Atomic file writes: the one way bwcolor puts a file (or folder) under its final name; and the
one check that a file about to be written is none of the files the command reads
(:class:`InputFiles`).

Every writer (colorized photos, plots, checkpoints, ``state.json``, presets, the photo cache)
writes a temporary file beside the target, flushes and fsyncs it, then renames it into place,
so a crash, a kill or a full disk leaves either the old file or the new one, never half of one.

Temporary names are short (they fit in NAME_MAX whatever the final name is), unique, and say
which host and process own them: ``.bwcolor-<host>-<pid>-<random>.tmp<suffix>``. Stale ones are
removed only when their owner is known to be dead, so two bwcolor processes working in one
folder never delete each other's files; nothing else is ever removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import socket
import uuid
from pathlib import Path

__all__ = ["InputFiles", "OutputIsInputError", "atomic_path", "atomic_write", "atomic_write_json",
           "file_identity", "remove_stale_temp_files", "same_file", "temp_name", "temporary_folder"]

_PREFIX = ".bwcolor-"
_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "surrogateescape")).hexdigest()[:6]
# Only names of exactly this shape are ever considered ours.
_TEMP_RE = re.compile(r"^\.bwcolor-([0-9a-f]{6})-(\d+)-[0-9a-f]{8}\.tmp(\.[A-Za-z0-9]{1,12})?$")


def temp_name(suffix=""):
    """A unique temporary file name (no folder) owned by this process.

    ``suffix`` (e.g. ``".keras"``, ``".png"``) is kept so writers that pick a format from the
    name still work; it is dropped when it is not a short plain extension.
    """
    if not re.fullmatch(r"\.[A-Za-z0-9]{1,12}", suffix or ""):
        suffix = ""
    return f"{_PREFIX}{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp{suffix}"


def file_identity(path):
    """(device, inode) of an existing file, or None: the same for every name of one file (a
    symlink, a hard link, another spelling on a case-insensitive disk), so writers can refuse to
    replace an input under any of its names."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    # 0: a file system without file numbers (some network shares on Windows), where every file
    # would look the same; callers then compare paths.
    return (st.st_dev, st.st_ino) if st.st_ino else None


def same_file(a, b):
    """Whether paths ``a`` and ``b`` name one existing file: by :func:`file_identity`, or by
    real path where a file system gives no identity."""
    ident = file_identity(a)
    if ident is not None:
        return ident == file_identity(b)
    return os.path.exists(a) and os.path.realpath(a) == os.path.realpath(b)


class OutputIsInputError(ValueError):
    """An output would be written over (or into) a file or folder the command reads."""


class InputFiles:
    """What one command reads (photos, a model's files, a hints file, a data folder), so that no
    output is ever written over any of it, ``--overwrite`` or not.

    Files are known by real path (``.``, ``..`` and symbolic links resolved) and by
    :func:`file_identity` (a hard link, another spelling on a case-insensitive disk); a folder
    added with :meth:`add` counts with everything under it.

    Examples
    --------
    >>> reads = InputFiles(["photo.jpg", "preset/model.weights.h5"])   # doctest: +SKIP
    >>> reads.check("preset/model.weights.h5", advice="choose another -o")  # doctest: +SKIP
    Traceback (most recent call last):
    OutputIsInputError: ...
    """

    def __init__(self, paths=()):
        self._files, self._folders, self._ids = {}, {}, {}
        for path in paths:
            self.add(path)

    def add(self, path):
        """Count ``path`` (a file, or a folder with everything under it) as read."""
        real = os.path.realpath(path)
        if os.path.isdir(real):
            self._folders.setdefault(real, path)
            return
        self._files.setdefault(real, path)
        ident = file_identity(path)
        if ident is not None:
            self._ids.setdefault(ident, path)

    def find(self, output):
        """``(input, how)`` when writing ``output`` (a file, or a folder that is replaced whole)
        would write over something read, else None. ``input`` is the path as it was added;
        ``how`` is ``""`` (the same path), ``" under another name (a hard link)"``, ``" (it lies
        inside that folder)"`` or ``" (it lies inside the output)"``."""
        real = os.path.realpath(output)
        if real in self._files:
            return self._files[real], ""
        ident = file_identity(output)
        if ident is not None and ident in self._ids:
            return self._ids[ident], " under another name (a hard link)"
        for folder, given in self._folders.items():
            if _inside(real, folder):
                return given, "" if real == folder else " (it lies inside that folder)"
        for read in (*self._files, *self._folders) if os.path.isdir(real) else ():
            if _inside(read, real):
                return (self._files.get(read) or self._folders[read]), " (it lies inside the output)"
        return None

    def check(self, output, *, advice):
        """Raise :class:`OutputIsInputError` when :meth:`find` finds ``output`` among the inputs;
        the message names both and ends with ``advice`` (what to do instead)."""
        found = self.find(output)
        if found is not None:
            given, how = found
            raise OutputIsInputError(f"the output {str(output)!r} would overwrite the input "
                                     f"{str(given)!r}{how}; {advice} (--overwrite never "
                                     f"replaces an input: a photo, a model's files, a hints file)")


def _inside(path, folder):
    """Whether real path ``path`` is real path ``folder`` or lies under it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _fsync_folder(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on folders; the rename is still atomic
        pass
    finally:
        os.close(fd)


def _remove_quietly(path):
    """Remove a file or folder tree of ours; False if it could not be (gone, or not ours to
    remove: another user's in a shared temp folder)."""
    try:
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil

            shutil.rmtree(path)
        else:
            os.remove(path)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def atomic_path(path, *, fsync=True):
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    For writers that need a file name (``keras.Model.save``, h5py, Pillow): write to the
    yielded path. On any exception the temporary file is removed and ``path`` is untouched.

    Examples
    --------
    >>> with atomic_path("run/last.keras") as tmp:          # doctest: +SKIP
    ...     model.save(tmp)
    """
    path = Path(path)
    tmp = path.with_name(temp_name(path.suffix))
    try:
        yield tmp
        if fsync and tmp.is_file():
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        _remove_quietly(tmp)
        raise
    if fsync:
        _fsync_folder(path.parent)


@contextlib.contextmanager
def atomic_write(path, mode="wb", *, encoding=None, newline=None):
    """Open a temporary file beside ``path`` for writing; rename it to ``path`` on success.

    The file gets the user's usual permissions (0666 less the umask), not the private 0600 of
    :func:`tempfile.mkstemp`: outputs are for the user to share.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w'. Received: mode={mode!r}")
    with atomic_path(path, fsync=False) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
    _fsync_folder(Path(path).parent)


def atomic_write_json(path, obj):
    """Write ``obj`` as indented, key-sorted JSON (one trailing newline), atomically."""
    text = json.dumps(obj, indent=2, sort_keys=True) + "\n"
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


#: Encoder options of colorized photos by Pillow format; PNG at zlib level 1 is ~5x faster than
#: the default 6 for ~10% larger files.
IMAGE_OPTIONS = {"JPEG": {"quality": 95}, "PNG": {"compress_level": 1}, "WEBP": {"quality": 95}}


def write_image(rgb, path):
    """Write a uint8 photo atomically, in the format its suffix names (PNG when Pillow knows no
    format for it), creating its folder: the one encoder of every colorized photo, so that
    ``bwcolor colorize`` and its Ray job write the same bytes."""
    from PIL import Image

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = Image.registered_extensions().get(path.suffix.lower(), "PNG")  # Pillow's own table
    with atomic_write(path) as f:
        Image.fromarray(rgb).save(f, format=fmt, **IMAGE_OPTIONS.get(fmt, {}))


def _alive(pid):
    """Whether process ``pid`` exists on this host; True when that cannot be told."""
    if os.name != "posix":
        # On Windows os.kill(pid, 0) would *terminate* the process (TerminateProcess): never
        # probe there, so stale files stay until removed by hand.
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # exists, owned by someone else; or not a pid
        return True
    return not _zombie(pid)


def _zombie(pid):
    """Whether ``pid`` has exited and only waits to be reaped (Linux's /proc; else False): a
    killed worker whose parent has not reaped it yet writes nothing more."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return False


def temporary_folder(parent):
    """Create and return a new empty folder in ``parent`` named by :func:`temp_name` (so
    :func:`remove_stale_temp_files` removes it once its process has died, e.g. after a kill),
    after removing such folders and files that dead processes left there. Only the owner may
    read it (0700). The caller removes it when done (``shutil.rmtree``)."""
    remove_stale_temp_files(parent)
    path = Path(parent) / temp_name(".dir")
    os.mkdir(path, 0o700)
    return path


def remove_stale_temp_files(folder):
    """Remove bwcolor temporary files in ``folder`` left by dead processes on this host.

    Files of live processes, of other hosts (a shared network folder) and every file not named
    by :func:`temp_name` are left alone. Returns the number removed.
    """
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMP_RE.match(entry.name)
        if not match or match.group(1) != _HOST:
            continue
        pid = int(match.group(2))
        if pid == os.getpid() or _alive(pid):
            continue
        removed += _remove_quietly(entry.path)
    return removed
