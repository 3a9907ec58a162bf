"""One fit at a time per run folder: a second one (a command started twice, a scheduler's retry
while the first still runs) is refused at once instead of interleaving its checkpoints,
``state.json`` and ``history.csv`` with the first's.

The lock is an advisory ``flock`` on ``<run>/.bwcolor-run.lock`` (holding the owner's pid), so
the operating system releases it when its process dies, even by SIGKILL: no stale lock ever
needs removing by hand. Where ``flock`` does not exist (Windows) or the file system refuses it
(some network mounts), fit goes on unlocked.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

LOCK_FILE = ".bwcolor-run.lock"


def missing_folders(path):
    """The folders from ``path`` up that do not exist yet, deepest first (empty if it exists)."""
    missing = []
    while not path.exists() and path.parent != path:
        missing.append(path)
        path = path.parent
    return missing


@contextlib.contextmanager
def run_lock(run):
    """Hold ``run`` (a Path, or None for no folder) for this process while inside.

    Makes the folder if it is missing; on the way out removes the lock file, and the folders it
    made if they are still empty (a fit that failed before its first checkpoint leaves nothing).

    Raises
    ------
    ValueError
        When another process holds the folder, naming it and its pid.
    """
    if run is None:
        yield
        return
    run = Path(run)
    made = missing_folders(run)
    run.mkdir(parents=True, exist_ok=True)
    path = run / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if _try_lock(fd, path, run):  # a held folder raises here: its file is the holder's
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
    except BaseException:
        _release(fd, made)
        raise
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.remove(path)  # before unlocking: the next fit makes its own
        _release(fd, made)


def _release(fd, made):
    os.close(fd)
    for folder in made:  # deepest first; one with anything in it stays
        with contextlib.suppress(OSError):
            folder.rmdir()


def _try_lock(fd, path, run):
    """True when locked; False when locking is not available here; ValueError when another
    process holds the folder."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            owner = path.read_text(encoding="utf-8").strip() or "unknown"
        except OSError:
            owner = "unknown"
        raise ValueError(f"the run folder is in use by another training (process {owner}); "
                         f"wait for it to finish, or train into another folder. "
                         f"Received: checkpoint_dir={str(run)!r}") from None
    except OSError:  # ENOLCK and the like: a file system without locks
        return False
    return True
