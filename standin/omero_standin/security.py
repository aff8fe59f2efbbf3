"""Who may do what: OMERO's security rules over the directory and a session, free of Ice.

Taken from OMERO.server (ome/omero-server): the event context of a session
(``SessionManagerImpl.executeSessionContextLookup``, ``BasicSecuritySystem.loadEventContext``),
method roles (``BasicMethodSecurity``: a role is the name of a group the user is in, ``user``,
``system`` or ``guest``; ``HasPassword`` means the Glacier2 session was opened with a password,
not joined by key, unless ``setSecurityPassword`` was called), and the ``AdminImpl`` checks
(``adminOfUser``, ``adminOrPiOfGroups``, ``assertNoPrivilegeElevation``). Messages are OMERO's.

Sudo: a session made by ``createSessionWithTimeout(s)`` records its sudoer. If the sudoer is not
an administrator with the ``Sudo`` privilege it is a *group-owner sudo*: the target may only use
groups the sudoer leads, and its memberships are cut down to those it shares with the sudoer.
Admin privileges of a session are those neither the user nor the sudoer is restricted from.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .directory import SYSTEM, Directory, User
from .errors import BadUsage, Denied
from .users import ALL_PRIVILEGES


@dataclass(frozen=True)
class Context:
    """The security context of one session (OMERO's EventContext, before the call group)."""

    user: User
    sudoer: User | None
    member_of: tuple[int, ...]
    leader_of: tuple[int, ...]
    privileges: frozenset[str]
    groups_led: tuple[int, ...] | None
    """For a group-owner sudo: the only groups the session may act in; None otherwise."""

    @property
    def is_admin(self) -> bool:
        return SYSTEM in self.member_of

    @property
    def admin_privileges(self) -> frozenset[str]:
        """``getCurrentAdminPrivilegesForSession``: the session's privileges if admin, else none."""
        return self.privileges if self.is_admin else frozenset()

    def has(self, privilege: str) -> bool:
        return privilege in self.admin_privileges


def context(directory: Directory, user: User, sudoer: User | None,
            groups_led: tuple[int, ...] | None) -> Context:
    member = directory.member_of(user.id)
    leader = directory.leader_of(user.id)
    admin_privileges = SYSTEM in member
    if sudoer is not None:
        if directory.is_system_member(sudoer.id):
            sudo_privilege = "Sudo" not in sudoer.restrictions
        else:
            sudo_privilege = admin_privileges = False
        if not sudo_privilege:  # a group-owner sudo: only what the sudoer shares
            sudoer_leads, sudoer_member = set(directory.leader_of(sudoer.id)), set(directory.member_of(sudoer.id))
            leader = [g for g in leader if g in sudoer_leads]
            member = [g for g in member if g in sudoer_member]
    privileges = frozenset(ALL_PRIVILEGES) - user.restrictions - (sudoer.restrictions if sudoer else frozenset())
    return Context(user, sudoer, tuple(member), tuple(leader), privileges if admin_privileges else frozenset(),
                   groups_led)


# -- method roles --------------------------------------------------------------------------------


def roles(directory: Directory, user: User) -> list[str]:
    """The user's roles: the names of the groups they are in (``IAdmin.getUserRoles``)."""
    names = []
    for gid in directory.member_of(user.id):
        group = directory.group(gid)
        if group is not None:
            names.append(group.name)
    return names


def check_roles(directory: Directory, user: User, session_uuid: str, allowed: Iterable[str],
                has_password: bool = True) -> None:
    """``BasicMethodSecurity.checkMethod``: one of the allowed roles, and a password if required."""
    allowed = list(allowed)
    if "HasPassword" in allowed and not has_password:
        raise Denied("Bad authentication credentials for this action.\nSee setSecurityPassword for more information")
    actual = roles(directory, user)
    if not any(role in actual for role in allowed):
        raise Denied(f"No matching roles found in {_java_list(actual)} for session {session_uuid} "
                     f"(allowed: {_java_list(allowed)})")


def _java_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(items) + "]"


# -- the call group ---------------------------------------------------------------------------------


def check_call_group(directory: Directory, ctx: Context, group_id: int) -> None:
    """``BasicSecuritySystem.loadEventContext``: may this session act in ``group_id`` (-1 = all)?"""
    if ctx.groups_led is not None and group_id not in ctx.groups_led:
        raise Denied("Group-sudo session cannot change context!")
    if group_id < 0:
        return
    group = directory.group(group_id)
    if group is None:
        raise BadUsage(f"No such group: {group_id}")
    if not ctx.is_admin and group_id not in ctx.member_of and group.permissions[4] != "r":
        raise Denied(f"User {ctx.user.id} is not a member of group {group_id} and cannot login")


# -- AdminImpl checks --------------------------------------------------------------------------------


def admin_of_user(ctx: Context) -> None:
    if not ctx.has("ModifyUser"):
        raise Denied("Current user is not admin for the given user(s)")


def _non_admin_or_pi() -> Denied:
    return Denied("Current user is neither admin nor group-leader for the given user(s)/group(s)")


def is_pi_of_user(directory: Directory, ctx: Context, uid: int) -> bool:
    return bool(set(ctx.leader_of) & set(directory.member_of(uid)))


def admin_or_pi_of_user(directory: Directory, ctx: Context, uid: int) -> None:
    if not (ctx.has("ModifyUser") or is_pi_of_user(directory, ctx, uid)):
        raise _non_admin_or_pi()


def admin_or_pi_of_groups(ctx: Context, privilege: str, gids: Iterable[int]) -> None:
    if ctx.has(privilege):
        return
    for gid in gids:
        if gid not in ctx.leader_of:
            raise _non_admin_or_pi()


def admin_or_pi_of_non_user_groups(ctx: Context, default_gid: int, other_gids: Iterable[int]) -> None:
    from .directory import USER

    admin_or_pi_of_groups(ctx, "ModifyUser", [default_gid])
    admin_or_pi_of_groups(ctx, "ModifyUser", [g for g in other_gids if g != USER])


def no_privilege_elevation(directory: Directory, ctx: Context, uid: int, before: frozenset[str]) -> None:
    gained = directory.privileges(uid) - before
    if gained - ctx.admin_privileges:
        raise Denied("cannot give administrator privileges that current user does not have")


def sudo_groups(ctx: Context, session_privileges: frozenset[str]) -> tuple[int, ...] | None:
    """``SessionBean.createSessionWithTimeouts``: None (any group) for an admin whose session holds
    Sudo, else the groups the caller leads (a group-owner sudo)."""
    if ctx.is_admin and "Sudo" in session_privileges:
        return None
    return ctx.leader_of
