"""IAdmin: users, groups, memberships, owners, admin privileges and passwords, with OMERO's rules.

Each method follows ``ome.logic.AdminImpl`` (ome/omero-server): its roles (``@RolesAllowed``:
``user``, ``system``, ``HasPassword``), its checks (admin with a privilege, or owner of the
group: ``security.admin_or_pi_of_groups`` and co.) and its messages. The data rules (unique
names, default group first) are ``directory.py``'s. Changes show at once in every session's
event context, as OMERO's ``getEventContext`` is fresh on each call (ticket 4011).
"""

from __future__ import annotations

from typing import Any

import Ice
import omero
import omero.api
from omero.rtypes import unwrap

from . import objects, security
from .amd import amd, servant
from .context import StandIn
from .directory import ROOT_ID, SYSTEM, USER, Group, User
from .errors import BadUsage, Denied, Invalid
from .users import ALL_PRIVILEGES

SYSTEM_ROLES = ("system",)


def _id(obj: Any, what: str) -> int:
    if obj is None:
        raise BadUsage("Argument may not be null.")
    if obj.getId() is None:
        raise BadUsage(f"{what} has no id.")
    return int(obj.getId().getValue())


def _attr(obj: Any, name: str) -> Any:
    """A field of a model object sent by the client, None if unset or the object is unloaded."""
    if obj is None or not obj.isLoaded():
        return None
    return getattr(obj, "_" + name, None)


def _text(value: Any) -> str | None:
    value = unwrap(value)
    return None if value is None else str(value)


def _perms(obj: Any) -> str | None:
    details = getattr(obj, "details", None)
    perms = getattr(details, "permissions", None) if details is not None else None
    return str(perms) if perms is not None else None


def _privilege_names(privileges: Any) -> set[str]:
    names = set()
    for p in privileges or []:
        value = unwrap(p.getValue()) if p is not None else None
        if value not in ALL_PRIVILEGES:
            raise BadUsage(f"unknown light administrator privilege: {value}")
        names.add(value)
    return names


@servant
class AdminI(omero.api.IAdmin):
    """IAdmin as OMERO's AdminImpl."""

    def __init__(self, si: StandIn) -> None:
        self.si = si
        self.d = si.directory

    # -- helpers ----------------------------------------------------------------------------

    def _user(self, uid: int) -> User:
        user = self.d.user(uid)
        if user is None:
            raise BadUsage(f"No such experimenter: {uid}")
        return user

    def _group(self, gid: int) -> Group:
        group = self.d.group(gid)
        if group is None:
            raise BadUsage(f"No such group: {gid}")
        return group

    def _group_named(self, name: str) -> Group:
        group = self.d.group_named(name)
        if group is None:
            raise BadUsage(f"No such group: {name}")
        return group

    def _exp(self, user: User) -> Any:
        return objects.experimenter_obj(self.d, user)

    def _grp(self, group: Group) -> Any:
        return objects.group_obj(self.d, group)

    # -- who am I -----------------------------------------------------------------------------

    @amd
    def getEventContext(self, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current, roles=None)
        return objects.event_context(self.d, call.session, call.ctx, call.group_id)

    @amd
    def getSecurityRoles(self, current: Ice.Current | None = None) -> Any:
        self.si.call(current, roles=None, group=False)
        return objects.roles()

    # -- lookups ---------------------------------------------------------------------------------

    @amd
    def getExperimenter(self, id: int, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return self._exp(self._user(id))

    @amd
    def lookupExperimenter(self, name: str, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        user = self.d.user_named(name)
        if user is None:
            raise BadUsage(f"No such experimenter: {name}")
        return self._exp(user)

    @amd
    def lookupExperimenters(self, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return [self._exp(u) for u in self.d.users()]

    @amd
    def getGroup(self, id: int, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return self._grp(self._group(id))

    @amd
    def lookupGroup(self, name: str, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return self._grp(self._group_named(name))

    @amd
    def lookupGroups(self, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return [self._grp(g) for g in self.d.groups()]

    @amd
    def containedExperimenters(self, groupId: int, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        users = [self.d.user(lk.user_id) for lk in self.d.links_of_group(groupId)]
        return [self._exp(u) for u in users if u is not None]

    @amd
    def containedGroups(self, experimenterId: int, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        groups = [self.d.group(gid) for gid in self.d.member_of(experimenterId)]
        return [self._grp(g) for g in groups if g is not None]

    @amd
    def getDefaultGroup(self, experimenterId: int, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        group = self.d.default_group(experimenterId)
        if group is None:
            raise Invalid(f"The user {experimenterId} has no default group set.")
        return objects.group_obj(self.d, group, members=False)

    @amd
    def getMemberOfGroupIds(self, exp: Any, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return self.d.member_of(_id(exp, "Experimenter"))

    @amd
    def getLeaderOfGroupIds(self, exp: Any, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return self.d.leader_of(_id(exp, "Experimenter"))

    @amd
    def lookupLdapAuthExperimenters(self, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return []

    # -- admin privileges ---------------------------------------------------------------------

    @amd
    def getCurrentAdminPrivileges(self, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current)
        return objects.privilege_objs(call.ctx.admin_privileges)

    @amd
    def getAdminPrivileges(self, user: Any, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        return objects.privilege_objs(self.d.privileges(_id(user, "Experimenter")))

    @amd
    def getAdminsWithPrivileges(self, privileges: Any, current: Ice.Current | None = None) -> Any:
        self.si.call(current)
        wanted = _privilege_names(privileges)
        admins = [lk.user_id for lk in self.d.links_of_group(SYSTEM)]
        return [self._exp(self.d.user(uid)) for uid in admins if wanted <= self.d.privileges(uid)]

    @amd(void=True)
    def setAdminPrivileges(self, user: Any, privileges: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current, roles=SYSTEM_ROLES)
        wanted = _privilege_names(privileges)
        uid = _id(user, "Experimenter")
        self._user(uid)
        with self.d.transaction():
            before = self.d.privileges(uid)
            removed = frozenset(ALL_PRIVILEGES) - wanted
            if uid == ROOT_ID and removed:
                raise BadUsage("cannot remove light administrator privileges from the root user")
            self.d.set_restrictions(uid, removed)
            security.no_privilege_elevation(self.d, call.ctx, uid, before)

    # -- creating -----------------------------------------------------------------------------------

    def _create(self, call: Any, e: Any, password: str | None, default_gid: int, other_gids: list[int],
                restrictions: frozenset[str] = frozenset()) -> int:
        with self.d.transaction():
            security.admin_or_pi_of_non_user_groups(call.ctx, default_gid, other_gids)
            user = self.d.create_user(
                _text(_attr(e, "omeName")), first_name=_text(_attr(e, "firstName")) or "",
                middle_name=_text(_attr(e, "middleName")), last_name=_text(_attr(e, "lastName")) or "",
                email=_text(_attr(e, "email")), institution=_text(_attr(e, "institution")),
                ldap=bool(unwrap(_attr(e, "ldap"))), password=password, default_group=default_gid,
                other_groups=other_gids, restrictions=restrictions)
            security.no_privilege_elevation(self.d, call.ctx, user.id, frozenset())
            return user.id

    @amd
    def createExperimenter(self, user: Any, defaultGroup: Any, groups: Any, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current)
        gids = [_id(g, "ExperimenterGroup") for g in groups or []]
        return self._create(call, user, " ", _id(defaultGroup, "ExperimenterGroup"), gids)

    @amd
    def createExperimenterWithPassword(self, user: Any, password: Any, defaultGroup: Any, groups: Any,
                                       current: Ice.Current | None = None) -> Any:
        call = self.si.call(current)
        gids = [_id(g, "ExperimenterGroup") for g in groups or []]
        return self._create(call, user, _text(password), _id(defaultGroup, "ExperimenterGroup"), gids)

    @amd
    def createUser(self, experimenter: Any, group: str, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current)
        return self._create(call, experimenter, " ", self._group_named(group).id, [USER])

    @amd
    def createSystemUser(self, experimenter: Any, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current, roles=SYSTEM_ROLES)
        return self._create(call, experimenter, " ", SYSTEM, [USER])

    @amd
    def createRestrictedSystemUser(self, experimenter: Any, privileges: Any, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current, roles=SYSTEM_ROLES)
        removed = frozenset(ALL_PRIVILEGES) - _privilege_names(privileges)
        return self._create(call, experimenter, " ", SYSTEM, [USER], removed)

    @amd
    def createRestrictedSystemUserWithPassword(self, experimenter: Any, privileges: Any, password: Any,
                                               current: Ice.Current | None = None) -> Any:
        call = self.si.call(current, roles=SYSTEM_ROLES)
        removed = frozenset(ALL_PRIVILEGES) - _privilege_names(privileges)
        return self._create(call, experimenter, _text(password), SYSTEM, [USER], removed)

    @amd
    def createGroup(self, group: Any, current: Ice.Current | None = None) -> Any:
        call = self.si.call(current, roles=SYSTEM_ROLES)
        if not call.ctx.has("ModifyGroup"):
            raise Denied("Current user is neither admin nor group-leader for the given user(s)/group(s)")
        created = self.d.create_group(_text(_attr(group, "name")), _perms(group) or "rw----",
                                      _text(_attr(group, "description")), bool(unwrap(_attr(group, "ldap"))))
        return created.id

    # -- updating ------------------------------------------------------------------------------------

    def _self_update(self, call: Any, e: Any) -> None:
        me = call.session.user
        if call.session.sudoer is not None and call.session.sudoer is not me:
            security.admin_of_user(call.ctx)
        self.d.update_user(me.id, first_name=_text(_attr(e, "firstName")) or "",
                           middle_name=_text(_attr(e, "middleName")), last_name=_text(_attr(e, "lastName")) or "",
                           email=_text(_attr(e, "email")), institution=_text(_attr(e, "institution")))

    def _admin_update(self, e: Any) -> None:
        uid = _id(e, "Experimenter")
        self._user(uid)
        self.d.update_user(uid, name=_text(_attr(e, "omeName")), first_name=_text(_attr(e, "firstName")) or "",
                           middle_name=_text(_attr(e, "middleName")), last_name=_text(_attr(e, "lastName")) or "",
                           email=_text(_attr(e, "email")), institution=_text(_attr(e, "institution")))

    @amd(void=True)
    def updateSelf(self, experimenter: Any, current: Ice.Current | None = None) -> None:
        self._self_update(self.si.call(current), experimenter)

    @amd(void=True)
    def updateExperimenter(self, experimenter: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        try:
            security.admin_of_user(call.ctx)
        except Denied:
            if _id(experimenter, "Experimenter") != call.session.user.id:
                raise
            self._self_update(call, experimenter)
            return
        self._admin_update(experimenter)

    @amd(void=True)
    def updateExperimenterWithPassword(self, experimenter: Any, password: Any,
                                       current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        security.admin_of_user(call.ctx)
        self._admin_update(experimenter)
        self._change_user_password(call, self._user(_id(experimenter, "Experimenter")), _text(password))

    @amd(void=True)
    def updateGroup(self, group: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        gid = _id(group, "ExperimenterGroup")
        security.admin_or_pi_of_groups(call.ctx, "ModifyGroup", [gid])
        perms = _perms(group)
        if perms is not None:
            self._chmod(call, gid, perms)
        original = self._group(gid)
        name = _text(_attr(group, "name"))
        if name is not None and name != original.name and gid == call.session.group_id:
            raise Invalid(f"cannot rename the current group context '{original.name}'")
        self.d.update_group(gid, name=name, description=_text(_attr(group, "description")))

    # -- memberships and owners ------------------------------------------------------------------

    def _add_groups(self, call: Any, uid: int, gids: list[int]) -> None:
        with self.d.transaction():
            self._user(uid)
            for gid in gids:
                self._group(gid)
            before = self.d.privileges(uid)
            security.admin_or_pi_of_groups(call.ctx, "ModifyGroupMembership", gids)
            self.d.add_groups(uid, gids)
            security.no_privilege_elevation(self.d, call.ctx, uid, before)

    @amd(void=True)
    def addGroups(self, user: Any, groups: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        if not groups:
            raise Invalid("Nothing to do.")
        self._add_groups(call, _id(user, "Experimenter"), [_id(g, "ExperimenterGroup") for g in groups])

    @amd(void=True)
    def removeGroups(self, user: Any, groups: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        if user is None or groups is None:
            return
        uid = _id(user, "Experimenter")
        gids = [int(g.getId().getValue()) for g in groups if g is not None and g.getId() is not None]
        with self.d.lock:
            security.admin_or_pi_of_groups(call.ctx, "ModifyGroupMembership", gids)
            system_or_user = bool({SYSTEM, USER} & set(gids))
            if system_or_user and uid == ROOT_ID:
                raise Invalid("experimenter 'root' may not be removed from the 'system' or 'user' group")
            if system_or_user and uid == call.session.user.id:
                raise Invalid("experimenters may not remove themselves from the 'system' or 'user' group")
            remaining = set(self.d.member_of(self._user(uid).id)) - set(gids)
            if not remaining:
                raise Invalid("experimenter must remain a member of some group")
            if remaining == {USER}:
                raise Invalid("experimenter cannot be a member of only the 'user' group, "
                              "a different default group is also required")
            self.d.remove_groups(uid, gids)

    @amd(void=True)
    def setDefaultGroup(self, user: Any, group: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        if user is None or group is None:
            return
        if group.getId() is None:
            raise BadUsage("Group argument to setDefaultGroup must be managed (i.e. have an id)")
        uid, gid = _id(user, "Experimenter"), int(group.getId().getValue())
        if not (call.ctx.has("ModifyUser") or uid == call.session.user.id):
            raise Denied(f"User {uid} can only set own default group.")
        if gid == USER:
            raise BadUsage("Cannot set default group to: user")
        self._user(uid)
        self._group(gid)
        self.d.set_default_group(uid, gid)

    def _toggle_owners(self, call: Any, group: Any, owners: Any, value: bool) -> None:
        if group is None:
            return
        if group.getId() is None:
            raise BadUsage("Group argument to setGroupOwner must be managed (i.e. have an id)")
        gid = int(group.getId().getValue())
        security.admin_or_pi_of_groups(call.ctx, "ModifyGroupMembership", [gid])
        for owner in owners or []:
            if owner is None:
                continue
            if owner.getId() is None:
                raise BadUsage("Owner argument to setGroupOwner must be managed (i.e. have an id)")
            uid = int(owner.getId().getValue())
            with self.d.transaction():
                if gid not in self.d.member_of(self._user(uid).id):
                    self._add_groups(call, uid, [gid])
                self.d.set_owner(gid, uid, value)

    @amd(void=True)
    def setGroupOwner(self, group: Any, owner: Any, current: Ice.Current | None = None) -> None:
        self._toggle_owners(self.si.call(current), group, [owner], True)

    @amd(void=True)
    def unsetGroupOwner(self, group: Any, owner: Any, current: Ice.Current | None = None) -> None:
        self._toggle_owners(self.si.call(current), group, [owner], False)

    @amd(void=True)
    def addGroupOwners(self, group: Any, owners: Any, current: Ice.Current | None = None) -> None:
        self._toggle_owners(self.si.call(current), group, owners, True)

    @amd(void=True)
    def removeGroupOwners(self, group: Any, owners: Any, current: Ice.Current | None = None) -> None:
        self._toggle_owners(self.si.call(current), group, owners, False)

    # -- deleting ----------------------------------------------------------------------------------

    @amd(void=True)
    def deleteExperimenter(self, user: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        security.admin_of_user(call.ctx)
        self.d.delete_user(self._user(_id(user, "Experimenter")).id)

    @amd(void=True)
    def deleteGroup(self, group: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        gid = _id(group, "ExperimenterGroup")
        security.admin_or_pi_of_groups(call.ctx, "ModifyGroup", [gid])
        self.d.delete_group(self._group(gid).id)

    # -- permissions ---------------------------------------------------------------------------

    def _chmod(self, call: Any, gid: int, perms: str) -> None:
        """``GroupChmodStrategy``: group owners, or admins with ModifyGroup; user read stays."""
        group = self._group(gid)
        if not (gid in call.ctx.leader_of or call.ctx.has("ModifyGroup")):
            raise Denied("chmod not permitted")
        if len(perms) != 6 or perms[0] != "r":
            raise Denied(f"Cannot remove user read: ExperimenterGroup:{gid}")
        if perms != group.permissions:
            self.d.set_permissions(gid, perms)
            self.d.log_event(f"CHMOD({perms})", "ome.model.meta.ExperimenterGroup", gid,
                             call.session.user.id, call.session.id)

    @amd(void=True)
    def changePermissions(self, obj: Any, perms: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        if not isinstance(obj, omero.model.ExperimenterGroup):
            raise BadUsage("the stand-in holds no data: changePermissions works on ExperimenterGroup only")
        if perms is None:
            raise BadUsage("PERMS cannot be null")
        self._chmod(call, _id(obj, "ExperimenterGroup"), str(perms))

    # -- passwords ----------------------------------------------------------------------------------

    def _set_password(self, call: Any, user: User, password: str | None) -> None:
        self.d.set_password(user.id, password, by_uid=call.session.user.id, session_id=call.session.id)

    def _change_user_password(self, call: Any, target: User, password: str | None) -> None:
        security.admin_of_user(call.ctx)
        if not self.d.privileges(target.id) <= call.ctx.admin_privileges:
            raise Denied("Cannot change the password of a more privileged user.")
        self._set_password(call, target, password)

    @amd(void=True)
    def changePassword(self, newPassword: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current, password=True)
        self._set_password(call, call.session.user, _text(newPassword))

    @amd(void=True)
    def changePasswordWithOldPassword(self, oldPassword: Any, newPassword: Any,
                                      current: Ice.Current | None = None) -> None:
        call = self.si.call(current)
        old = _text(oldPassword)
        if old is None:
            raise BadUsage("old password may not be null")
        if not self.d.check_password(call.session.user.name, old):
            raise Denied("Old password is invalid")
        self._set_password(call, call.session.user, _text(newPassword))

    @amd(void=True)
    def changeUserPassword(self, omeName: str, newPassword: Any, current: Ice.Current | None = None) -> None:
        call = self.si.call(current, password=True)
        target = self.d.user_named(omeName)
        if target is None:
            raise BadUsage(f"No such experimenter: {omeName}")
        self._change_user_password(call, target, _text(newPassword))

    @amd(void=True)
    def synchronizeLoginCache(self, current: Ice.Current | None = None) -> None:
        self.si.call(current, roles=SYSTEM_ROLES)

