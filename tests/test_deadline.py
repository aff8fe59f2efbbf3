"""run_bounded: results, errors, deadlines, late results that must not leak, and a caller that
never waits for the clean-up (Ice 3.6's destroy() can block)."""

from __future__ import annotations

import threading
import time

import pytest

from omeroprofiles.deadline import (
    CLEANUP_MARGIN,
    DeadlineExceeded,
    pending_cleanups,
    run_bounded,
    track,
    wait_for_cleanups,
)


class FakeCommunicator:
    """Stands in for an Ice communicator only to observe destroy(); omero-py is not involved.

    ``destroy`` waits for ``blocks_until`` first (if given): Ice 3.6 blocks the same way while a
    thread is inside ``createObjectAdapterWithRouter``, until that thread's call ends by itself.
    """

    def __init__(self, release: threading.Event, blocks_until: threading.Event | None = None) -> None:
        self.release = release
        self.blocks_until = blocks_until
        self.destroyed = threading.Event()

    def destroy(self) -> None:
        if self.blocks_until is not None:
            self.blocks_until.wait(60)
        self.destroyed.set()
        self.release.set()


def test_result_and_error_pass_through():
    assert run_bounded(1, lambda: 42, lambda _: None) == 42
    with pytest.raises(KeyError):
        run_bounded(1, lambda: {}["x"], lambda _: None)


def test_deadline_destroys_tracked_communicators_and_discards_a_late_result():
    """The attempt ends only when its communicator is destroyed, which happens only after the
    deadline: so it was the deadline that ended the wait, not the attempt (no clock needed)."""
    release = threading.Event()
    communicator = FakeCommunicator(release)
    discarded: list[str] = []
    released_by_destroy: list[bool] = []

    def slow() -> str:
        track(communicator)
        released_by_destroy.append(release.wait(60))  # False only if nothing destroyed it for 60 s
        return "late session"

    def discard(value: str) -> None:
        discarded.append(value)

    with pytest.raises(DeadlineExceeded, match="no answer within 0.3 s"):
        run_bounded(0.3, slow, discard)
    assert communicator.destroyed.wait(30)
    wait_for_cleanups()
    assert released_by_destroy == [True]
    assert discarded == ["late session"]
    assert pending_cleanups() == 0


def test_the_caller_never_waits_for_a_destroy_that_blocks():
    """The pending call ends (and with it the blocked destroy) only when the test says so, after
    run_bounded returned: a caller that waited for the destroy would be back only after the call
    ended, so ``call_ended`` would be set."""
    call_ended = threading.Event()
    end_the_call = threading.Event()
    communicator = FakeCommunicator(threading.Event(), blocks_until=call_ended)

    def login() -> str:
        track(communicator)
        end_the_call.wait(30)  # the pending call ends by its own invocation timeout, later
        call_ended.set()
        raise TimeoutError("invocation timeout")

    with pytest.raises(DeadlineExceeded):
        run_bounded(0.3, login, lambda _: None)
    assert not call_ended.is_set(), "run_bounded waited for the blocked destroy"
    assert not communicator.destroyed.is_set() and pending_cleanups() == 1
    end_the_call.set()
    wait_for_cleanups()  # what runs at interpreter exit
    assert communicator.destroyed.wait(30)
    assert _no_cleanup_pending()


def test_waiting_for_clean_ups_at_exit_is_bounded():
    never = threading.Event()
    communicator = FakeCommunicator(threading.Event(), blocks_until=never)

    def login() -> None:
        track(communicator)
        never.wait(60)

    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        run_bounded(0.2, login, lambda _: None)
    wait_for_cleanups()
    # It gave up on the stuck clean-up (still running: its destroy never returns), not before the
    # clean-up's own bound (the attempt's 0.2 s + CLEANUP_MARGIN from the deadline, 0.2 s in).
    assert pending_cleanups() == 1
    assert time.monotonic() - started >= 0.2 + 0.2 + CLEANUP_MARGIN
    never.set()  # let the stuck threads end
    assert _no_cleanup_pending()


def test_track_outside_a_bounded_call_is_a_no_op():
    """A communicator tracked outside any bounded call belongs to nobody's attempt: never destroyed."""
    outsider = FakeCommunicator(threading.Event())
    track(outsider)
    release = threading.Event()
    inside = FakeCommunicator(release)

    def stuck() -> None:
        track(inside)
        release.wait(5)

    with pytest.raises(DeadlineExceeded):
        run_bounded(0.2, stuck, lambda _: None)
    assert inside.destroyed.wait(30)
    wait_for_cleanups()
    assert not outsider.destroyed.is_set()


def _no_cleanup_pending(patience: float = 30) -> bool:
    """Whether every clean-up has ended, waiting up to ``patience`` s (a hang guard, not a speed claim)."""
    deadline = time.monotonic() + patience
    while pending_cleanups() and time.monotonic() < deadline:
        time.sleep(0.02)
    return pending_cleanups() == 0
