"""Build the omero.model / omero.sys objects the stand-in returns, shaped like the real server's.

Memberships are ``GroupExperimenterMap`` links with their ids and owner flags, the default
group first (``BlitzGateway.suConn`` reads the default group as ``groupExperimenterMap[0].parent``).
An experimenter is loaded with its groups, and a group with its members and *their* groups (as
``IAdmin.lookupGroups`` fetches them); one level deeper the links are left unloaded. A link
points back to the object it was loaded from (a cycle, which Ice marshals fine).
"""

from __future__ import annotations

import omero
import omero.model
import omero.sys
from omero.rtypes import rbool, rint, rlong, rstring, rtime

from .directory import Directory, EventLogRow, EventRow, Group, Link, User
from .security import Context
from .state import SessionRecord
from .users import ALL_PRIVILEGES


def _str(value: str | None) -> object:
    return rstring(value) if value is not None else None


def permissions(group: Group) -> omero.model.PermissionsI:
    return omero.model.PermissionsI(group.permissions)


def group_obj(directory: Directory, group: Group, members: bool = True,
              depth: int = 1) -> omero.model.ExperimenterGroupI:
    g = omero.model.ExperimenterGroupI(group.id, True)
    g.name = rstring(group.name)
    g.description = _str(group.description)
    g.ldap = rbool(group.ldap)
    g.details.permissions = permissions(group)
    if members:
        for link in directory.links_of_group(group.id):
            user = directory.user(link.user_id)
            if user is None:
                continue
            m = _link_obj(link)
            m.child = experimenter_obj(directory, user, groups=depth > 0, depth=0)
            g.addGroupExperimenterMap(m, False)
            m.parent = g
    else:
        g.unloadGroupExperimenterMap()
    return g


def experimenter_obj(directory: Directory, user: User, groups: bool = True,
                     depth: int = 0) -> omero.model.ExperimenterI:
    e = omero.model.ExperimenterI(user.id, True)
    e.omeName = rstring(user.name)
    e.firstName = rstring(user.first_name)
    e.middleName = _str(user.middle_name)
    e.lastName = rstring(user.last_name)
    e.email = _str(user.email)
    e.institution = _str(user.institution)
    e.ldap = rbool(user.ldap)
    if user.restrictions:
        e.setConfig([omero.model.NamedValue(f"AdminPrivilege:{p}", "false") for p in sorted(user.restrictions)])
    if groups:
        for link in directory.links_of_user(user.id):
            group = directory.group(link.group_id)
            if group is None:
                continue
            m = _link_obj(link)
            m.parent = group_obj(directory, group, members=depth > 0, depth=0)
            e.addGroupExperimenterMap(m, False)
            m.child = e
    else:
        e.unloadGroupExperimenterMap()
    return e


def _link_obj(link: Link) -> omero.model.GroupExperimenterMapI:
    m = omero.model.GroupExperimenterMapI(link.id, True)
    m.owner = rbool(link.owner)
    return m


def link_obj(directory: Directory, link: Link) -> omero.model.GroupExperimenterMapI:
    """A link on its own (a query on GroupExperimenterMap): parent and child loaded, their links not."""
    m = _link_obj(link)
    group, user = directory.group(link.group_id), directory.user(link.user_id)
    m.parent = group_obj(directory, group, members=False) if group else None
    m.child = experimenter_obj(directory, user, groups=False) if user else None
    return m


def session_obj(directory: Directory, rec: SessionRecord) -> omero.model.SessionI:
    s = omero.model.SessionI(rec.id, True)
    s.uuid = rstring(rec.uuid)
    s.timeToIdle = rlong(rec.tti_ms)
    s.timeToLive = rlong(rec.ttl_ms)
    s.started = rtime(rec.started_ms)
    s.closed = rtime(rec.closed_ms) if rec.closed_ms is not None else None
    s.userAgent = _str(rec.agent)
    s.userIP = _str(rec.ip)
    s.defaultEventType = rstring(rec.event_type)
    s.message = rstring("Initial message.")
    s.owner = omero.model.ExperimenterI(rec.user.id, False)
    if rec.sudoer is not None:
        s.sudoer = omero.model.ExperimenterI(rec.sudoer.id, False)
    s.details.owner = omero.model.ExperimenterI(rec.user.id, False)
    s.details.group = omero.model.ExperimenterGroupI(rec.group_id, False)
    s.details.permissions = omero.model.PermissionsI("rw----")
    return s


def event_log_obj(row: EventLogRow) -> omero.model.EventLogI:
    log = omero.model.EventLogI(row.id, True)
    log.action = rstring(row.action)
    log.entityType = rstring(row.entity_type)
    log.entityId = rlong(row.entity_id)
    log.event = event_obj(row.event)
    return log


def event_obj(row: EventRow) -> omero.model.EventI:
    event = omero.model.EventI(row.id, True)
    event.time = rtime(row.time_ms)
    event.experimenter = omero.model.ExperimenterI(row.experimenter_id, False)
    event.experimenterGroup = omero.model.ExperimenterGroupI(row.group_id, False)
    event.session = omero.model.SessionI(row.session_id, False)
    return event


def event_context(directory: Directory, rec: SessionRecord, ctx: Context, group_id: int) -> omero.sys.EventContext:
    user = rec.user
    group = directory.group(group_id if group_id >= 0 else rec.group_id)
    ec = omero.sys.EventContext()
    ec.shareId = -1
    ec.sessionId = rec.id
    ec.sessionUuid = rec.uuid
    ec.userId = user.id
    ec.userName = user.name
    ec.sudoerId = rlong(rec.sudoer.id) if rec.sudoer else None
    ec.sudoerName = rstring(rec.sudoer.name) if rec.sudoer else None
    ec.groupId = group.id if group else group_id
    ec.groupName = group.name if group else ""
    ec.isAdmin = ctx.is_admin
    ec.adminPrivileges = sorted(ctx.admin_privileges, key=ALL_PRIVILEGES.index)
    ec.eventId = -1
    ec.eventType = rec.event_type
    ec.memberOfGroups = list(ctx.member_of)
    ec.leaderOfGroups = list(ctx.leader_of)
    ec.groupPermissions = permissions(group) if group else None
    return ec


def roles() -> omero.sys.Roles:
    return omero.sys.Roles(
        rootId=0, rootName="root", systemGroupId=0, systemGroupName="system",
        userGroupId=1, userGroupName="user", guestId=1, guestName="guest",
        guestGroupId=2, guestGroupName="guest",
    )


def privilege_objs(names: tuple[str, ...] | list[str] | frozenset[str]) -> list[omero.model.AdminPrivilegeI]:
    out = []
    for name in sorted(names, key=ALL_PRIVILEGES.index):
        p = omero.model.AdminPrivilegeI(ALL_PRIVILEGES.index(name) + 1, True)
        p.value = rstring(name)
        out.append(p)
    return out


def count(value: int) -> object:
    return rint(value)
