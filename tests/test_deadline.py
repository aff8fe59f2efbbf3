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
            self.blocks_until.wait(10)
        self.destroyed.set()
        self.release.set()


def test_result_and_error_pass_through():
    assert run_bounded(1, lambda: 42, lambda _: None) == 42
    with pytest.raises(KeyError):
        run_bounded(1, lambda: {}["x"], lambda _: None)


def test_deadline_destroys_tracked_communicators_and_discards_a_late_result():
    release = threading.Event()
    communicator = FakeCommunicator(release)
    discarded: list[str] = []
    finished = threading.Event()

    def slow() -> str:
        track(communicator)
        release.wait(5)
        finished.set()
        return "late session"

    def discard(value: str) -> None:
        discarded.append(value)

    started = time.monotonic()
    with pytest.raises(DeadlineExceeded, match="no answer within 0.3 s"):
        run_bounded(0.3, slow, discard)
    assert time.monotonic() - started < 1.5
    assert communicator.destroyed.wait(2)
    assert finished.wait(2)
    wait_for_cleanups()
    assert discarded == ["late session"]
    assert pending_cleanups() == 0


def test_the_caller_never_waits_for_a_destroy_that_blocks():
    call_ended = threading.Event()
    communicator = FakeCommunicator(threading.Event(), blocks_until=call_ended)

    def login() -> str:
        track(communicator)
        time.sleep(1.0)  # the pending call ends by its own invocation timeout, later
        call_ended.set()
        raise TimeoutError("invocation timeout")

    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        run_bounded(0.3, login, lambda _: None)
    assert time.monotonic() - started < 0.6  # not the 1 s the destroy takes
    assert not communicator.destroyed.is_set() and pending_cleanups() == 1
    wait_for_cleanups()  # what runs at interpreter exit
    assert communicator.destroyed.is_set() and pending_cleanups() == 0


def test_waiting_for_clean_ups_at_exit_is_bounded():
    never = threading.Event()
    communicator = FakeCommunicator(threading.Event(), blocks_until=never)

    def login() -> None:
        track(communicator)
        never.wait(10)

    with pytest.raises(DeadlineExceeded):
        run_bounded(0.2, login, lambda _: None)
    started = time.monotonic()
    wait_for_cleanups()
    assert time.monotonic() - started < 0.2 + CLEANUP_MARGIN + 0.5
    never.set()  # let the stuck threads end
    deadline = time.monotonic() + 2
    while pending_cleanups() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert pending_cleanups() == 0


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
    assert inside.destroyed.wait(2)
    wait_for_cleanups()
    assert not outsider.destroyed.is_set()
