"""Who may see, create, link, annotate, edit and delete data: OMERO's group permissions, free of Ice.

From OMERO.server (ome/omero-server, ``ome.security.basic``):

- **Reading** (``OneGroupSecurityFilter``, ``AllGroupsSecurityFilter``): with a group in the
  call context only that group's data is visible (and everything in ``system``/``user``);
  there, a member sees everyone's data unless the group is private (``rw----``), where only
  the owner, the group's owners and administrators see it. With ``omero.group = -1``:
  administrators see all; others the data of groups readable to the world, their own, that
  of the groups they are in that are readable to members, and of the groups they lead.
- **Rights on an object** (``BasicACLVoter.allowUpdateOrDelete``): link, edit and delete need
  ``w``, annotate needs ``a`` (or ``w``), for the caller's role: the owner's (``rw`` always),
  a member's (the group's middle pair) or anyone's (the last pair). Group owners and full
  administrators may do everything; restricted administrators what their privileges say
  (``WriteOwned``/``DeleteOwned``, ``WriteFile``/``DeleteFile`` for files); the guest nothing.
  In a private group, an administrator or group owner may not link to or annotate someone
  else's data (``CurrentDetails.isGraphCritical``, ticket 1769).
- **Linking** (``OmeroInterceptor.evaluateLinkages``): the linked object must be in the same
  group, and the caller needs ``w`` on it (``a`` for an annotation link, or a Roi on an image),
  unless they own it, lead its group or are an administrator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .directory import GUEST_ID, SYSTEM, USER
from .security import Context
from .users import ALL_PRIVILEGES

SCOPES = ("link", "edit", "delete", "annotate")
PermsOf = Callable[[int], str]
"""A group id -> its permissions string (``rwra--``)."""


@dataclass(frozen=True)
class Actor:
    """The caller of one service call: who, in which group (-1 = all of theirs), with what standing."""

    user_id: int
    group_id: int
    member_of: frozenset[int]
    leader_of: frozenset[int]
    admin: bool
    privileges: frozenset[str]

    @property
    def guest(self) -> bool:
        return self.user_id == GUEST_ID

    @property
    def full_admin(self) -> bool:
        return self.admin and self.privileges == frozenset(ALL_PRIVILEGES)

    def privileged(self, privilege: str) -> bool:
        return self.admin and privilege in self.privileges


def actor(ctx: Context, group_id: int) -> Actor:
    return Actor(ctx.user.id, group_id, frozenset(ctx.member_of), frozenset(ctx.leader_of), ctx.is_admin,
                 ctx.admin_privileges)


# -- permission strings -----------------------------------------------------------------------------


def granted(perms: str, role: str, right: str) -> bool:
    """``Permissions.isGranted``: role user/group/world, right read/annotate/write ('w' implies 'a')."""
    pair = perms[{"user": 0, "group": 2, "world": 4}[role]:][:2]
    if right == "read":
        return pair[0] == "r"
    if right == "write":
        return pair[1] == "w"
    return pair[1] in ("a", "w")


# -- reading -------------------------------------------------------------------------------------------


def can_read(who: Actor, owner_id: int, group_id: int, perms_of: PermsOf) -> bool:
    if group_id in (SYSTEM, USER):
        return True
    if who.group_id >= 0:
        if group_id != who.group_id:
            return False
        perms = perms_of(group_id)
        non_private = granted(perms, "group", "read") or granted(perms, "world", "read")
        return non_private or who.admin or group_id in who.leader_of or owner_id == who.user_id
    if who.admin:
        return True
    perms = perms_of(group_id)
    return (granted(perms, "world", "read")
            or (owner_id == who.user_id and granted(perms, "user", "read"))
            or (group_id in who.member_of and granted(perms, "group", "read"))
            or group_id in who.leader_of)


# -- rights on an object ------------------------------------------------------------------------------


def graph_critical(who: Actor, group_id: int, perms_of: PermsOf) -> bool:
    """``CurrentDetails.isGraphCritical``: an administrator or group owner in a private group."""
    gid = who.group_id if who.group_id >= 0 else group_id
    perms = perms_of(gid)
    if granted(perms, "world", "read") or granted(perms, "group", "read"):
        return False
    return who.admin or gid in who.leader_of


def rights(who: Actor, owner_id: int, group_id: int, perms_of: PermsOf, is_file: bool = False) -> frozenset[str]:
    """The scopes (link, edit, delete, annotate) ``who`` holds on an object with this owner and group."""
    if who.guest:
        return frozenset()
    out = set()
    critical = owner_id != who.user_id and graph_critical(who, group_id, perms_of)
    perms = "rw----" if group_id == USER else perms_of(group_id)
    for scope in SCOPES:
        if scope in ("link", "annotate") and critical:
            continue
        if who.full_admin:
            out.add(scope)
            continue
        if scope == "delete":
            privilege = "DeleteFile" if is_file else "DeleteOwned"
        else:
            privilege = "WriteFile" if is_file else "WriteOwned"
        right = "annotate" if scope == "annotate" else "write"
        if (who.privileged(privilege) or group_id in who.leader_of
                or granted(perms, "world", right)
                or (owner_id == who.user_id and granted(perms, "user", right))
                or (group_id in who.member_of and granted(perms, "group", right))):
            out.add(scope)
    return frozenset(out)


def privileged_creator(who: Actor, is_file: bool = False) -> bool:
    """``newTransientDetails``: may this administrator create data for others (WriteOwned/WriteFile)?"""
    return who.privileged("WriteFile" if is_file else "WriteOwned")


def supervisor(who: Actor, owner_id: int, group_id: int, is_file: bool = False) -> bool:
    """``CurrentDetails.isOwnerOrSupervisor``: owner, owner of the group, or a privileged administrator."""
    return group_id in who.leader_of or owner_id == who.user_id or privileged_creator(who, is_file)


def link_right(changed_kind: str, linked_kind: str, annotation_link: bool) -> str:
    """``OmeroInterceptor.neededRight``: annotate for annotation links and a Roi's image, else write."""
    from . import schema

    if annotation_link or (schema.is_a(changed_kind, "Roi") and schema.is_a(linked_kind, "Image")):
        return "annotate"
    return "write"
