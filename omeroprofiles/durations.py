"""Durations as people write them (``--idle 2h``, ``--ttl 7d``) and as the CLI says them back.

No omero or pydantic: ``login`` and ``env --session`` parse their options before connecting.
"""

from __future__ import annotations

import re
import time

from .errors import ConfigError
from .text import printable

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([smhdw]?)\s*")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

MIN_DURATION = 1.0
"""Shortest --idle/--ttl accepted, in seconds."""
MAX_DURATION = 100 * 365 * 86400
"""Longest --idle/--ttl accepted (100 years): the server takes milliseconds as a 64-bit integer."""


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``30m``, ``2h``, ``7d`` or ``1w``; ConfigError otherwise.

    At least one second: the server counts in whole milliseconds and reads 0 as "no limit", so
    ``--ttl 0.0000001`` would silently mean the opposite of what was asked (omit the option for
    no limit).
    """
    found = _DURATION.fullmatch(text)
    if not found:
        raise ConfigError(f"'{printable(text)}' is not a duration (use e.g. 90s, 30m, 2h, 7d)")
    seconds = float(found.group(1)) * _UNIT[found.group(2)]
    if seconds < MIN_DURATION:
        raise ConfigError(f"'{printable(text)}' is shorter than one second: give at least 1s "
                          "(leave the option out for no limit)")
    if seconds > MAX_DURATION:
        raise ConfigError(f"'{printable(text)}' is too long a duration (at most 100 years)")
    return seconds


def optional_duration(text: str | None) -> float | None:
    """``parse_duration`` of an option that may not have been given (None)."""
    return None if text is None else parse_duration(text)


def spoken(seconds: float) -> str:
    """``2 h``, ``7 d``, ``90 s``: the largest unit that divides ``seconds`` exactly."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def expires_at(time_to_live_s: float) -> str | None:
    """When a session made now with this lifetime ends (local time, ISO 8601); None for no limit."""
    if not time_to_live_s:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(time.time() + time_to_live_s))


def limits(time_to_idle_s: float, time_to_live_s: float) -> str:
    """``idle timeout 2 h, expires 2026-...``: a session's two limits in words (0 means none)."""
    return ", ".join([f"idle timeout {spoken(time_to_idle_s)}" if time_to_idle_s else "no idle timeout",
                      f"expires {expires_at(time_to_live_s)}" if time_to_live_s else "no time limit"])
