"""What `omero-profile test` and `groups` print about a live connection (dicts, JSON-ready)."""

from __future__ import annotations

from typing import Any


def describe(conn: Any) -> dict[str, Any]:
    """User, group, admin rights, server and transport of a ProfileGateway."""
    profile = conn.profile
    ec = conn.getEventContext()
    full_admin = bool(ec.isAdmin) and conn.isFullAdmin()
    privileges = sorted(conn.getCurrentAdminPrivileges() or []) if ec.isAdmin else []
    group = {"name": ec.groupName, "id": ec.groupId}
    if conn.call_group == -1:
        group = {"name": "(all groups)", "id": -1, "session_group": {"name": ec.groupName, "id": ec.groupId}}
    elif conn.call_group is not None:
        group = {"name": conn.getObject("ExperimenterGroup", conn.call_group).getName(), "id": conn.call_group}
    # where the group came from: the profile, the user's default (a new login), or a session we joined
    group["from"] = "profile" if profile.group is not None else "joined session" if conn.joined else "default"
    transport = "tcp" if not conn.c.isSecure() and profile.transport == "ssl" else profile.transport
    return {
        "profile": profile.name,
        "user": {"name": ec.userName, "id": ec.userId},
        "group": group,
        "admin": bool(ec.isAdmin),
        "full_admin": full_admin,
        "privileges": privileges,
        "su": conn.su,
        "su_by": conn.su_by,
        "joined_session": conn.joined,
        "host": profile.hostname,
        "port": profile.port,
        "transport": transport,
        "secure": profile.secure,
        "encrypted": transport in ("ssl", "wss"),
        "elapsed_ms": round(conn.connect_elapsed_ms, 1),
        "credentials_ms": round(conn.credentials_elapsed_ms, 1),
    }


def groups(conn: Any) -> list[dict[str, Any]]:
    """Groups the connected user can switch to, with permissions and the current one marked."""
    ec = conn.getEventContext()
    current = conn.call_group if conn.call_group not in (None, -1) else ec.groupId
    rows = []
    for group in conn.getGroupsMemberOf():
        perms = group.getDetails().getPermissions()
        rows.append({
            "name": group.getName(),
            "id": group.getId(),
            "permissions": str(perms) if perms is not None else None,
            "current": group.getId() == current,
        })
    return rows
