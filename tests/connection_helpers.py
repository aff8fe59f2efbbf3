"""Profiles files that point at a running stand-in server (used by the connection tests)."""

from __future__ import annotations

from pathlib import Path


def plain(server, user: str) -> str:
    return f'{{ source = "plain", username = "{user}", password = "{server.users[user].password}" }}'


def profiles_text(server) -> str:
    """Profiles for the built-in users of ``server`` (SSL unless a profile says otherwise)."""
    h, p = server.host, server.ssl_port
    return f"""
default = "alice"

[defaults]
timeout = 5
keepalive = 0

[profiles.alice]
host = "{h}"
port = {p}
credentials = {plain(server, "alice")}

[profiles.alice-insecure]
extends = "alice"
secure = false

[profiles.alice-private]
extends = "alice"
group = "alice-private"

[profiles.alice-by-id]
extends = "alice"
group = {server.users.groups["alice-private"].id}

[profiles.alice-all]
extends = "alice"
group = -1

[profiles.alice-not-member]
extends = "alice"
group = "bob-private"

[profiles.alice-no-such-group]
extends = "alice"
group = "no-such-group"

[profiles.alice-bad-password]
extends = "alice"
credentials = {{ source = "plain", username = "alice", password = "definitely-wrong-pw" }}

[profiles.alice-ws]
host = "{server.ws_url}"
credentials = {plain(server, "alice")}

[profiles.alice-wss]
host = "{server.wss_url}"
secure = false
credentials = {plain(server, "alice")}

[profiles.alice-tcp]
host = "tcp://{h}:{server.tcp_port}"
credentials = {plain(server, "alice")}

[profiles.alice-env]
host = "{h}"
port = {p}
credentials = {{ source = "env" }}

[profiles.alice-prompt]
extends = "alice"
credentials = {{ source = "prompt", username = "alice" }}

[profiles.session]
host = "{h}"
port = {p}
credentials = {{ source = "session", key_var = "TEST_OMERO_SESSION" }}

[profiles.root-as-bob]
host = "{h}"
port = {p}
su = "bob"
credentials = {plain(server, "root")}

[profiles.root-as-bob-shared]
extends = "root-as-bob"
group = "lab-shared"

[profiles.root-as-nobody]
extends = "root-as-bob"
su = "nobody"

[profiles.root-as-bob-wrong-group]
extends = "root-as-bob"
group = "alice-private"

[profiles.alice-as-bob]
extends = "alice"
su = "bob"

[profiles.helpdesk-as-bob]
extends = "root-as-bob"
credentials = {plain(server, "helpdesk")}

[profiles.sudoer-as-bob]
extends = "root-as-bob"
credentials = {plain(server, "sudoer")}

[profiles.helpdesk]
host = "{h}"
port = {p}
credentials = {plain(server, "helpdesk")}

[profiles.root]
host = "{h}"
port = {p}
credentials = {plain(server, "root")}

[profiles.refused]
host = "{h}"
port = 1
credentials = {plain(server, "alice")}

[profiles.tls-on-tcp-port]
host = "{h}"
port = {server.tcp_port}
credentials = {plain(server, "alice")}

[profiles.no-dns]
host = "omero.does-not-exist.invalid"
credentials = {plain(server, "alice")}
"""


def write_profiles(path: Path, server, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(profiles_text(server) + extra, encoding="utf-8")
    return path
