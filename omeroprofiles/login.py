"""Open one OMERO session for a profile: client, login or join, group, transport.

The pieces the rest of the connect layer builds on (``su`` and ``gateway`` use them; nothing
here imports them back). We create the ``omero.client`` session ourselves rather than calling
``BlitzGateway.connect()``: a rejected password is tried once (not retried), every failure keeps
its real cause (connect() returns a bare False), and a login group the user is not in becomes an
error instead of a silent fall-back to the default group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from .classify import classify, where
from .credentials.base import Credentials
from .deadline import track
from .errors import AccessDenied, ProfileError
from .model import Profile

log = logging.getLogger(__name__)
AGENT = "omero-profiles"
CONNECT_ATTEMPTS = 3
"""omero.client.createSession tries a timed-out connect this many times; the timeout is shared out."""
CLOSE_TIMEOUT_MS = 400
"""How long closing a connection may wait for a server that stopped answering."""


@dataclass
class Session:
    """An open OMERO session and how it was opened."""

    client: Any
    joined: bool
    """True when an existing session was joined by key: closing then only detaches."""
    call_group: int | None = None
    """Group id applied per call (SERVICE_OPTS): -1 for all groups, or the group of a joined session."""
    su_by: str | None = None
    """The administrator who opened this session for the su target."""


def new_client(profile: Profile) -> Any:
    """An ``omero.client`` for the profile's router with the connect timeout applied."""
    import omero
    import omero.clients  # noqa: F401

    per_attempt_ms = max(200, int(profile.timeout * 1000 / CONNECT_ATTEMPTS))
    props = {
        "Ice.Override.ConnectTimeout": str(per_attempt_ms),
        # closing a connection to a server that stopped answering must not wait forever either
        "Ice.Override.CloseTimeout": str(min(per_attempt_ms, CLOSE_TIMEOUT_MS)),
        "omero.keep_alive": "0",
    }
    host = profile.host if profile.address.transport else profile.hostname
    try:
        client = omero.client(host=host, port=profile.port, pmap=props)
    except Exception as exc:
        raise classify(exc, profile, user=None, timeout=profile.timeout) or exc from exc
    client.setAgent(AGENT)
    track(client.getCommunicator())  # taken now: omero.client's own lock is held during a login
    return client


def session_for(profile: Profile, credentials: Credentials, *, group: int | str | None) -> Session:
    """Log in (or join), switch to plain TCP if not secure, apply and verify the group."""
    joined = credentials.session_key is not None
    login_group = group if isinstance(group, str) and not joined else None
    client = new_client(profile)
    try:
        _start_session(client, profile, credentials, login_group)
        call_group = _apply_group(client, profile, credentials, group, joined)
        client = _maybe_insecure(client, profile)
        if profile.keepalive > 0:
            client.enableKeepAlive(profile.keepalive)
        return Session(client, joined, call_group)
    except BaseException as exc:
        dispose(client, kill=not joined and not _timed_out(exc))  # bounded by the close timeout
        if isinstance(exc, ProfileError | KeyboardInterrupt):
            raise
        if login_group is not None and _is_create_session_refusal(exc):
            raise _not_member_after_login(profile, credentials, login_group) from None
        mapped = classify(exc, profile, user=credentials.username, timeout=profile.timeout, joining=joined)
        if mapped is None:
            raise
        raise mapped from (None if joined else exc)  # a join's refusal quotes the session key


def _start_session(client: Any, profile: Profile, credentials: Credentials, login_group: str | None) -> None:
    if credentials.session_key is not None:
        sf = client.joinSession(credentials.session_key.get_secret_value())
        sf.detachOnDestroy()
        return
    assert credentials.username is not None and credentials.password is not None
    context = client.getImplicitContext()
    if login_group is not None:
        context.put("omero.group", login_group)
    try:
        sf = client.createSession(credentials.username, credentials.password.get_secret_value())
    finally:
        if login_group is not None:
            context.remove("omero.group")
    sf.detachOnDestroy()


def _apply_group(client: Any, profile: Profile, credentials: Credentials, group: int | str | None,
                 joined: bool) -> int | None:
    """Make the session's group the requested one, or raise AccessDenied. Returns a per-call group."""
    import omero
    import omero.model

    if group is None:
        return None
    admin = client.getSession().getAdminService()
    user = credentials.username
    try:
        ec = admin.getEventContext()
    except omero.SecurityViolation:
        # What OMERO does for a login group the user is not in (BlitzGateway would silently
        # fall back to the default group here). Log in once more, without it, to name the groups.
        raise _not_member_after_login(profile, credentials, group) from None
    user = ec.userName
    if group == -1:
        return -1
    if isinstance(group, str):
        if ec.groupName == group and not joined:
            return None
        try:
            group_id = admin.lookupGroup(group).getId().val
        except (omero.ApiUsageException, omero.ValidationException, omero.SecurityViolation):
            raise AccessDenied(f"{where(profile)}: group '{group}' does not exist") from None
    else:
        group_id = group
    if group_id not in ec.memberOfGroups and not ec.isAdmin:
        raise _not_member(profile, user, group, admin=admin, member_of=list(ec.memberOfGroups))
    if joined:
        return group_id  # never change the group of a session someone else may share
    if ec.groupId != group_id:
        client.getSession().setSecurityContext(omero.model.ExperimenterGroupI(group_id, False))
        if admin.getEventContext().groupId != group_id:
            raise _not_member(profile, user, group, admin=admin, member_of=list(ec.memberOfGroups))
    return None


def _not_member(profile: Profile, user: str | None, group: int | str, *, admin: Any = None,
                member_of: list[int] | None = None) -> AccessDenied:
    names = _group_names(admin, member_of) if admin is not None and member_of is not None else None
    have = f"; '{user}' is a member of: {', '.join(names)}" if names else ""
    shown = f"'{group}'" if isinstance(group, str) else f"id {group}"
    return AccessDenied(f"{where(profile)}: user '{user}' is not a member of group {shown}, or it does not "
                        f"exist{have}")


def _timed_out(exc: BaseException) -> bool:
    import Ice
    import omero

    return isinstance(exc, Ice.TimeoutException) or (
        isinstance(exc, omero.ClientError) and "null object prox" in str(exc))


def _is_create_session_refusal(exc: BaseException) -> bool:
    import omero
    import omero.clients  # noqa: F401

    return isinstance(exc, omero.WrappedCreateSessionException)


def _not_member_after_login(profile: Profile, credentials: Credentials, group: int | str) -> AccessDenied:
    client = new_client(profile)
    try:
        _start_session(client, profile, credentials, None)
        admin = client.getSession().getAdminService()
        ec = admin.getEventContext()
        return _not_member(profile, ec.userName, group, admin=admin, member_of=list(ec.memberOfGroups))
    except Exception:  # noqa: BLE001 - the message is still right without the list
        return _not_member(profile, credentials.username, group)
    finally:
        dispose(client, kill=True)


def _group_names(admin: Any, ids: list[int]) -> list[str]:
    names = []
    for gid in ids:
        try:
            name = admin.getGroup(gid).getName().val
        except Exception:  # noqa: BLE001 - best effort, for a message
            continue
        if name not in ("user",):
            names.append(name)
    return names


def _maybe_insecure(client: Any, profile: Profile) -> Any:
    """secure = false: re-join the session over the server's plain-TCP router (omero.router.insecure)."""
    if profile.secure or profile.transport in ("ws", "wss", "tcp"):
        return client  # ws/wss cannot switch (there is no TCP router behind the websocket)
    insecure = client.createClient(secure=False)
    insecure.getSession().detachOnDestroy()
    client.__del__()
    return insecure


def dispose(client: Any, *, kill: bool) -> None:
    """Best-effort cleanup of a half-made connection: kill our own session, detach from joined ones."""
    try:
        if kill:
            try:
                client.getSession()
            except Exception:  # noqa: BLE001 - no session: nothing to kill
                pass
            else:
                client.killSession()
        client.__del__()
    except Exception:  # noqa: BLE001
        log.debug("cleanup after a failed connect raised", exc_info=True)
