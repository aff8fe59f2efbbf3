"""Which stored sessions serve a profile, read offline: what ``status`` and ``doctor`` report on.

Four places hold sessions a profile may use or has made, and this module reads all four without
a network call and without fetching a secret:

- the OMERO CLI's session store (``sessionstore``): sessions ``omero-profile login`` and
  ``share_session`` stored, and those ``omero login`` stored;
- our session index (``sessionindex``): which of those we made, for which profile, and the
  child sessions ``env --session`` handed to other programs (a digest only: the key is theirs);
- omero-user-token's file (``usertoken``), for ``source = "user-token"``.

A session *serves* a profile when the profile's connect would use it (its shared session, the
stored session an ``omero-login`` profile joins, the user token) or when the profile made it to
be used by others (``omero-profile login NAME``, which ``omero`` commands then use). Other
sessions of the same user on the same server (``omero login``'s) are listed, not counted.
A session's key stays in ``StoredRow.key`` (never printed, never in ``as_json``); where it is
stored is its directory, never the file, whose name is the key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from .model import Profile
from .sessionindex import Made, SessionIndex, ShareKey, digest
from .sessionstore import SessionStore, StoredSession, store_host

KIND_NAMES = {"login": "omero-profile login", "shared": "shared session (share_session)",
              "child": "child session (env --session)", "foreign": "omero login", "token": "user token"}


@dataclass
class StoredRow:
    """One session that serves (or belongs to) a profile, as far as files say."""

    kind: str
    """``login``, ``shared``, ``child`` (ours, from the index), ``foreign`` (``omero login``'s), ``token``."""
    user: str | None
    serves: bool
    where: str
    """Its directory in the store, the token file, or who holds it (children): never the key."""
    made_by: str
    group: str | None = None
    su_by: str | None = None
    expires: float | None = None
    digest: str | None = None
    key: SecretStr | None = field(default=None, repr=False)
    """The key, to check the session online (None for children: only their holder has it)."""
    alive: bool | None = None
    """Filled in by ``status``; offline only an expiry in the past is known (False)."""
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return KIND_NAMES.get(self.kind, self.kind)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "user": self.user, "group": self.group, "su_by": self.su_by,
                "serves": self.serves, "where": self.where, "made_by": self.made_by, "expires": self.expires,
                "alive": self.alive, **self.detail}


def profile_user(profile: Profile, store: SessionStore) -> str | None:
    """Whose sessions the profile uses, known without a secret: su target, configured user, last omero login."""
    from .shared import known_user

    user = known_user(profile)
    if user is None and profile.source == "omero-login":
        user = store.last_user(store_host(profile))
    return user


def share_key_of(profile: Profile, user: str | None) -> ShareKey | None:
    if not profile.share_session or user is None:
        return None
    return ShareKey(store_host(profile), profile.port, user, profile.group, profile.su is not None)


def _joins_store(profile: Profile, user: str | None, session_user: str) -> bool:
    """An ``omero-login`` profile joins the newest live stored session of its user (or the last user's)."""
    return profile.source == "omero-login" and user is not None and session_user == user


def stored_rows(profile: Profile, *, store: SessionStore | None = None,
                index: SessionIndex | None = None) -> list[StoredRow]:
    """Every session that serves or belongs to ``profile``, newest stored first, then children, then a token."""
    store = store or SessionStore()
    index = index or SessionIndex()
    host = store_host(profile)
    user = profile_user(profile, store)
    share = share_key_of(profile, user)
    entries = [m for m in index.entries() if m.host == host and m.port == profile.port]
    by_digest = {m.digest: m for m in entries if m.kind != "child"}
    users = sorted({u for u in [user, *(m.user for m in entries if m.profile == profile.name)] if u})
    rows: list[StoredRow] = []
    for who in users:
        for stored in store.sessions(host, who, profile.port):
            row = _stored_row(profile, user, share, stored, by_digest.get(digest(stored.key)))
            if row is not None:
                rows.append(row)
    now = time.time()
    for made in entries:
        if made.kind == "child" and made.profile == profile.name:
            rows.append(StoredRow("child", made.user, False, "held by the program it was handed to",
                                  made.describe(), group=_group_text(made.group), su_by=made.su_by,
                                  expires=made.expires, digest=made.digest,
                                  alive=False if made.expires is not None and made.expires < now else None))
    token = _token_row(profile)
    if token is not None:
        rows.append(token)
    return rows


def _stored_row(profile: Profile, user: str | None, share: ShareKey | None, stored: StoredSession,
                made: Made | None) -> StoredRow | None:
    where = str(stored.path.parent)
    group = stored.props.get("omero.group") or None
    su_by = stored.props.get("omero.sudo") or None
    joins = _joins_store(profile, user, stored.user)
    if made is None:  # stored by `omero login` (or an older omero-profiles): listed if it is the profile's user's
        if stored.user != user:
            return None
        return StoredRow("foreign", stored.user, joins, where, "not made by omero-profiles (omero login)",
                         group=group, su_by=su_by, digest=digest(stored.key), key=SecretStr(stored.key))
    mine = made.profile == profile.name
    shares = share is not None and made.share_key == share
    if not (mine or shares or joins):
        return None  # another profile's session, of no use to this one
    alive = False if made.expires is not None and made.expires < time.time() else None
    return StoredRow(made.kind, made.user, True, where, made.describe(), group=group or _group_text(made.group),
                     su_by=made.su_by, expires=made.expires, digest=made.digest, key=SecretStr(stored.key),
                     alive=alive, detail={"user_token": made.token} if made.token else {})


def _group_text(group: str | int | None) -> str | None:
    return None if group is None else str(group)


def _token_row(profile: Profile) -> StoredRow | None:
    """The omero-user-token file a ``user-token`` profile joins, if it holds a session for its server."""
    from .usertoken import Unreadable, read, token_path

    if profile.source != "user-token":
        return None
    config = profile.credentials
    path = Path(config.file).expanduser() if getattr(config, "file", None) else token_path()
    expected = getattr(config, "username", None)
    try:
        token = read(path)
    except Unreadable as exc:
        return StoredRow("token", expected, True, str(path), f"omero-user-token file; cannot be used: {exc}",
                         alive=False)
    if token is None:
        return None
    if token.host != profile.hostname or token.port != profile.port:
        return StoredRow("token", expected, True, str(path),
                         f"omero-user-token file, for {token.host}:{token.port}, not this server", alive=False)
    return StoredRow("token", expected, True, str(path), "omero-user-token file", digest=digest(token.key),
                     key=SecretStr(token.key))
