"""SIGTERM and SIGHUP unwind the command line's work like Ctrl-C (finally blocks run)."""

import signal
import sys
import threading

import pytest

from bwcolor._console import Stopped, stops_unwind

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def test_sigterm_and_sighup_raise_stopped_inside_and_default_after():
    for signum in (signal.SIGTERM, signal.SIGHUP):
        assert signal.getsignal(signum) == signal.SIG_DFL
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


def test_someone_elses_handler_is_left_alone():
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


def test_outside_the_main_thread_nothing_is_installed():
    seen = []

    def work():
        with stops_unwind():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [signal.SIG_DFL]
