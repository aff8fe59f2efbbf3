"""Open one OMERO session for a profile: client, login or join, group, transport; and end one.

The pieces the rest of the connect layer builds on (``su`` and ``gateway`` use them; nothing
here imports them back). We create the ``omero.client`` session ourselves rather than calling
``BlitzGateway.connect()``: a rejected password is tried once (not retried), every failure keeps
its real cause (connect() returns a bare False), and a login group the user is not in becomes an
error instead of a silent fall-back to the default group.

Every Ice call is bounded. Ice 3.6 waits for a reply forever by default, so a server that
freezes after accepting a call hangs the client in whatever it was doing (login, a query,
``close()``). ``new_client`` bounds the router's calls (login, join) by the profile ``timeout``
and every other call by ``call_timeout`` (``Ice.Default.InvocationTimeout``: proxies the server
hands back inherit it), and ``dispose`` ends a session with its own, much shorter, bounds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .classify import classify, where
from .credentials.base import Credentials
from .deadline import track
from .errors import AccessDenied, AuthenticationFailed, ProfileError, SessionOfAnotherUser
from .model import Profile
from .text import printable

log = logging.getLogger(__name__)
AGENT = "omero-profiles"
CONNECT_ATTEMPTS = 3
"""omero.client.createSession tries a timed-out connect this many times; the timeout is shared out."""
CLOSE_CALL_MS = 500
"""How long each call that ends a session may wait for a reply (a dead server costs this once)."""
CLOSE_TIMEOUT_MS = 300
"""How long closing a connection may wait for a server that stopped answering to acknowledge it."""
KILL_CALLS_MAX = 16
"""ISession.closeSession is repeated while the server reports references left; never forever."""


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
    user: str | None = None
    """The user name the session was opened with, when known (for messages)."""
    shared: bool = False
    """A session many processes share (``share_session``): nothing here may change it for the others."""


def new_client(profile: Profile, props: dict[str, str] | None = None) -> Any:
    """An ``omero.client`` for the profile's router, every call bounded.

    Two bounds: the router (login, join, and the calls inside ``createObjectAdapterWithRouter``)
    answers within ``profile.timeout``, so a connect is bounded however the server fails; every
    other call (the user's service calls, the keep-alive ping) within ``profile.call_timeout``
    (``Ice.Default.InvocationTimeout``; 0 = no bound), so a long but legitimate query is not cut
    off at the connect timeout while a frozen server still ends it. ``props``: start from these
    (the insecure client copies the secure one's).
    """
    import omero
    import omero.clients  # noqa: F401

    per_attempt_ms = max(200, int(profile.timeout * 1000 / CONNECT_ATTEMPTS))
    props = dict(props or {})
    props.update({
        "Ice.Override.ConnectTimeout": str(per_attempt_ms),
        "Ice.Default.InvocationTimeout": str(int(profile.call_timeout * 1000) or -1),
        # closing a connection to a server that stopped answering must not wait forever either
        "Ice.Override.CloseTimeout": str(min(per_attempt_ms, CLOSE_TIMEOUT_MS)),
        "omero.keep_alive": "0",
    })
    try:
        if "Ice.Default.Router" in props:
            client = omero.client(pmap=props)
        else:
            host = profile.client_host
            client = omero.client(host=host, port=profile.port, pmap=props)
    except Exception as exc:
        raise classify(exc, profile, user=None, timeout=profile.timeout) or exc from exc
    communicator = client.getCommunicator()
    router = communicator.getDefaultRouter()
    if router is not None:
        communicator.setDefaultRouter(router.ice_invocationTimeout(max(1, int(profile.timeout * 1000))))
    client.setAgent(AGENT)
    track(communicator)  # taken now: omero.client's own lock is held during a login
    return client


class GroupMoved(AuthenticationFailed):
    """A joined session is no longer in the group it was made in (``omero sessions group``): not for us."""


def session_for(profile: Profile, credentials: Credentials, *, group: int | str | None,
                owned: bool | None = None, made_in_group: int | None = None) -> Session:
    """Log in (or join), switch to plain TCP if not secure, apply and verify the group.

    ``owned``: the session is ours to end (default: unless it was joined by key; su joins the
    session it created for its target, and owns it). ``made_in_group``: a joined session must
    still be in this group (a shared session made for a profile's group), else GroupMoved.
    """
    joined = credentials.session_key is not None
    owned = not joined if owned is None else owned
    login_group = group if isinstance(group, str) and not joined else None
    client = new_client(profile)
    try:
        _start_session(client, profile, credentials, login_group, owned)
        ec = _check_owner(client, profile, credentials) if joined else None
        if made_in_group is not None and (ec or _event_context(client)).groupId != made_in_group:
            raise GroupMoved(f"{where(profile)}: the stored session was moved to another group")
        call_group = _apply_group(client, profile, credentials, group, joined, ec)
        client = _maybe_insecure(client, profile, owned)
        if profile.keepalive > 0:
            client.enableKeepAlive(profile.keepalive)
        return Session(client, joined, call_group, user=credentials.username)
    except BaseException as exc:
        dispose(client, kill=owned and not _timed_out(exc))
        if isinstance(exc, ProfileError | KeyboardInterrupt):
            raise
        if login_group is not None and _is_create_session_refusal(exc):
            raise _not_member_after_login(profile, credentials, login_group) from None
        mapped = classify(exc, profile, user=credentials.username, timeout=profile.timeout, joining=joined)
        if mapped is None:
            raise
        raise mapped from None  # an Ice exception's text can quote the session key


def _start_session(client: Any, profile: Profile, credentials: Credentials, login_group: str | None,
                   owned: bool = True) -> None:
    """Open the session. One we own keeps the server's default, close-on-destroy: if our connection
    ends without a close (the process dies, the network drops), the server ends the session
    instead of keeping it until its idle timeout. One we joined is detached: it is not ours."""
    if credentials.session_key is not None:
        sf = client.joinSession(credentials.session_key.get_secret_value())
        if not owned:
            sf.detachOnDestroy()
        return
    assert credentials.username is not None and credentials.password is not None
    context = client.getImplicitContext()
    if login_group is not None:
        context.put("omero.group", login_group)
    try:
        client.createSession(credentials.username, credentials.password.get_secret_value())
    finally:
        if login_group is not None:
            context.remove("omero.group")


def _check_owner(client: Any, profile: Profile, credentials: Credentials) -> Any:
    """The joined session's event context, after making sure it is the expected user's session.

    A session key can come from a file someone else wrote (a group-writable session store, a
    copied token): joining it would make every call as that session's user. Returns None, with
    no call made, when nobody said whose session it must be.
    """
    expected = credentials.expected_user
    if expected is None:
        return None
    ec = _event_context(client)
    if ec.userName != expected:
        raise SessionOfAnotherUser(
            f"{where(profile)}: the session joined belongs to '{printable(ec.userName)}', not to "
            f"'{printable(expected)}' as the profile expects; it was left at once and not used",
            expected=expected, found=ec.userName,
            hint="the session key came from a file or variable that holds another user's session: "
                 "check who can write there")
    return ec


def _event_context(client: Any) -> Any:
    return client.getSession().getAdminService().getEventContext()


def event_context_within(client: Any, seconds: float) -> Any:
    """The session's event context, the call bounded by ``seconds`` (not the longer call_timeout)."""
    ms = max(1, int(seconds * 1000))
    return client.getSession().ice_invocationTimeout(ms).getAdminService().ice_invocationTimeout(ms) \
        .getEventContext()


def _apply_group(client: Any, profile: Profile, credentials: Credentials, group: int | str | None,
                 joined: bool, ec: Any = None) -> int | None:
    """Make the session's group the requested one, or raise AccessDenied. Returns a per-call group."""
    import omero
    import omero.model

    if group is None:
        return None
    admin = client.getSession().getAdminService()
    if ec is None:
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


def _maybe_insecure(client: Any, profile: Profile, owned: bool) -> Any:
    """secure = false: re-join the session over the server's plain-TCP router (omero.router.insecure).

    What ``omero.client.createClient(secure=False)`` does, but through ``new_client``, so the new
    client's router and calls are bounded like the first one's and the deadline can end it. The
    SSL client then ends only its own connection: the session keeps the new client's reference.
    """
    if profile.secure or profile.transport in ("ws", "wss", "tcp"):
        return client  # ws/wss cannot switch (there is no TCP router behind the websocket)
    insecure_router = client.getSession().getConfigService().getConfigValue("omero.router.insecure")
    if not insecure_router:
        log.warning("profile '%s': the server names no insecure router; staying on SSL", profile.name)
        return client
    router = client.getCommunicator().getDefaultRouter()
    hosts = [e.getInfo().host for e in router.ice_getEndpoints()] if router is not None else []
    if hosts and hosts[-1]:
        insecure_router = insecure_router.replace("@omero.host@", str(hosts[-1]))
    props = client.getPropertyMap()
    props["Ice.Default.Router"] = insecure_router
    insecure = new_client(profile, props)
    insecure._BaseClient__insecure = True  # what createClient records, so isSecure() tells the truth
    try:
        insecure.setAgent(f"{AGENT};secure=False")
        sf = insecure.joinSession(client.getSessionId())
        if not owned:
            sf.detachOnDestroy()
    except BaseException:
        dispose(insecure, kill=False)
        raise
    dispose(client, kill=False)
    return insecure


def detach(client: Any) -> None:
    """Let our session outlive this client: closing the client will then only detach from it.

    For a session stored for others (``omero-profile login``, a shared session): our own logins
    otherwise end on the server when their client closes.
    """
    client.getSession().ice_invocationTimeout(CLOSE_CALL_MS).detachOnDestroy()


def dispose(client: Any, *, kill: bool, stateful: Iterable[Any] = ()) -> None:
    """End a client within about a second, whatever the server does; never raises.

    ``kill``: close the session on the server (ISession.closeSession until no reference is
    left); otherwise only our Glacier2 session ends (a joined session is detached). ``stateful``:
    service proxies to close first. omero-py's own ``killSession``/``closeSession`` wait as long
    as any call (the profile timeout); here every call gets ``CLOSE_CALL_MS``, and once the
    server has failed to answer one, no further call is tried: the communicator is destroyed,
    which costs at most ``CLOSE_TIMEOUT_MS`` per connection.
    """
    answering = True
    for proxy in stateful:
        answering = answering and _answered(lambda p=proxy: p.ice_invocationTimeout(CLOSE_CALL_MS).close())
    if kill and answering:
        answering = _answered(lambda: _kill(client))
    try:
        communicator = client.getCommunicator()
    except Exception:  # noqa: BLE001 - closed already: nothing left to end
        return
    try:
        if answering:  # omero-py's closeSession calls the router with the default router proxy
            router = communicator.getDefaultRouter()
            if router is not None:
                communicator.setDefaultRouter(router.ice_invocationTimeout(CLOSE_CALL_MS))
        else:
            communicator.destroy()  # omero-py's closeSession then fails at once instead of waiting
    except Exception:  # noqa: BLE001 - destroyed already: closeSession below copes
        log.debug("preparing to end a client failed", exc_info=True)
    try:
        client.closeSession()  # stops keep-alive, ends the Glacier2 session, destroys the communicator
    except Exception:  # noqa: BLE001 - a dead server: the communicator is destroyed all the same
        log.debug("ending a client raised", exc_info=True)


def _kill(client: Any) -> None:
    """omero-py's killSession, with every call bounded by CLOSE_CALL_MS."""
    import omero
    import omero.model
    from omero.rtypes import rstring

    sf = client.getSession(blocking=False)  # never waits for omero.client's lock
    if sf is None:
        return
    service = sf.ice_invocationTimeout(CLOSE_CALL_MS).getSessionService().ice_invocationTimeout(CLOSE_CALL_MS)
    session = omero.model.SessionI()
    session.uuid = rstring(sf.ice_getIdentity().name)
    try:
        for _ in range(KILL_CALLS_MAX):
            if service.closeSession(session) <= 0:
                return
    except omero.RemovedSessionException:
        return


def _answered(call: Any) -> bool:
    """Run one closing call; False if the server did not answer it (silent, gone, or we closed it)."""
    import Ice

    try:
        call()
    except (Ice.RequestFailedException, Ice.UnknownException):  # the server answered, with an error
        log.debug("a closing call was refused", exc_info=True)
    except Ice.LocalException:
        log.debug("a closing call got no answer", exc_info=True)
        return False
    except Exception:  # noqa: BLE001 - a server-side exception is an answer too
        log.debug("a closing call raised", exc_info=True)
    return True
