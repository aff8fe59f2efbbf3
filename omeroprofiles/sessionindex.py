"""Which sessions omero-profiles made, for which profile: what ``logout NAME`` ends and sharing joins.

A small tool-owned file, ``sessions.toml`` in our state directory (0600, written whole under a
lock), one entry per session we made: its kind (``login``, ``shared``, ``child``), the profile,
server, user, the group it was made for and the one it was made in, who made it (an
administrator, for su), when, and a digest of its key. Never the key itself: the only copy of a
stored session's key stays in the OMERO CLI's store, and a child's with the program it was
handed to. ``logout NAME`` ends exactly these; sharing joins only sessions made for the same
share key, so a session made for another group, or by ``omero login`` and then switched with
``omero sessions group``, never carries a profile's work into the wrong group.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from .files import tomllib
from .filesystem import Unusable, read_regular
from .locations import user_state_dir
from .ownership import our_regular_file
from .writing import atomic_write, locked

log = logging.getLogger(__name__)

KINDS = ("login", "shared", "child")
MAX_ENTRIES = 2000
"""Oldest entries beyond this are dropped: the file stays small however long it is used."""
MAX_BYTES = 1024 * 1024


def digest(key: str) -> str:
    """What the index keeps of a session key: enough to recognise it, nothing to use it with."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ShareKey:
    """What makes two connections the same shared session: server, user, group, and su or not."""

    host: str
    port: int
    user: str
    group: str | int | None
    su: bool


@dataclass(frozen=True)
class Made:
    """One session omero-profiles made."""

    digest: str
    kind: str
    profile: str
    host: str
    port: int
    user: str
    group: str | int | None = None
    """The profile's ``group`` when it was made (name, id, -1), None for the default group."""
    group_id: int | None = None
    """The group the session was made in (a joiner checks it is still there)."""
    su_by: str | None = None
    created: float = 0.0
    store: str | None = None
    """The OMERO CLI store it was written to (``login``, ``shared``)."""
    token: str | None = None
    """The omero-user-token file it was written to (``login --user-token``)."""
    expires: float | None = None
    """When it ends at the latest, if its lifetime is known (children)."""

    @property
    def share_key(self) -> ShareKey:
        return ShareKey(self.host, self.port, self.user, self.group, self.su_by is not None)

    def describe(self) -> str:
        """Who made it and how, for ``logout``'s report."""
        how = {"login": "omero-profile login", "shared": "share_session",
               "child": "omero-profile env --session"}.get(self.kind, self.kind)
        by = f", su by '{self.su_by}'" if self.su_by else ""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.created)) if self.created else "?"
        return f"{how} for profile '{self.profile}'{by}, {when}"


def _entry(data: Any) -> Made | None:
    if not isinstance(data, dict):
        return None
    try:
        made = Made(**{k: v for k, v in data.items() if k in Made.__dataclass_fields__})
    except TypeError:
        return None
    ok = (isinstance(made.digest, str) and made.kind in KINDS and isinstance(made.profile, str)
          and isinstance(made.host, str) and isinstance(made.port, int) and isinstance(made.user, str))
    return made if ok else None


class SessionIndex:
    """The index at ``path`` (default: ``sessions.toml`` in our state directory)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or user_state_dir() / "sessions.toml"

    def entries(self) -> list[Made]:
        """Every entry, newest first. A missing, foreign or damaged file reads as empty (said under --debug)."""
        if not self.path.exists():
            return []
        if not our_regular_file(self.path):
            log.debug("session index %s ignored: not a regular file of ours", self.path)
            return []
        try:
            raw = read_regular(self.path, MAX_BYTES)
            data = tomllib.loads(raw.decode("utf-8")) if raw is not None else {}
        except (Unusable, OSError, tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
            log.debug("session index %s ignored: %s", self.path, type(exc).__name__)
            return []
        rows = data.get("session") if isinstance(data.get("session"), list) else []
        return [made for made in map(_entry, rows) if made is not None]

    def add(self, made: Made) -> None:
        with locked(self.path):
            kept = [m for m in self.entries() if m.digest != made.digest]
            self._write([made, *kept][:MAX_ENTRIES])

    def forget(self, digests: Iterable[str]) -> None:
        gone = set(digests)
        if not gone:
            return
        with locked(self.path):
            entries = self.entries()
            kept = [m for m in entries if m.digest not in gone]
            if len(kept) != len(entries):
                self._write(kept)

    def of_profile(self, name: str, host: str, port: int) -> list[Made]:
        return [m for m in self.entries() if m.profile == name and m.host == host and m.port == port]

    def sharing(self, key: ShareKey) -> dict[str, Made]:
        """Stored sessions (``login``, ``shared``) made for ``key``, by digest."""
        return {m.digest: m for m in self.entries() if m.kind != "child" and m.share_key == key}

    def _write(self, entries: list[Made]) -> None:
        import tomli_w

        rows = [{k: v for k, v in asdict(m).items() if v is not None} for m in entries]
        atomic_write(self.path, "# omero-profiles: sessions it made (digests of their keys, never a key)\n"
                     + tomli_w.dumps({"session": rows}), new_mode=0o600, private=True)


def made_now(**fields: Any) -> Made:
    return replace(Made(**fields), created=time.time())
