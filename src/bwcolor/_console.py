"""Messages and progress for the command line that never stop the job.

A person may pipe bwcolor into ``head`` (which closes the pipe early), close stderr, or run it
under a scheduler with no terminal. Writing to a closed stream raises ``BrokenPipeError`` or
``OSError``; here such a stream is dropped and the work goes on. A progress bar with an ETA is
drawn only on a terminal; elsewhere each item gets one plain line. A scheduler's stop (SIGTERM)
or a closed terminal (SIGHUP) unwinds the work like Ctrl-C, so nothing half-made stays behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

from bwcolor.data.report import printable

__all__ = ["Console", "Stopped", "ensure_standard_streams", "stops_unwind"]


class Stopped(KeyboardInterrupt):
    """The process was asked to stop by signal ``signum`` (SIGTERM or SIGHUP)."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise Stopped(signum)


@contextlib.contextmanager
def stops_unwind():
    """While inside, SIGTERM and SIGHUP raise :class:`Stopped` (a ``KeyboardInterrupt``) in the
    main thread instead of ending the process on the spot.

    Their default action kills the process without running ``finally`` blocks: a training run's
    temporary photo cache (gigabytes) and a half-written file's temporary would stay behind.
    Unwinding removes them, as Ctrl-C does; checkpoints and outputs already written are kept.
    Handlers installed by someone else (an embedding application) are left alone, and the
    previous handlers are put back on exit.
    """
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is not None and signal.getsignal(signum) == signal.SIG_DFL:
                previous[signum] = signal.signal(signum, _raise_stopped)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def ensure_standard_streams():
    """Open /dev/null on any of file descriptors 0-2 that is closed.

    A process started with stderr closed (``2>&-``) would otherwise hand fd 2 to the next file
    it opens (an output photo, say), and every library's C-level warning would be written into
    that file.
    """
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 (lives as long as the process)
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115


def _isatty(stream):
    try:
        return stream is not None and stream.isatty()
    except (OSError, ValueError):
        return False


class Console:
    """Writes to stdout / stderr that survive a closed pipe.

    Parameters
    ----------
    out, err : text streams, optional
        Default ``sys.stdout`` and ``sys.stderr`` at the time of writing.
    """

    def __init__(self, out=None, err=None):
        self._out, self._err = out, err
        self._dead = set()
        self._bar_shown = False

    def _stream(self, which):
        return (self._out or sys.stdout) if which == "out" else (self._err or sys.stderr)

    def _write(self, which, text):
        if which in self._dead:
            return
        stream = self._stream(which)
        try:
            stream.write(text)
            stream.flush()
        except (BrokenPipeError, OSError, ValueError):
            # The reader went away (`| head`) or the stream was closed: stop writing there,
            # and point the file descriptor at /dev/null so the interpreter's final flush
            # does not fail either.
            self._dead.add(which)
            try:
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, stream.fileno())
                os.close(null)
            except (OSError, ValueError, AttributeError):
                pass

    def print(self, text=""):
        """A line of results on stdout."""
        self._write("out", printable(text) + "\n")

    def log(self, text):
        """A line of messages on stderr (clears a progress bar first)."""
        self._clear_bar()
        self._write("err", printable(text) + "\n")

    @property
    def interactive(self):
        return "err" not in self._dead and _isatty(self._stream("err"))

    def _clear_bar(self):
        if self._bar_shown:
            self._write("err", "\r\033[K")
            self._bar_shown = False

    def progress(self, total, label=""):
        """A :class:`Progress` for ``total`` items."""
        return Progress(self, total, label)


class Progress:
    """``[ 12/30]  40%  0:00:18 left  name`` redrawn in place on a terminal; plain lines
    (one per finished item) otherwise."""

    def __init__(self, console, total, label=""):
        self.console, self.total, self.label = console, int(total), label
        self.done = 0
        self.start = time.monotonic()

    def _eta(self):
        if not self.done:
            return "--:--"
        left = (time.monotonic() - self.start) / self.done * (self.total - self.done)
        m, s = divmod(int(left + 0.5), 60)
        h, m = divmod(m, 60)
        return f"{h}:{m:02d}:{s:02d}"

    def advance(self, message, steps=1):
        """``steps`` items (one by default) finished; ``message`` describes the last."""
        self.done += steps
        width = len(str(self.total))
        head = f"[{self.done:>{width}}/{self.total}]"
        if self.console.interactive:
            pct = 100 * self.done // max(1, self.total)
            line = f"{head} {pct:3d}%  {self._eta()} left  {printable(message)}"
            columns = _terminal_columns()
            self.console._write("err", "\r\033[K" + line[: columns - 1])
            self.console._bar_shown = True
            if self.done >= self.total:
                self.console._clear_bar()
        else:
            self.console.log(f"{head} {message}")


def _terminal_columns():
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return 100
