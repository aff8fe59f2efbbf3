"""``omero-profile status``: for each profile, the sessions that serve it and whether they are alive.

Like ``gh auth status``: what is stored (``serving``), then, unless ``offline``, each stored
session joined by its key (checked to be the expected user's, detached, never ended), its user,
group, idle timeout and time left to live read from the server; children are found alive or
not in the list of their user's open sessions, asked from a live session of the same user (no
password is ever fetched). Joining a session counts as using it, so its idle time starts again:
the idle timeout is reported as such, not as time left. Every join is bounded by the profile
timeout, and once a server has not answered, its other sessions are not tried (each would wait
as long). A profile is *usable* when a session that serves it is alive (offline: stored and not
known to have expired).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .constants import PROG
from .errors import AuthenticationFailed, ProfileError, ServerUnreachable, SessionOfAnotherUser
from .model import Profile
from .serving import StoredRow, profile_user, stored_rows
from .sessionindex import SessionIndex, digest
from .sessionstore import SessionStore, store_dir

if TYPE_CHECKING:
    from .resolve import Config


@dataclass
class ProfileStatus:
    """What ``status`` found for one profile."""

    profile: str
    address: str
    source: str
    user: str | None
    rows: list[StoredRow]
    offline: bool
    error: str | None = None
    """Why the sessions could not be checked (the server did not answer), or the profile is invalid."""
    exit_code: int = 0
    checked_ms: float = 0.0

    @property
    def usable(self) -> bool:
        return self.exit_code == 0

    def as_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "address": self.address, "source": self.source, "user": self.user,
                "usable": self.usable, "exit_code": self.exit_code, "error": self.error, "offline": self.offline,
                "checked_ms": round(self.checked_ms, 1), "sessions": [r.as_json() for r in self.rows]}


@dataclass
class _Probe:
    """What joining one stored session told: alive or not, and about it."""

    alive: bool
    detail: dict[str, Any] = field(default_factory=dict)
    open_digests: set[str] | None = None
    """Digests of the user's open sessions (to tell whether children are alive), when asked for."""
    unreachable: ServerUnreachable | None = None


def profile_status(profile: Profile, *, offline: bool, store: SessionStore | None = None,
                   index: SessionIndex | None = None, seen: dict[str, _Probe] | None = None) -> ProfileStatus:
    """The sessions of ``profile`` and, unless ``offline``, whether each is alive. ``seen`` shares probes
    between profiles (a session serving two profiles is joined once)."""
    store = store or SessionStore()
    started = time.monotonic()
    rows = stored_rows(profile, store=store, index=index)
    result = ProfileStatus(profile.name, profile.url, profile.source, profile_user(profile, store), rows, offline)
    if not offline:
        _check_online(profile, rows, result, {} if seen is None else seen)
    serving = [r for r in rows if r.serves]
    if not any(r.alive is not False if offline else r.alive for r in serving):
        result.exit_code = 5 if result.error else 6
    result.checked_ms = (time.monotonic() - started) * 1000
    return result


def _check_online(profile: Profile, rows: list[StoredRow], result: ProfileStatus, seen: dict[str, _Probe]) -> None:
    children = [r for r in rows if r.kind == "child" and r.alive is None]
    listing: dict[str, set[str]] = {}
    for row in rows:
        if row.key is None or row.alive is False:
            continue
        if result.error is not None:
            row.detail["not_checked"] = "the server did not answer"
            continue
        want_list = any(c.user == row.user for c in children) and row.user not in listing
        probe = seen.get(row.digest or "")
        if probe is None or (want_list and probe.open_digests is None):
            probe = _probe(profile, row, want_list)
            seen[row.digest or ""] = probe
        if probe.unreachable is not None:
            result.error = str(probe.unreachable)
            row.detail["not_checked"] = "the server did not answer"
            continue
        row.alive = probe.alive
        row.detail.update(probe.detail)
        if probe.alive and probe.detail.get("group"):
            row.group = probe.detail["group"]
        if probe.open_digests is not None and row.user is not None:
            listing[row.user] = probe.open_digests
    for child in children:
        found = listing.get(child.user or "")
        if found is not None:
            child.alive = child.digest in found
        else:
            child.detail["not_checked"] = "no live session of its user to ask from"


def _probe(profile: Profile, row: StoredRow, want_list: bool) -> _Probe:
    """Join ``row``'s session (bounded by the profile timeout), read it, detach."""
    from .classify import no_answer
    from .credentials.base import Credentials
    from .deadline import DeadlineExceeded, run_bounded
    from .login import dispose, session_for

    assert row.key is not None
    key = row.key.get_secret_value()
    quiet = profile.model_copy(update={"keepalive": 0, "secure": True, "call_timeout": profile.timeout})
    credentials = Credentials(session_key=key, expected_user=row.user)
    ms = max(1, int(profile.timeout * 1000))

    def ask() -> _Probe:
        session = session_for(quiet, credentials, group=None)
        try:
            sf = session.client.getSession().ice_invocationTimeout(ms)
            ec = sf.getAdminService().ice_invocationTimeout(ms).getEventContext()
            service = sf.getSessionService().ice_invocationTimeout(ms)
            record = service.getSession(key)
            detail = _timing(record)
            detail.update(user=ec.userName, group=ec.groupName)
            opened = None
            if want_list:
                opened = {digest(s.getUuid().val) for s in service.getMyOpenSessions() if s.getUuid() is not None}
            return _Probe(True, detail, opened)
        except Exception as exc:
            from .classify import classify_call

            mapped = classify_call(exc, quiet, user=row.user, timeout=profile.timeout)
            if mapped is None:
                raise
            raise mapped from None
        finally:
            dispose(session.client, kill=False)

    try:
        return run_bounded(profile.timeout, ask, lambda late: None)
    except DeadlineExceeded:
        return _Probe(False, unreachable=no_answer(quiet, user=row.user, timeout=profile.timeout))
    except ServerUnreachable as exc:
        return _Probe(False, unreachable=exc)
    except SessionOfAnotherUser as exc:
        return _Probe(False, {"refused": f"it belongs to '{exc.found}', not '{exc.expected}': not used"})
    except AuthenticationFailed:
        return _Probe(False, {"ended": True})


def _timing(record: Any) -> dict[str, Any]:
    """Idle timeout, lifetime and time left to live of a session record (``omero.model.Session``)."""
    def value(name: str) -> Any:
        field_ = getattr(record, f"get{name}")()
        return getattr(field_, "val", None) if field_ is not None else None

    idle = (value("TimeToIdle") or 0) / 1000
    live = (value("TimeToLive") or 0) / 1000
    started = value("Started")
    detail: dict[str, Any] = {"time_to_idle_s": idle, "time_to_live_s": live}
    if live and started:
        detail["live_left_s"] = max(0.0, started / 1000 + live - time.time())
    return detail


def store_warnings() -> list[str]:
    """What is odd about the OMERO CLI's session store directory, from ``ownership``'s rules."""
    import os
    from pathlib import Path

    from .ownership import judge_directory

    directory = store_dir()
    verdict = judge_directory(Path(os.path.realpath(directory)))
    if verdict.refusal == "does not exist":
        return []
    if verdict.refusal is not None:
        return [f"the session store {directory} {verdict.refusal}: nothing in it is read or written "
                "(use OMERO_SESSIONDIR to choose a directory of your own)"]
    if verdict.group_writable:
        return [f"the session store {directory} is group-writable (the OMERO CLI makes it so under umask 002): "
                "a member of its group could plant a session file there; files other users own are ignored and "
                f"every session joined from it is checked to be the profile's user. To close it: chmod g-w "
                f"'{directory}'"]
    return []


def statuses(profiles: list[Profile], *, offline: bool) -> list[ProfileStatus]:
    """``profile_status`` for each, sharing one store, one index and the probes."""
    store, index, seen = SessionStore(), SessionIndex(), {}
    return [profile_status(p, offline=offline, store=store, index=index, seen=seen) for p in profiles]


def statuses_of(config: Config, names: list[str], *, offline: bool) -> list[ProfileStatus]:
    """``statuses`` of the named profiles, in order; one that does not resolve is ``invalid``."""
    profiles, broken = [], {}
    for name in names:
        try:
            profiles.append(config.resolve(name))
        except ProfileError as exc:
            broken[name] = invalid(name, exc)
    found = {s.profile: s for s in statuses(profiles, offline=offline)} | broken
    return [found[name] for name in names]


def failure(results: list[ProfileStatus]) -> ProfileError | None:
    """What ``status`` exits with: the first profile without a usable session decides the code."""
    failed = [r for r in results if not r.usable]
    if not failed:
        return None
    first = failed[0]
    if first.exit_code == 6:
        error = ProfileError(f"no usable session for: {', '.join(r.profile for r in failed)}",
                             hint=f"{PROG} login {first.profile}   (or `omero login`, for an omero-login profile)")
    else:
        error = ProfileError(first.error or f"profile '{first.profile}': no usable session")
    error.exit_code = first.exit_code
    return error


def invalid(name: str, exc: ProfileError) -> ProfileStatus:
    """A profile that cannot be resolved, as a status row with its exit code."""
    return ProfileStatus(name, "", "", None, [], offline=True, error=str(exc), exit_code=exc.exit_code)
