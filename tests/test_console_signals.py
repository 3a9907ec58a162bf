"""SIGTERM and SIGHUP unwind the command line's work like Ctrl-C (finally blocks run)."""

import signal
import sys
import threading

import pytest

from bwcolor._console import Stopped, stops_unwind

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


@pytest.fixture
def default_handlers():
    """SIGTERM and SIGHUP at their defaults (under nohup SIGHUP starts ignored), put back after."""
    saved = {s: signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_sigterm_and_sighup_raise_stopped_inside_and_default_after(default_handlers):
    for signum in (signal.SIGTERM, signal.SIGHUP):
        cleaned = []
        with pytest.raises(Stopped) as info, stops_unwind():
            try:
                signal.raise_signal(signum)
                pytest.fail("the signal did not interrupt")
            finally:
                cleaned.append(True)
        assert info.value.signum == signum and isinstance(info.value, KeyboardInterrupt)
        assert cleaned == [True]
        assert signal.getsignal(signum) == signal.SIG_DFL


def test_an_ignored_signal_stays_ignored(default_handlers):
    """Under nohup SIGHUP is ignored: closing the terminal must not stop the job."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    with stops_unwind():
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        signal.raise_signal(signal.SIGHUP)  # nothing happens
    assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN


def test_someone_elses_handler_is_left_alone(default_handlers):
    def theirs(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, theirs)
    try:
        with stops_unwind():
            assert signal.getsignal(signal.SIGTERM) is theirs
            assert signal.getsignal(signal.SIGHUP) != signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is theirs
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_outside_the_main_thread_nothing_is_installed(default_handlers):
    seen = []

    def work():
        with stops_unwind():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [signal.SIG_DFL]
