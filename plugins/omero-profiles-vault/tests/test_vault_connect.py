"""Vault profiles connect to the stand-in OMERO server with secrets read from a real OpenBao."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import NAMESPACE, Profiles, VaultWorld
from omeroprofiles import CredentialError, get_conn, load_profile
from omeroprofiles.cli import cli
from omeroprofiles.connection import fetch_credentials
from openbao_dev import bao_binary


def _user_of(name: str) -> str:
    conn = get_conn(name)
    try:
        return conn.getUser().getName()
    finally:
        conn.close()


def _token_count(vault: VaultWorld) -> int:
    return len(vault.server.client().auth.token.list_accessors()["data"]["keys"])


def test_kv2_with_vault_token(vault: VaultWorld, profiles: Profiles, monkeypatch: pytest.MonkeyPatch,
                              no_leaked_sessions) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("v2", {"source": "vault", "url": vault.address, "path": "omero/alice"})
    assert _user_of("v2") == "alice"


def test_kv1_with_token_env_and_vault_addr(vault: VaultWorld, profiles: Profiles, monkeypatch: pytest.MonkeyPatch,
                                           no_leaked_sessions) -> None:
    monkeypatch.setenv("VAULT_ADDR", vault.address)
    monkeypatch.setenv("LAB_VAULT_TOKEN", vault.reader_token)
    profiles.add("v1", {"source": "vault", "mount": "kv1", "kv_version": 1, "path": "omero/bob",
                        "token_env": "LAB_VAULT_TOKEN"})
    assert _user_of("v1") == "bob"


def test_approle_logs_in_reads_and_revokes_its_token(vault: VaultWorld, profiles: Profiles,
                                                     monkeypatch: pytest.MonkeyPatch, no_leaked_sessions) -> None:
    monkeypatch.setenv("PIPELINE_SECRET_ID", vault.secret_id())
    profiles.add("approle", {"source": "vault", "url": vault.address, "path": "omero/alice",
                             "role_id": vault.role_id, "secret_id_env": "PIPELINE_SECRET_ID"})
    before = _token_count(vault)
    assert _user_of("approle") == "alice"
    assert _user_of("approle") == "alice"
    assert _token_count(vault) == before, "each AppRole login's token must be revoked after the read"


def test_approle_default_secret_id_variable(vault: VaultWorld, profiles: Profiles,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_SECRET_ID", vault.secret_id())
    profiles.add("approle", {"source": "vault", "url": vault.address, "path": "omero/bob", "role_id": vault.role_id})
    assert fetch_credentials(load_profile("approle")).username == "bob"


def test_token_file_written_by_bao_login(vault: VaultWorld, profiles: Profiles, isolated: Path) -> None:
    """`bao login` (the real CLI) writes ~/.vault-token; with no VAULT_TOKEN the profile uses it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env.update(HOME=str(isolated), BAO_ADDR=vault.address)
    done = subprocess.run([bao_binary(), "login", "-no-print", vault.reader_token], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert (isolated / ".vault-token").read_text().strip() == vault.reader_token
    profiles.add("file", {"source": "vault", "url": vault.address, "path": "omero/alice"})
    assert fetch_credentials(load_profile("file")).username == "alice"


def test_vault_token_beats_the_token_file(vault: VaultWorld, profiles: Profiles, isolated: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / ".vault-token").write_text("canary-stale-token\n")
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("p", {"source": "vault", "url": vault.address, "path": "omero/alice"})
    assert fetch_credentials(load_profile("p")).username == "alice"


def test_token_env_is_the_only_place_looked(vault: VaultWorld, profiles: Profiles, isolated: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    (isolated / ".vault-token").write_text(vault.reader_token)
    profiles.add("p", {"source": "vault", "url": vault.address, "path": "omero/alice", "token_env": "LAB_TOKEN"})
    with pytest.raises(CredentialError, match=r"no Vault token: \$LAB_TOKEN \(token_env\) is not set$"):
        fetch_credentials(load_profile("p"))


def test_session_key_key_joins_a_session_stored_in_vault(vault: VaultWorld, profiles: Profiles, omero_server,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         no_leaked_sessions) -> None:
    from omero.gateway import BlitzGateway

    owner = BlitzGateway(**omero_server.gateway_args("alice"))
    assert owner.connect()
    try:
        key = owner.getSession().getUuid().val
        vault.canaries.append(key)
        vault.write("omero/alice-session", {"session": key})
        monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
        profiles.add("joined", {"source": "vault", "url": vault.address, "path": "omero/alice-session",
                                "session_key_key": "session"})
        credentials = fetch_credentials(load_profile("joined"))
        assert credentials.session_key is not None and credentials.username is None
        conn = get_conn("joined")
        try:
            assert conn.getUser().getName() == "alice"
            assert conn.getSession().getUuid().val == key
        finally:
            conn.close()  # a joined session is detached, not killed
        assert key in {s["uuid"] for s in omero_server.sessions()}
    finally:
        owner.close()  # ends the session: nothing is left behind


def test_namespace_reaches_vault(vault: VaultWorld, profiles: Profiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """omero/bob exists only in the 'team' namespace of the real server; the root namespace lacks it."""
    monkeypatch.setenv("VAULT_TOKEN", vault.server.root_token)
    table = {"source": "vault", "url": vault.address, "path": "omero/bob", "mount": "secret"}
    vault.write("omero/team-only", {"x": "y"}, namespace=NAMESPACE)
    profiles.add("team", {**table, "path": "omero/team-only", "password_key": "x", "username": "bob",
                          "namespace": NAMESPACE})
    profiles.add("root-ns", {**table, "path": "omero/team-only", "password_key": "x", "username": "bob"})
    assert fetch_credentials(load_profile("team")).password.get_secret_value() == "y"
    with pytest.raises(CredentialError, match="secret not found"):
        fetch_credentials(load_profile("root-ns"))
    monkeypatch.setenv("VAULT_NAMESPACE", NAMESPACE)
    assert fetch_credentials(load_profile("root-ns")).password.get_secret_value() == "y"


def test_namespace_profile_connects(vault: VaultWorld, profiles: Profiles, monkeypatch: pytest.MonkeyPatch,
                                    no_leaked_sessions) -> None:
    monkeypatch.setenv("VAULT_TOKEN", vault.server.root_token)
    profiles.add("team", {"source": "vault", "url": vault.address, "path": "omero/bob", "namespace": NAMESPACE})
    assert _user_of("team") == "bob"


def test_tls_with_ca_cert(start_bao, profiles: Profiles, monkeypatch: pytest.MonkeyPatch,
                          no_leaked_sessions) -> None:
    """`bao server -dev-tls`: a generated CA. verify (default) refuses it; ca_cert or $VAULT_CACERT trusts it."""
    server = start_bao(tls=True)
    assert server.address.startswith("https://")
    server.client().secrets.kv.v2.create_or_update_secret(
        path="omero/alice", secret={"username": "alice", "password": profiles.server.users["alice"].password})
    monkeypatch.setenv("VAULT_TOKEN", server.root_token)
    table = {"source": "vault", "url": server.address, "path": "omero/alice"}
    profiles.add("untrusted", table)
    profiles.add("trusted", {**table, "ca_cert": server.ca_cert})
    profiles.add("unverified", {**table, "verify": False})
    with pytest.raises(CredentialError) as info:
        fetch_credentials(load_profile("untrusted"))
    assert str(info.value) == (f"profile 'untrusted': Vault {server.address}, mount 'secret', path 'omero/alice': "
                               "Vault's TLS certificate is not trusted (unable to get local issuer certificate)")
    assert _user_of("trusted") == "alice"
    monkeypatch.setenv("VAULT_CACERT", server.ca_cert)
    assert _user_of("untrusted") == "alice"
    monkeypatch.delenv("VAULT_CACERT")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # urllib3's InsecureRequestWarning: verify = false is the point here
        assert fetch_credentials(load_profile("unverified")).username == "alice"


def test_kv1_lease_sets_expires_at(vault: VaultWorld, profiles: Profiles, monkeypatch: pytest.MonkeyPatch) -> None:
    """KV v1 reports a secret's "ttl" key as the read's lease_duration: expires_at = read time + lease."""
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("leased", {"source": "vault", "url": vault.address, "mount": "kv1", "kv_version": 1,
                            "path": "omero/leased"})
    before = time.time()
    credentials = fetch_credentials(load_profile("leased"))
    after = time.time()
    assert credentials.expires_at is not None
    assert before + 3600 <= credentials.expires_at <= after + 3600


def test_no_lease_no_expiry_even_with_a_short_lived_token(vault: VaultWorld, profiles: Profiles,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """KV v2 reads have no lease; the token's TTL does not make the OMERO password expire (see README)."""
    monkeypatch.setenv("VAULT_TOKEN", vault.token(ttl="30s"))
    profiles.add("v2", {"source": "vault", "url": vault.address, "path": "omero/alice"})
    assert fetch_credentials(load_profile("v2")).expires_at is None
    monkeypatch.setenv("VAULT_SECRET_ID", vault.secret_id())
    profiles.add("approle", {"source": "vault", "url": vault.address, "path": "omero/alice",
                             "role_id": vault.role_id})
    assert fetch_credentials(load_profile("approle")).expires_at is None


def test_fixed_username_and_other_keys(vault: VaultWorld, profiles: Profiles, monkeypatch: pytest.MonkeyPatch,
                                       no_leaked_sessions) -> None:
    vault.write("omero/svc", {"pw": profiles.server.users["bob"].password})
    monkeypatch.setenv("VAULT_TOKEN", vault.reader_token)
    profiles.add("svc", {"source": "vault", "url": vault.address, "path": "omero/svc", "username": "bob",
                         "password_key": "pw"})
    assert _user_of("svc") == "bob"


def test_plugins_lists_vault_with_its_version() -> None:
    result = CliRunner().invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["plugins"]}
    assert rows["vault"]["distribution"] == "omero-profiles-vault"
    assert rows["vault"]["version"] == version("omero-profiles-vault")
    assert rows["vault"]["status"] == "ok"
    assert [s["name"] for s in rows["vault"]["sources"]] == ["vault"]
    text = CliRunner().invoke(cli, ["plugins"]).output
    assert f"omero-profiles-vault {version('omero-profiles-vault')}" in text


def test_list_shows_where_the_secret_is(profiles: Profiles) -> None:
    profiles.add("a", {"source": "vault", "path": "omero/alice", "mount": "kv"})
    profiles.add("b", {"source": "vault", "path": "omero/svc", "username": "svc"})
    rows = {p["name"]: p for p in json.loads(CliRunner().invoke(cli, ["list", "--json"]).output)}
    assert (rows["a"]["source"], rows["a"]["user"]) == ("vault", "vault:kv/omero/alice")
    assert (rows["b"]["source"], rows["b"]["user"]) == ("vault", "svc")
    assert "vault:kv/omero/alice" in CliRunner().invoke(cli, ["list"]).output


def test_offline_commands_do_not_import_hvac(profiles: Profiles) -> None:
    """hvac and requests are imported by fetch only: list/show/validate stay fast with the plugin installed."""
    profiles.add("v", {"source": "vault", "path": "omero/alice", "url": "https://vault.example.org:8200"})
    code = ("import sys; from click.testing import CliRunner; from omeroprofiles.cli import cli\n"
            "for args in (['list'], ['show', 'v'], ['validate'], ['plugins']):\n"
            "    assert CliRunner().invoke(cli, args).exit_code == 0, args\n"
            "print(sorted(m for m in ('hvac', 'requests', 'urllib3') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
