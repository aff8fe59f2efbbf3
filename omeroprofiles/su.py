"""``su = "user"``: log in as the profile's user, then open a session as the target user.

An OMERO server lets two kinds of people do this (``ISession.createSessionWithTimeouts``): an
administrator whose session holds the Sudo privilege, for anyone in any group; and the owner
of a group (a *group-owner sudo*), for a member of that group, in that group only. Everyone
else is refused. The checks here say which rule refused, where omero-py's ``suConn`` gives a
bare ``None``; the server's own refusal is reported with its reason. The login session is
closed as soon as the target's session exists, so nothing is left open behind the scenes.

Timeouts: the target's session idles out like the login's (the server's default, read from
the login session, as ``omero login --sudo`` does) unless ``time_to_idle_ms`` says otherwise, and
lives as long as it is used unless ``time_to_live_ms`` caps it. This is also the route for a
long-lived su session (``login --idle/--ttl``): a real server refuses ``createUserSession`` from
a session an administrator made (it needs a password login).
"""

from __future__ import annotations

from typing import Any

from .classify import server_refusal, where
from .credentials.base import Credentials
from .deadline import DeadlineExceeded, run_bounded
from .errors import AccessDenied
from .login import Session, dispose, session_for
from .model import Profile

SU_TIME_TO_LIVE_MS = 0
"""Default: no lifetime cap on the target's session (its idle timeout still applies).
omero-py's suConn uses 60 s, which silently ends long-running su scripts after a minute."""


def become(profile: Profile, credentials: Credentials, *, time_to_idle_ms: int | None = None,
           time_to_live_ms: int | None = None) -> Session:
    """Open the target's session (see module docstring) and join it; the login session is ended."""
    key, admin_name = create_target_session(profile, credentials, time_to_idle_ms=time_to_idle_ms,
                                            time_to_live_ms=time_to_live_ms)
    opened = session_for(profile, Credentials(session_key=key), group=-1 if profile.group == -1 else None,
                         owned=True)
    opened.joined = False  # we created this session for the target: close() must end it
    opened.su_by = admin_name
    opened.user = profile.su
    return opened


def long_lived_key(profile: Profile, *, time_to_idle_ms: int, time_to_live_ms: int) -> str:
    """A new session for the profile's su target with these timeouts, created by the profile's user
    (credentials from memory when the source allows, as for any connect); bounded by the timeout."""
    from .classify import no_answer
    from .fetch import with_credentials

    def attempt(credentials: Credentials) -> str:
        try:
            return run_bounded(profile.timeout, lambda: create_target_session(
                profile, credentials, time_to_idle_ms=time_to_idle_ms, time_to_live_ms=time_to_live_ms)[0],
                lambda _: None)
        except DeadlineExceeded:
            raise no_answer(profile, user=credentials.username, timeout=profile.timeout) from None

    return with_credentials(profile, attempt)


def create_target_session(profile: Profile, credentials: Credentials, *, time_to_idle_ms: int | None,
                          time_to_live_ms: int | None) -> tuple[str, str]:
    """Check and create the su target's session; its key and the name of the user who made it."""
    import omero
    import omero.sys
    from omero.gateway import BlitzGateway

    target = profile.su
    assert target is not None
    if credentials.session_key is not None:
        raise AccessDenied(f"{where(profile)}: su needs a username and password (an administrator's, or a "
                           "group owner's), not a session key")
    admin_client = session_for(profile.model_copy(update={"secure": True, "keepalive": 0}),
                               credentials, group=None).client
    try:
        admin = BlitzGateway(client_obj=admin_client)
        ec = admin.getEventContext()
        me = ec.userName
        full_sudo = bool(ec.isAdmin) and "Sudo" in set(ec.adminPrivileges or ())
        if not full_sudo and not ec.leaderOfGroups:
            raise AccessDenied(f"{where(profile)}: {_no_sudo(me, ec)}, so it cannot su to '{target}'")
        if not full_sudo and profile.group == -1:
            raise AccessDenied(f"{where(profile)}: {_no_sudo(me, ec)}; a group owner's su session is held to "
                               "one group it owns, so group = -1 (all groups) cannot work")
        user = admin.getObject("Experimenter", attributes={"omeName": target},
                               opts={"load_experimentergroups": True})
        if user is None:
            raise AccessDenied(f"{where(profile)}: cannot su to '{target}': no such user")
        groups = [m.parent for m in user._obj._groupExperimenterMapSeq]
        by_name = {g.name.val: g.id.val for g in groups}
        group_name = _target_group(profile, admin, groups)
        if group_name not in by_name:
            have = ", ".join(n for n in by_name if n != "user")
            raise AccessDenied(f"{where(profile)}: user '{target}' is not a member of group '{group_name}'; "
                               f"'{target}' is a member of: {have}")
        if not full_sudo and by_name[group_name] not in set(ec.leaderOfGroups):
            owned = _group_names(admin, ec.leaderOfGroups)
            raise AccessDenied(f"{where(profile)}: {_no_sudo(me, ec)}; as a group owner it may su only into "
                               f"groups it owns ({owned or 'none'}), not '{group_name}'")
        if time_to_idle_ms is None:  # the server's default idle timeout, as 'omero login --sudo' uses
            own = admin.getSessionService().getSession(admin_client.getSessionId())
            time_to_idle_ms = own.getTimeToIdle().val
        principal = omero.sys.Principal()
        principal.name = target
        principal.group = group_name
        principal.eventType = "User"
        try:
            session = admin.getSessionService().createSessionWithTimeouts(
                principal, SU_TIME_TO_LIVE_MS if time_to_live_ms is None else time_to_live_ms, time_to_idle_ms)
        except omero.ServerError as exc:
            raise server_refusal(exc, profile, user=me, action=f"su to '{target}'") from None
        return session.getUuid().val, me
    finally:
        dispose(admin_client, kill=True)


def _no_sudo(me: str, ec: Any) -> str:
    """Why ``me`` may not su freely: not an administrator, or one without the Sudo privilege."""
    if ec.isAdmin:
        return f"'{me}' is a restricted administrator without the Sudo privilege"
    return f"'{me}' is neither an administrator nor an owner of the target's group"


def _group_names(admin: Any, ids: list[int]) -> str:
    names = []
    for gid in ids:
        group = admin.getObject("ExperimenterGroup", gid)
        names.append(group.getName() if group is not None else str(gid))
    return ", ".join(sorted(names))


def _target_group(profile: Profile, admin: Any, groups: list[Any]) -> str:
    group = profile.group
    if isinstance(group, str):
        return group
    if isinstance(group, int) and group >= 0:
        found = admin.getObject("ExperimenterGroup", group)
        if found is None:
            raise AccessDenied(f"{where(profile)}: group id {group} does not exist")
        return found.getName()
    return groups[0].name.val  # the target's default group, as suConn does
