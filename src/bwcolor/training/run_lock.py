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
    made = []
    folder = run
    while not folder.exists() and folder.parent != folder:
        made.append(folder)
        folder = folder.parent
    run.mkdir(parents=True, exist_ok=True)
    path = run / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    ours = False  # the file is this process's to remove: locked, or no locking here
    try:
        ours = True
        if _try_lock(fd):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        yield
    except _Taken:
        ours = False  # the holder's file
        raise _Taken.error(path, run) from None
    finally:
        if ours:
            with contextlib.suppress(OSError):
                os.remove(path)  # before unlocking: the next fit makes its own
        os.close(fd)
        for folder in made:  # deepest first; one with anything in it stays
            with contextlib.suppress(OSError):
                folder.rmdir()


class _Taken(Exception):
    """Another process holds the run folder."""

    @staticmethod
    def error(path, run):
        try:
            owner = path.read_text(encoding="utf-8").strip() or "unknown"
        except OSError:
            owner = "unknown"
        return ValueError(f"the run folder is in use by another training (process {owner}); "
                          f"wait for it to finish, or train into another folder. "
                          f"Received: checkpoint_dir={str(run)!r}")


def _try_lock(fd):
    """True when locked; False when locking is not available here; _Taken when held."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _Taken from None
    except OSError:  # ENOLCK and the like: a file system without locks
        return False
    return True
