"""Text the CLI prints: tables, TOML-looking values, and the views of ``list``, ``show``, ``test``, ``plugins``,
``login``, ``logout`` and ``env --session``.

Commands build JSON-ready data; this module turns it into lines. Every value from a file or a
server goes through ``printable``, so a value holding a newline or an escape sequence cannot
fake rows or recolour the terminal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from .text import printable


def table(rows: Sequence[Sequence[Any]]) -> list[str]:
    """Columns padded to the widest cell; the first row is the header."""
    cells = [[printable(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]


def toml_value(value: Any) -> str:
    """A value as it would be written in TOML (strings quoted and escaped)."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return printable(value)


def profile_rows(rows: Iterable[dict[str, Any]]) -> list[str]:
    """The ``list`` table: active marker, name, address, user (and su), source, group."""
    out: list[tuple[str, ...]] = [("", "NAME", "HOST", "USER", "SOURCE", "GROUP")]
    for r in rows:
        user = (r.get("user") or "") + (f" (su {r['su']})" if r.get("su") else "")
        out.append(("*" if r["active"] else "", r["name"], r.get("address") or "?", user,
                    r.get("source") or "INVALID", "" if r.get("group") is None else str(r["group"])))
    return table(out)


def show_lines(data: dict[str, Any], origin: dict[str, str], heading: str) -> list[str]:
    """``show``: one ``key = value  # origin`` line per key, under a heading comment."""
    lines = [(key, toml_value(value), origin.get(key, "")) for key, value in data.items()
             if key != "name" and not (value is None and key not in origin)]
    key_width = max(len(k) for k, _, _ in lines)
    value_width = min(48, max(len(v) for _, v, _ in lines))
    out = [f"# {printable(heading)}"]
    for key, shown, where in lines:
        text = f"{key.ljust(key_width)} = {shown.ljust(value_width)}"
        out.append(f"{text}  # {printable(where)}" if where else text.rstrip())
    return out


_GROUP_FROM = {"default": ", the user's default group",
               "joined session": ", the joined session's current group (the profile sets none)"}


def connection_lines(info: dict[str, Any]) -> list[str]:
    """``test``: who and where a live connection is."""
    admin = "no"
    if info["full_admin"]:
        admin = "full administrator"
    elif info["admin"]:
        admin = "restricted administrator (" + (", ".join(info["privileges"]) or "no privileges") + ")"
    group = info["group"]
    host = info["host"] if ":" not in info["host"] else f"[{info['host']}]"
    lines = [
        ("profile", info["profile"]),
        ("server", f"{host}:{info['port']} over {info['transport']}"
                   + (" (encrypted)" if info["encrypted"] else " (NOT encrypted)")),
        ("user", f"{info['user']['name']} (id {info['user']['id']})"
                 + (f", via su by {info['su_by']}" if info["su"] else "")),
        ("group", f"{group['name']} (id {group['id']})" + _GROUP_FROM.get(group.get("from"), "")),
        ("admin", admin),
        ("elapsed", f"{info['elapsed_ms']:.0f} ms to connect, after {info['credentials_ms']:.0f} ms getting "
                    "credentials"),
    ]
    if info["joined_session"]:
        lines.insert(3, ("session", "joined an existing session"))
    return [f"{key + ':':9} {printable(value)}" for key, value in lines]


def group_rows(rows: Iterable[dict[str, Any]]) -> list[str]:
    return table([("", "ID", "NAME", "PERMISSIONS")] +
                 [("*" if r["current"] else "", str(r["id"]), r["name"], r["permissions"] or "") for r in rows])


def plugin_lines(plugins: Iterable[dict[str, Any]], warnings: Iterable[str]) -> list[str]:
    """``plugins``: one row per plugin, its sources with their summaries, and every problem."""
    rows: list[tuple[str, ...]] = [("PLUGIN", "PACKAGE", "STATUS", "SOURCE", "SUMMARY")]
    for p in plugins:
        package = f"{p['distribution']} {p['version']}".strip()
        sources = p["sources"] or [{"name": "-", "summary": ""}]
        for i, source in enumerate(sources):
            first = i == 0
            rows.append((p["name"] if first else "", package if first else "", p["status"] if first else "",
                         source["name"], source["summary"]))
    out = table(rows)
    for p in plugins:
        out += [f"problem: plugin '{printable(p['name'])}': {printable(problem)}" for problem in p["problems"]]
    out += [f"warning: {printable(w)}" for w in warnings]
    return out


def login_lines(data: dict[str, Any]) -> list[str]:
    """``login``: the session (``LoginResult.as_json``), where it is stored, and its key only if asked for."""
    from .durations import limits  # not on the path of list/show, which import this module

    via = f" (su by {data['su_by']})" if data["su_by"] else ""
    lines = [f"Logged in to {data['host']}:{data['port']} as {data['user']}{via}, group {data['group']}; "
             f"{limits(data['time_to_idle_s'], data['time_to_live_s'])}.",
             f"Stored in {data['store']}: `omero` commands and source = \"omero-login\" profiles use it."]
    if data["user_token"]:
        lines.append(f"User token written to {data['user_token']} (omero-user-token's file).")
    lines = [printable(line) for line in lines]  # never raw control characters
    if "session_key" in data:
        lines.append(f"session key: {data['session_key']}")
    return lines


def child_line(user: str, group: str, time_to_idle_s: float, time_to_live_s: float) -> str:
    """``env --session``, on stderr: whose child session it is and its limits (never its key)."""
    from .durations import limits

    return printable(f"child session of {user} in group {group}: {limits(time_to_idle_s, time_to_live_s)}")


def logout_lines(profile: str, address: str, everything: bool, ended: Iterable[str]) -> list[str]:
    """``logout``: each session dealt with (``Ended.describe``), or why there was nothing to end."""
    lines = [printable(line) for line in ended]
    if lines:
        return lines
    said = (f"no stored session of profile '{profile}''s user on {address}" if everything
            else f"no session of profile '{profile}' is recorded (sessions made by `omero login`: "
                 f"omero-profile logout {profile} --all)")
    return [printable(f"Nothing to end: {said}.")]
