"""The vault credentials table: defaults, strict checks, and what `omero-profile validate` says (no server)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from conftest import Profiles
from omeroprofiles.cli import cli
from pydantic import ValidationError

from omeroprofiles_vault import VaultConfig, VaultSource


def config(**keys) -> VaultConfig:
    return VaultConfig.model_validate({"source": "vault", "path": "omero/prod", **keys})


def test_defaults() -> None:
    c = config()
    assert (c.mount, c.kv_version, c.username_key, c.password_key, c.username, c.session_key_key) == \
        ("secret", 2, "username", "password", None, None)
    assert (c.url, c.namespace, c.token_env, c.role_id, c.secret_id_env, c.approle_mount, c.verify, c.ca_cert) == \
        (None, None, None, None, "VAULT_SECRET_ID", "approle", True, None)
    assert c.api_path() == "secret/data/omero/prod"
    assert config(kv_version=1, mount="kv").api_path() == "kv/omero/prod"


def test_no_key_holds_a_secret() -> None:
    """Tokens, secret ids and passwords come from the environment, ~/.vault-token and Vault, never the file."""
    assert VaultConfig.secret_keys() == frozenset()


def test_slashes_around_paths_are_dropped() -> None:
    c = config(mount="/secret/", path="/omero/prod/", approle_mount="approle/", role_id="r")
    assert (c.mount, c.path, c.approle_mount) == ("secret", "omero/prod", "approle")
    assert config(url="https://vault.example.org:8200/").url == "https://vault.example.org:8200"


@pytest.mark.parametrize(("keys", "problem"), [
    ({"kv_version": 3}, "kv_version"),
    ({"kv_version": "2"}, "kv_version"),
    ({"verify": "yes"}, "verify"),
    ({"timeout": 5}, "timeout"),
    ({"token": "hvs.abc"}, "token"),
    ({"url": "vault.example.org:8200"}, "url"),
    ({"url": "ftp://vault"}, "url"),
    ({"url": "https://vault.example.org\nX-Injected: 1"}, "url"),
    ({"url": "https://vault.example.org/ x"}, "url"),
    ({"token_env": "hvs.CAESIabc"}, "token_env"),
    ({"secret_id_env": "a b"}, "secret_id_env"),
    ({"path": ""}, "path"),
    ({"path": "/"}, "path"),
    ({"path": "omero/../prod"}, "path"),
    ({"path": "omero//prod"}, "path"),
    ({"username_key": " "}, "username_key"),
    ({"username_key": "user\nname"}, "username_key"),
    ({"username": "alice\nomero-profile: error: forged"}, "username"),
    ({"path": "omero/\x1b[2Jprod"}, "path"),
    ({"url": "http://vault:8200/\u202e"}, "url"),
])
def test_bad_values_are_rejected(keys: dict, problem: str) -> None:
    with pytest.raises(ValidationError) as info:
        config(**keys)
    assert {str(e["loc"][0]) for e in info.value.errors()} == {problem}


@pytest.mark.parametrize(("keys", "message"), [
    ({"role_id": "r", "token_env": "T"}, "set 'role_id' (AppRole login) or 'token_env' (a token), not both"),
    ({"secret_id_env": "S"}, "'secret_id_env' and 'approle_mount' need 'role_id' (AppRole login)"),
    ({"approle_mount": "robots"}, "'secret_id_env' and 'approle_mount' need 'role_id' (AppRole login)"),
    ({"session_key_key": "s", "username": "u"}, "'session_key_key' joins a session: 'username' would not be used; "
                                                "remove it"),
    ({"session_key_key": "s", "password_key": "p", "username_key": "u"},
     "'session_key_key' joins a session: 'password_key', 'username_key' would not be used; remove it"),
    ({"username": "u", "username_key": "user"}, "set 'username' (fixed) or 'username_key' (read from the secret), "
                                                "not both"),
    ({"verify": False, "ca_cert": "/ca.pem"}, "'ca_cert' has no effect with verify = false; remove one of them"),
    ({"url": "http://vault:8200", "ca_cert": "/ca.pem"}, "'ca_cert' applies to https:// urls only (did you mean "
                                                         "https://?)"),
])
def test_contradictions_are_rejected(keys: dict, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        config(**keys)
    assert [e["msg"] for e in info.value.errors()] == [f"Value error, {message}"]


def test_describe_never_shows_more_than_where() -> None:
    assert VaultSource().describe(config()) == "vault:secret/omero/prod"
    assert VaultSource().describe(config(username="svc")) == "svc"


def test_validate_names_every_problem(profiles: Profiles) -> None:
    profiles.add("a", {"source": "vault", "path": "omero/a", "kv_version": 3, "token_env": "hvs.CAESIsecret"})
    profiles.add("b", {"source": "vault", "path": "omero/b", "role_id": "r", "token_env": "T"})
    profiles.add("c", {"source": "vault", "path": "omero/c", "mout": "kv"})
    profiles.add("d", {"source": "vault", "mount": "kv"})
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 2
    file = str(profiles.path)
    assert result.stdout.splitlines() == [
        f"{file}: profile 'a': credentials.kv_version: input should be 1 or 2",
        f"{file}: profile 'a': credentials.token_env: must be the name of an environment variable (letters, "
        "digits, '_'), not a token or secret id",
        f"{file}: profile 'b': credentials: set 'role_id' (AppRole login) or 'token_env' (a token), not both",
        f"{file}: profile 'c': credentials.mout: unknown key (did you mean 'mount'?)",
        f"{file}: profile 'd': credentials.path: required key is missing",
    ]
    assert "hvs.CAESIsecret" not in result.output  # validate never echoes a value
