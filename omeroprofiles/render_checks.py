"""Text for ``status`` and ``doctor`` (their commands gather JSON-ready data; this turns it into lines)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from .text import printable


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 5 min``, ``6 d 23 h``: short, rounded down to the two largest units."""
    seconds = int(max(0.0, seconds))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def _state(row: dict[str, Any], offline: bool) -> str:
    if row.get("refused"):
        return f"refused: {row['refused']}"
    if row.get("alive") is True:
        return "alive"
    if row.get("alive") is False:
        if row.get("expires") and row["expires"] < time.time():
            return "expired " + time.strftime("%Y-%m-%d %H:%M", time.localtime(row["expires"]))
        return "ended"
    if row.get("not_checked"):
        return f"not checked ({row['not_checked']})"
    return "stored (offline: not checked)" if offline else "unknown"


def _limits(row: dict[str, Any]) -> str:
    parts = []
    if row.get("time_to_idle_s") is not None:
        idle = row["time_to_idle_s"]
        parts.append(f"idle timeout {duration(idle)} (from now: this check used it)" if idle else "no idle timeout")
    if row.get("live_left_s") is not None:
        parts.append(f"lives {duration(row['live_left_s'])} more")
    elif row.get("time_to_live_s") == 0:
        parts.append("no time limit")
    elif row.get("expires") and row["expires"] > time.time():
        parts.append(f"lives {duration(row['expires'] - time.time())} more")
    return "; ".join(parts)


def status_lines(statuses: Iterable[dict[str, Any]], warnings: Iterable[str]) -> list[str]:
    lines: list[str] = []
    for status in statuses:
        if lines:
            lines.append("")
        head = f"{status['profile']}"
        if status["address"]:
            who = f", user '{status['user']}'" if status["user"] else ""
            head += f" ({status['address']}; source {status['source']}{who})"
        lines.append(printable(head))
        for row in status["sessions"]:
            who = row["user"] or "?"
            group = f", group {row['group']}" if row.get("group") else ""
            su = f", su by {row['su_by']}" if row.get("su_by") else ""
            mark = "*" if row["serves"] else "-"
            text = f"  {mark} {row['label']} of {who}{group}{su}: {_state(row, status['offline'])}"
            limits = _limits(row) if row.get("alive") is not False else ""
            lines.append(printable(text + (f"; {limits}" if limits else "")))
            lines.append(printable(f"      {row['made_by']}; {row['where']}"))
            if row.get("user_token"):
                lines.append(printable(f"      also in the user token {row['user_token']}"))
        if status["error"]:
            lines.append(printable(f"  ! {status['error']}"))
        if not status["sessions"] and not status["error"]:
            lines.append("  no stored session")
        verdict = "usable session: yes" if status["usable"] else "usable session: no"
        lines.append(f"  {verdict}")
    for warning in warnings:
        lines.append(printable(f"warning: {warning}"))
    return lines


def doctor_heading(report: dict[str, Any]) -> str:
    return printable(f"doctor: profile '{report['profile']}' ({report['address'] or 'not resolved'})")


def doctor_step_lines(step: dict[str, Any]) -> list[str]:
    """One step: status, title, time, what was found; then its notes, indented."""
    ms = f"{step['ms']:8.1f} ms" if step["ms"] is not None else " " * 11
    lines = [printable(f"  {step['status']:<5} {step['title']:<17} {ms}  {step['detail']}")]
    lines += [printable(f"{'':38}{note}") for note in step.get("notes", [])]
    return lines


def doctor_summary(report: dict[str, Any]) -> str:
    if report["exit_code"]:
        return f"result: failed (exit {report['exit_code']}); next: {report['next'] or 'see the step above'}"
    warnings = report["warnings"]
    return "result: ok" + (f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else "")
