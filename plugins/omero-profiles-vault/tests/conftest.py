"""Fixtures for the Vault plugin's tests: a real OpenBao dev server set up like a site's Vault.

- ``bao_server``: one ``bao server -dev`` for the whole test session (free loopback port, random
  root token); ``vault`` sets it up once: KV v2 at ``secret/``, KV v1 at ``kv1/``, a reader policy
  that denies one path, AppRole, a namespace, and the stand-in users' passwords as secrets.
- ``start_bao``: a factory for a private server (to seal or stop, or with TLS), stopped after the test.
- every test runs with its own HOME (so ``~/.vault-token``), XDG dirs and no OMERO_*/VAULT_*/BAO_*
  variables.

A server that cannot start fails the test with the reason; nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from omeroprofiles import plugins
from omeroprofiles.contract import isolate_environment
from omeroprofiles.fetch import forget_all
from openbao_dev import BaoError, DevServer, start_dev_server

READ_POLICY = """
path "secret/data/omero/*" { capabilities = ["read"] }
path "secret/data/omero/denied" { capabilities = ["deny"] }
path "kv1/omero/*" { capabilities = ["read"] }
"""
NAMESPACE = "team"
ROLE = "omero-reader"


@dataclass
class VaultWorld:
    """The shared, set-up OpenBao server and what the tests need to know about it."""

    server: DevServer
    reader_token: str = field(repr=False)
    """A token with the reader policy: may read secret/data/omero/* (not .../denied) and kv1/omero/*."""
    role_id: str = field(repr=False)
    canaries: list[str] = field(default_factory=list, repr=False)
    """Every token and secret id handed out: none may ever be shown (the role id is an identifier: ``show``
    prints it, but error messages do not)."""

    @property
    def address(self) -> str:
        return self.server.address

    def secret_id(self) -> str:
        """A fresh AppRole secret id for the reader role."""
        value = self.server.client().auth.approle.generate_secret_id(ROLE)["data"]["secret_id"]
        self.canaries.append(value)
        return value

    def token(self, *, policies: list[str] | None = None, ttl: str = "1h") -> str:
        value = self.server.client().auth.token.create(policies=policies or ["omero-read"], ttl=ttl)[
            "auth"]["client_token"]
        self.canaries.append(value)
        return value

    def write(self, path: str, data: dict[str, Any], *, mount: str = "secret", kv_version: int = 2,
              namespace: str | None = None) -> None:
        client = self.server.client(namespace=namespace)
        if kv_version == 2:
            client.secrets.kv.v2.create_or_update_secret(path=path, secret=data, mount_point=mount)
        else:
            client.secrets.kv.v1.create_or_update_secret(path=path, secret=data, mount_point=mount)

    def secrets(self) -> list[str]:
        return [self.server.root_token, *self.canaries]


def _start(**options: Any) -> DevServer:
    try:
        return start_dev_server(**options)
    except BaoError as exc:
        pytest.fail(f"cannot run the Vault tests: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def bao_server() -> Iterator[DevServer]:
    server = _start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vault(bao_server: DevServer, omero_server: Any) -> VaultWorld:
    root = bao_server.client()
    root.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    root.sys.create_or_update_policy("omero-read", READ_POLICY)
    root.sys.enable_auth_method("approle")
    root.auth.approle.create_or_update_approle(ROLE, token_policies=["omero-read"], token_ttl="10m")
    role_id = root.auth.approle.read_role_id(ROLE)["data"]["role_id"]
    world = VaultWorld(bao_server, "", role_id)
    world.reader_token = world.token()
    for user in ("alice", "bob"):
        secret = {"username": user, "password": omero_server.users[user].password}
        world.write(f"omero/{user}", secret)
        world.write(f"omero/{user}", secret, mount="kv1", kv_version=1)
    # KV v1 turns a "ttl" key into the read's lease_duration: a secret that says when to re-read it
    world.write("omero/leased", {"username": "alice", "password": omero_server.users["alice"].password,
                                 "ttl": "1h"}, mount="kv1", kv_version=1)
    root.sys.create_namespace(NAMESPACE)
    in_namespace = bao_server.client(namespace=NAMESPACE)
    in_namespace.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
    world.write("omero/bob", {"username": "bob", "password": omero_server.users["bob"].password},
                namespace=NAMESPACE)
    return world


@pytest.fixture
def start_bao() -> Iterator[Callable[..., DevServer]]:
    """``start_bao(tls=False)``: a private OpenBao dev server for this test (to seal, stop or serve TLS)."""
    started: list[DevServer] = []

    def start(**options: Any) -> DevServer:
        server = _start(**options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test sees the real HOME (~/.vault-token), XDG dirs or OMERO_*/VAULT_*/BAO_* variables."""
    home = isolate_environment(tmp_path / "home", monkeypatch, prefixes=("OMERO_", "XDG_", "VAULT_", "BAO_"))
    yield home
    plugins.reset_registry()
    forget_all()


class Profiles:
    """Writes vault profiles for the stand-in server into the user's profiles file."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.document: dict[str, Any] = {"profiles": {}}

    @property
    def path(self) -> Path:
        return Path(os.environ["XDG_CONFIG_HOME"]) / "omero-profiles" / "profiles.toml"

    def add(self, name: str, credentials: dict[str, Any], *, timeout: float = 10, **keys: Any) -> str:
        self.document["profiles"][name] = {"host": self.server.host, "port": self.server.ssl_port,
                                           "timeout": timeout, "keepalive": 0, **keys,
                                           "credentials": credentials}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(tomli_w.dumps(self.document), encoding="utf-8")
        self.path.chmod(0o600)
        return name


@pytest.fixture
def profiles(isolated: Path, omero_server: Any) -> Profiles:
    return Profiles(omero_server)

