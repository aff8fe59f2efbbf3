"""Upper bounds on elapsed time that hold on a busy machine too.

Tests make no absolute wall-clock claims (a loaded 2-core machine runs everything 2-3x slower).
A fault test must still show that a call ends "within the profile timeout + a little" (the
guide's promise). The timeout is the code's own clock and does not stretch; "a little" is CPU
work around it (profile loading, creating and destroying an Ice communicator, classifying the
error, process start-up), which a busy machine stretches. So the little is not a fixed number of
seconds but grows with a *baseline*: the same kind of work without the fault, measured in the
same test, on this machine, now. On an idle machine the bound is what it always was.

The regressions these bounds catch (waiting for a second timeout, for Ice's blocking destroy,
for a call's much longer invocation timeout, forever) cost at least a whole timeout more.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SLACK_PER_BASELINE = 3.0
"""How many baselines the work around a timeout may take (it is about one; three absorbs a burst)."""


class Pace:
    """How long the work around a timeout takes here and now: the slowest baseline measured."""

    def __init__(self) -> None:
        self.samples: list[float] = []

    def measure(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` (an exception it raises is returned) and record how long it took."""
        started = time.monotonic()
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - a baseline may be a quick, expected failure
            result = exc
        self.samples.append(time.monotonic() - started)
        return result

    def record(self, seconds: float) -> None:
        """A baseline the test timed itself (e.g. a connect it needs anyway)."""
        self.samples.append(seconds)

    def bound(self, limit: float, idle_slack: float) -> float:
        """``limit`` (a timeout the code promises to keep) plus the slack for the work around it:
        ``idle_slack`` seconds on an idle machine, more when the baselines show a busy one."""
        assert self.samples, "measure a baseline first"
        return limit + max(idle_slack, SLACK_PER_BASELINE * max(self.samples))

    def check(self, elapsed: float, limit: float, idle_slack: float, what: str = "the call") -> None:
        bound = self.bound(limit, idle_slack)
        assert elapsed <= bound, (f"{what} took {elapsed:.2f} s: more than the {limit:g} s limit + slack "
                                  f"({bound:.2f} s in all; baselines {', '.join(f'{s:.2f}' for s in self.samples)} s)")
