"""run_bounded: results, errors, deadlines, and late results that must not leak."""

from __future__ import annotations

import threading
import time

import pytest

from omeroprofiles.deadline import DeadlineExceeded, run_bounded, track


class FakeCommunicator:
    """Stands in for an Ice communicator only to observe destroy(); omero-py is not involved."""

    def __init__(self, release: threading.Event) -> None:
        self.release = release
        self.destroyed = False

    def destroy(self) -> None:
        self.destroyed = True
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
    assert communicator.destroyed
    assert finished.wait(2)
    time.sleep(0.05)
    assert discarded == ["late session"]


def test_track_outside_a_bounded_call_is_a_no_op():
    track(object())
