"""Build the omero.model / omero.sys objects the stand-in returns, shaped like the real server's.

Memberships are ``GroupExperimenterMap`` links built by hand, with the default group first
(``BlitzGateway.suConn`` reads the default group as ``groupExperimenterMap[0].parent``).
As on the real server the link points back to the object it was loaded from (a cycle, which
Ice marshals fine); the object at the far end is loaded but its own links are not.
"""

from __future__ import annotations

import omero
import omero.model
import omero.sys
from omero.rtypes import rbool, rlong, rstring, rtime

from .state import SessionRecord
from .users import ALL_PRIVILEGES, GroupSpec, UserDirectory, UserSpec


def _permissions(group: GroupSpec) -> omero.model.PermissionsI:
    return omero.model.PermissionsI(group.permissions)


def group_obj(users: UserDirectory, group: GroupSpec, members: bool = True) -> omero.model.ExperimenterGroupI:
    g = omero.model.ExperimenterGroupI(group.id, True)
    g.name = rstring(group.name)
    g.description = rstring(group.description) if group.description else None
    g.ldap = rbool(False)
    g.details.permissions = _permissions(group)
    if members:
        for user in users.members(group.name):
            link = omero.model.GroupExperimenterMapI()
            link.child = experimenter_obj(users, user, groups=False)
            link.owner = rbool(group.name in user.owner_of)
            g.addGroupExperimenterMap(link)
    else:
        g.unloadGroupExperimenterMap()
    return g


def experimenter_obj(users: UserDirectory, user: UserSpec, groups: bool = True) -> omero.model.ExperimenterI:
    e = omero.model.ExperimenterI(user.id, True)
    e.omeName = rstring(user.name)
    e.firstName = rstring(user.first_name)
    e.lastName = rstring(user.last_name)
    e.email = rstring(user.email) if user.email else None
    e.institution = None
    e.ldap = rbool(False)
    if groups:
        for name in user.memberships:
            link = omero.model.GroupExperimenterMapI()
            link.parent = group_obj(users, users.groups[name], members=False)
            link.owner = rbool(name in user.owner_of)
            e.addGroupExperimenterMap(link)
    else:
        e.unloadGroupExperimenterMap()
    return e


def session_obj(rec: SessionRecord) -> omero.model.SessionI:
    s = omero.model.SessionI(rec.id, True)
    s.uuid = rstring(rec.uuid)
    s.timeToIdle = rlong(rec.tti_ms)
    s.timeToLive = rlong(rec.ttl_ms)
    s.started = rtime(rec.started_ms)
    s.userAgent = rstring(rec.agent)
    s.defaultEventType = rstring("User")
    s.owner = omero.model.ExperimenterI(rec.user.id, False)
    if rec.sudoer is not None:
        s.sudoer = omero.model.ExperimenterI(rec.sudoer.id, False)
    return s


def event_context(users: UserDirectory, rec: SessionRecord, group_id: int) -> omero.sys.EventContext:
    user = rec.user
    group = users.group_by_id(group_id)
    assert group is not None
    ec = omero.sys.EventContext()
    ec.shareId = -1
    ec.sessionId = rec.id
    ec.sessionUuid = rec.uuid
    ec.userId = user.id
    ec.userName = user.name
    ec.sudoerId = rlong(rec.sudoer.id) if rec.sudoer else None
    ec.sudoerName = rstring(rec.sudoer.name) if rec.sudoer else None
    ec.groupId = group.id
    ec.groupName = group.name
    ec.isAdmin = user.admin
    ec.adminPrivileges = list(user.admin_privileges)
    ec.eventId = -1
    ec.eventType = "User"
    ec.memberOfGroups = [users.groups[name].id for name in user.memberships]
    ec.leaderOfGroups = [users.groups[name].id for name in user.owner_of]
    ec.groupPermissions = _permissions(group)
    return ec


def roles() -> omero.sys.Roles:
    return omero.sys.Roles(
        rootId=0, rootName="root", systemGroupId=0, systemGroupName="system",
        userGroupId=1, userGroupName="user", guestId=1, guestName="guest",
        guestGroupId=2, guestGroupName="guest",
    )


def privilege_objs(names: tuple[str, ...] | list[str]) -> list[omero.model.AdminPrivilegeI]:
    out = []
    for name in names:
        p = omero.model.AdminPrivilegeI(ALL_PRIVILEGES.index(name) + 1, True)
        p.value = rstring(name)
        out.append(p)
    return out
