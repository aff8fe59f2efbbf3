"""Users and groups of the stand-in OMERO server: the TOML users file and its data model.

Kept free of Ice/omero imports so tests and fixtures can read the data without starting
anything. The server process and the test process parse the same file with the same code,
so ids, default groups and passwords agree on both sides.

File format (every key but ``password`` is optional)::

    [groups.lab-a]
    permissions = "rwr---"          # default "rw----"
    description = "..."

    [users.alice]
    password = "alice-pw"
    groups = ["lab-a", "lab-b"]     # first = default group
    admin = false                   # true = full admin; "restricted" = restricted admin
    privileges = []                 # restricted admins only, e.g. ["Sudo"]
    owner_of = ["lab-a"]            # groups this user leads (must be among `groups`)
    first_name = "Alice"
    last_name = "Analyst"
    email = "alice@example.org"

A ``[data]`` section lists the projects, datasets, images, screens and plates the server
starts with (``dataspec`` describes it).

As on a real server, the groups ``system`` (id 0), ``user`` (id 1) and ``guest`` (id 2)
always exist; every user but ``guest`` is a member of ``user`` and every admin of ``system``.
The users ``root`` (id 0, full admin) and ``guest`` (id 1) always exist too: a file that does
not define them gets the built-in ones (passwords ``root-pw`` and ``guest``). Groups named in
``groups`` but not defined under ``[groups]`` are created with permissions ``rw----``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import dataspec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_USERS_FILE = Path(__file__).with_name("default_users.toml")

#: Every value of OMERO's AdminPrivilege enumeration (OMERO 5.4+); full admins hold all of them.
ALL_PRIVILEGES: tuple[str, ...] = (
    "Chgrp",
    "Chown",
    "DeleteFile",
    "DeleteManagedRepo",
    "DeleteOwned",
    "DeleteScriptRepo",
    "ModifyGroup",
    "ModifyGroupMembership",
    "ModifyUser",
    "ReadSession",
    "Sudo",
    "WriteFile",
    "WriteManagedRepo",
    "WriteOwned",
    "WriteScriptRepo",
)

SYSTEM_GROUPS = {"system": (0, "rw----"), "user": (1, "rwr-r-"), "guest": (2, "rw----")}
_BUILTIN_ROOT = {"password": "root-pw", "groups": ["system"], "admin": True}
_BUILTIN_GUEST = {"password": "guest", "groups": ["guest"]}
_USER_KEYS = {"password", "groups", "admin", "privileges", "owner_of", "first_name", "last_name", "email"}
_GROUP_KEYS = {"permissions", "description"}


class UsersFileError(ValueError):
    """The users file is not valid; the message names the file, the entry and the key."""


@dataclass(frozen=True)
class GroupSpec:
    """One ExperimenterGroup."""

    id: int
    name: str
    permissions: str = "rw----"
    description: str = ""


@dataclass(frozen=True)
class UserSpec:
    """One Experimenter, with the password the stand-in server accepts for it."""

    id: int
    name: str
    password: str = field(repr=False)
    groups: tuple[str, ...]
    admin: bool = False
    restricted: bool = False
    privileges: tuple[str, ...] = ()
    owner_of: tuple[str, ...] = ()
    first_name: str = ""
    last_name: str = ""
    email: str = ""

    @property
    def role(self) -> str:
        """``admin``, ``restricted-admin``, ``user`` or ``guest``."""
        if self.admin:
            return "restricted-admin" if self.restricted else "admin"
        return "guest" if self.name == "guest" else "user"

    @property
    def is_full_admin(self) -> bool:
        return self.admin and not self.restricted

    @property
    def admin_privileges(self) -> tuple[str, ...]:
        """What ``getCurrentAdminPrivileges`` reports: all for full admins, none for users."""
        if not self.admin:
            return ()
        return ALL_PRIVILEGES if not self.restricted else self.privileges

    @property
    def memberships(self) -> tuple[str, ...]:
        """All groups, default first, then the rest of ``groups``, then implicit system/user."""
        out = list(self.groups)
        if self.admin and "system" not in out:
            out.append("system")
        if self.name != "guest" and "user" not in out:
            out.append("user")
        return tuple(out)

    @property
    def default_group(self) -> str:
        return self.memberships[0]


@dataclass(frozen=True, eq=False)
class UserDirectory(Mapping[str, UserSpec]):
    """Users by name (a read-only mapping) plus the groups they refer to."""

    users: dict[str, UserSpec]
    groups: dict[str, GroupSpec]
    source: str = field(default="<built-in>", compare=False)
    data: tuple[dataspec.Node, ...] = field(default=(), compare=False)
    """The objects the server starts with (the ``[data]`` section; see ``dataspec``)."""
    raw_data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, name: str) -> UserSpec:
        return self.users[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.users)

    def __len__(self) -> int:
        return len(self.users)

    def __repr__(self) -> str:
        return f"UserDirectory({', '.join(self.users)}; source={self.source})"

    def user_by_id(self, uid: int) -> UserSpec | None:
        return next((u for u in self.users.values() if u.id == uid), None)

    def group_by_id(self, gid: int) -> GroupSpec | None:
        return next((g for g in self.groups.values() if g.id == gid), None)

    def members(self, group: str) -> list[UserSpec]:
        """Members of a group, by user id."""
        return sorted((u for u in self.users.values() if group in u.memberships), key=lambda u: u.id)

    def to_toml_dict(self) -> dict[str, Any]:
        """The TOML document that parses back to this directory (implicit entries left out)."""
        groups = {
            g.name: {"permissions": g.permissions, "description": g.description}
            for g in self.groups.values()
            if g.name not in SYSTEM_GROUPS
        }
        users: dict[str, Any] = {}
        for u in self.users.values():
            entry: dict[str, Any] = {"password": u.password, "groups": list(u.groups)}
            if u.admin:
                entry["admin"] = "restricted" if u.restricted else True
            if u.restricted:
                entry["privileges"] = list(u.privileges)
            for key in ("owner_of", "first_name", "last_name", "email"):
                value = getattr(u, key)
                if value:
                    entry[key] = list(value) if isinstance(value, tuple) else value
            users[u.name] = entry
        out: dict[str, Any] = {"groups": groups, "users": users}
        if self.raw_data:
            out["data"] = self.raw_data
        return out


def load_users(path: str | Path | None = None) -> UserDirectory:
    """Read a users file; ``None`` reads the built-in default set."""
    file = Path(path) if path is not None else DEFAULT_USERS_FILE
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsersFileError(f"{file}: {exc}") from exc
    return parse_users(data, source=str(file))


def parse_users(data: Mapping[str, Any], source: str = "<data>") -> UserDirectory:
    """Validate a parsed users document and assign OMERO-like ids."""

    def fail(where: str, problem: str) -> UsersFileError:
        return UsersFileError(f"{source}: {where}: {problem}")

    unknown = set(data) - {"groups", "users", "data"}
    if unknown:
        raise fail("top level", f"unknown key(s) {sorted(unknown)}")
    groups: dict[str, GroupSpec] = {
        name: GroupSpec(gid, name, perms) for name, (gid, perms) in SYSTEM_GROUPS.items()
    }
    for name, table in dict(data.get("groups", {})).items():
        where = f"group {name!r}"
        if name in SYSTEM_GROUPS:
            raise fail(where, "is a built-in group and cannot be redefined")
        if not isinstance(table, Mapping):
            raise fail(where, "must be a table")
        if set(table) - _GROUP_KEYS:
            raise fail(where, f"unknown key(s) {sorted(set(table) - _GROUP_KEYS)}")
        perms = table.get("permissions", "rw----")
        if not (isinstance(perms, str) and len(perms) == 6 and set(perms) <= set("rwa-")):
            raise fail(where, f"permissions must look like 'rwr---', got {perms!r}")
        groups[name] = GroupSpec(len(groups), name, perms, str(table.get("description", "")))

    raw_users = dict(data.get("users", {}))
    raw_users.setdefault("root", _BUILTIN_ROOT)
    raw_users.setdefault("guest", _BUILTIN_GUEST)
    order = ["root", "guest"] + [n for n in raw_users if n not in ("root", "guest")]
    users: dict[str, UserSpec] = {}
    for name in order:
        table = raw_users[name]
        where = f"user {name!r}"
        if not isinstance(table, Mapping):
            raise fail(where, "must be a table")
        if set(table) - _USER_KEYS:
            raise fail(where, f"unknown key(s) {sorted(set(table) - _USER_KEYS)}")
        password = table.get("password")
        if not isinstance(password, str) or not password:
            raise fail(where, "password must be a non-empty string")
        member = table.get("groups")
        if not (isinstance(member, list) and member and all(isinstance(g, str) for g in member)):
            raise fail(where, "groups must be a non-empty list of group names")
        if len(set(member)) != len(member):
            raise fail(where, "groups lists a group twice")
        admin = table.get("admin", False)
        if admin not in (True, False, "restricted"):
            raise fail(where, f"admin must be true, false or \"restricted\", got {admin!r}")
        privileges = table.get("privileges", [])
        if not isinstance(privileges, list) or set(privileges) - set(ALL_PRIVILEGES):
            raise fail(where, f"privileges must be a list of {', '.join(ALL_PRIVILEGES)}")
        if privileges and admin != "restricted":
            raise fail(where, "privileges apply only to admin = \"restricted\"")
        if name == "root" and admin is not True:
            raise fail(where, "root is always a full admin (admin = true)")
        if name == "guest" and admin:
            raise fail(where, "guest cannot be an admin")
        owner_of = table.get("owner_of", [])
        if not isinstance(owner_of, list) or set(owner_of) - set(member):
            raise fail(where, "owner_of must list groups from `groups`")
        for key in ("first_name", "last_name", "email"):
            if not isinstance(table.get(key, ""), str):
                raise fail(where, f"{key} must be a string")
        for g in member:
            if g not in groups:
                groups[g] = GroupSpec(len(groups), g)
        users[name] = UserSpec(
            id=len(users),
            name=name,
            password=password,
            groups=tuple(member),
            admin=bool(admin),
            restricted=admin == "restricted",
            privileges=tuple(privileges),
            owner_of=tuple(owner_of),
            first_name=table.get("first_name", ""),
            last_name=table.get("last_name", ""),
            email=table.get("email", ""),
        )
    def groups_of(name: str) -> tuple[str, ...] | None:
        user = users.get(name)
        return None if user is None else tuple(g for g in user.memberships if g != "user")

    raw_data = data.get("data", {})
    nodes = dataspec.parse(raw_data, groups_of, fail)
    return UserDirectory(users=users, groups=groups, source=source, data=nodes,
                         raw_data=dict(raw_data) if nodes else {})


DEFAULT_USERS: UserDirectory = load_users()
