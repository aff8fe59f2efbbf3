"""A live demo that needs no OMERO server: ``scripts/demo.sh`` (or ``.venv/bin/python scripts/demo.py``).

Starts the stand-in OMERO server (the separate ``omero-profiles-standin`` distribution), writes a
demo profiles file in a temporary directory (your own profiles, state and keyring are never
touched), runs the CLI and a short ``get_conn`` script against it, then stops the server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from omero_standin import running_server

EXAMPLE = '''
from omeroprofiles import connect

with connect("alice") as conn:
    print("connected as", conn.getUser().getName(), "in group", conn.getGroupFromContext().getName())
    print("alice can switch to:", [g.getName() for g in conn.getGroupsMemberOf()])
'''


def _profiles(server) -> str:
    users = server.users
    return textwrap.dedent(f"""\
        # Demo profiles for the bundled stand-in OMERO server (test passwords, public on purpose).
        default = "alice"

        [defaults]
        host = "{server.host}"
        port = {server.ssl_port}
        timeout = 5

        [profiles.alice]
        description = "an analyst, over SSL"
        credentials = {{ source = "plain", username = "alice", password = "{users['alice'].password}" }}

        [profiles.alice-private]
        extends = "alice"
        group = "alice-private"
        secure = false            # log in over SSL, then work over plain TCP

        [profiles.root-as-bob]
        description = "a facility admin acting as bob (su)"
        su = "bob"
        credentials = {{ source = "plain", username = "root", password = "{users['root'].password}" }}

        [profiles.alice-wrong-group]
        extends = "alice"
        group = "bob-private"

        [profiles.alice-no-password]
        description = "joins the session `omero-profile login alice` stored (as `omero login` would)"
        credentials = {{ source = "omero-login", username = "alice" }}

        [profiles.dead-server]
        host = "127.0.0.1"
        port = 1
        credentials = {{ source = "env" }}
        """)


def _run(argv: list[str], env: dict[str, str], shown: str) -> int:
    print(f"\n$ {shown}", flush=True)
    done = subprocess.run(argv, env=env, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        print(f"(exit status {done.returncode})", flush=True)
    return done.returncode


def main() -> int:
    script = str(Path(sys.executable).with_name("omero-profile"))
    cli = [script] if os.path.exists(script) else [sys.executable, "-m", "omeroprofiles"]
    print("Starting the bundled stand-in OMERO server ...", flush=True)
    with running_server() as server, tempfile.TemporaryDirectory(prefix="omero-profiles-demo-") as tmp:
        print(f"  listening on {server.host}: ssl {server.ssl_port}, tcp {server.tcp_port}, "
              f"ws {server.ws_port}, wss {server.wss_port}")
        profiles = Path(tmp) / "profiles.toml"
        profiles.write_text(_profiles(server), encoding="utf-8")
        env = {**os.environ, "OMERO_PROFILES_FILE": str(profiles), "XDG_STATE_HOME": str(Path(tmp) / "state"),
               "XDG_CACHE_HOME": str(Path(tmp) / "cache"), "OMERO_SESSIONDIR": str(Path(tmp) / "sessions"),
               "OMERO_PROFILES_SYSTEM_FILE": str(Path(tmp) / "no-site-file.toml")}
        env.pop("OMERO_PROFILE", None)
        env.update(OMERO_USER="alice", OMERO_PASSWORD=server.users["alice"].password)  # for dead-server
        print(f"  demo profiles file: {profiles}")
        failures = 0
        for args, expected in ((["list"], 0), (["show", "alice-private"], 0), (["test", "alice"], 0),
                               (["test", "alice-private"], 0), (["test", "root-as-bob"], 0),
                               (["groups", "alice-private"], 0), (["test", "alice-wrong-group"], 7),
                               (["test", "dead-server"], 5), (["login", "alice"], 0),
                               (["test", "alice-no-password"], 0), (["logout", "alice"], 0),
                               (["test", "alice-no-password"], 6)):
            code = _run([*cli, *args], env, "omero-profile " + " ".join(args))
            failures += code != expected
        print("\n$ python example.py" + textwrap.indent(EXAMPLE, "    | "), flush=True)
        done = subprocess.run([sys.executable, "-c", EXAMPLE], env=env, check=False)
        failures += done.returncode != 0
        print(f"\nSessions left open on the server: {server.session_count()}")
        failures += server.session_count() != 0
    print("Stand-in server stopped." + (" Demo OK." if not failures else f" {failures} step(s) went wrong."))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
