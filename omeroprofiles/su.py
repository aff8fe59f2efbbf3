"""``su = "user"``: log in as the profile's admin, then open a session as the target user.

Checks what omero-py's ``suConn`` leaves to a bare ``None``: the login is an admin, a restricted
admin has the Sudo privilege, the target exists and is in the requested group. The admin session
is closed as soon as the target's session exists, so nothing is left open behind the scenes.
"""

from __future__ import annotations

from typing import Any

from .classify import where
from .credentials.base import Credentials
from .errors import AccessDenied
from .login import Session, dispose, session_for
from .model import Profile

SU_TIME_TO_LIVE_MS = 0
"""0 = no lifetime cap on the target's session (the server's idle timeout still applies).
omero-py's suConn uses 60 s, which silently ends long-running su scripts after a minute."""


def become(profile: Profile, credentials: Credentials) -> Session:
    import omero
    import omero.sys
    from omero.gateway import BlitzGateway

    target = profile.su
    assert target is not None
    if credentials.session_key is not None:
        raise AccessDenied(f"{where(profile)}: su needs an administrator's username and password, "
                           "not a session key")
    admin_client = session_for(profile.model_copy(update={"secure": True, "keepalive": 0}),
                               credentials, group=None).client
    try:
        admin = BlitzGateway(client_obj=admin_client)
        ec = admin.getEventContext()
        if not ec.isAdmin:
            raise AccessDenied(f"{where(profile)}: su to '{target}' needs an administrator, and "
                               f"'{ec.userName}' is not one")
        if not admin.isFullAdmin() and "Sudo" not in admin.getCurrentAdminPrivileges():
            raise AccessDenied(f"{where(profile)}: '{ec.userName}' is a restricted administrator without the "
                               f"Sudo privilege, so it cannot su to '{target}'")
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
        principal = omero.sys.Principal()
        principal.name = target
        principal.group = group_name
        principal.eventType = "User"
        try:
            session = admin.getSessionService().createSessionWithTimeout(principal, SU_TIME_TO_LIVE_MS)
        except omero.SecurityViolation as exc:
            raise AccessDenied(f"{where(profile)}: the server refused su to '{target}' ({type(exc).__name__})") \
                from None
        key = session.getUuid().val
        admin_name = ec.userName
    finally:
        dispose(admin_client, kill=True)
    opened = session_for(profile, Credentials(session_key=key), group=-1 if profile.group == -1 else None,
                         owned=True)
    opened.joined = False  # we created this session for the target: close() must end it
    opened.su_by = admin_name
    opened.user = target
    return opened


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
