"""The ``credentials = { source = "vault", ... }`` table: keys, defaults, and the checks ``validate`` runs.

No key holds a secret: the token, the AppRole secret id and the OMERO password live in the
environment, in ``~/.vault-token`` and in Vault. Every key *names* where a secret is (an
environment variable, a file, a Vault path), so none is a ``SecretStr`` and ``show`` prints
them all. ``role_id`` is an identifier, not a credential (AppRole needs the secret id too);
it is still never put in an error message.
"""

from __future__ import annotations

import re
from typing import Literal

from omeroprofiles.credentials import SourceConfig
from pydantic import Field, field_validator, model_validator

from .text import control_character

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class VaultConfig(SourceConfig):
    path: str = Field(min_length=1)
    """The secret's path inside the mount, e.g. ``omero/prod`` (KV v2: not ``data/omero/prod``)."""
    mount: str = "secret"
    """Where the KV secrets engine is mounted."""
    kv_version: Literal[1, 2] = 2
    """The KV engine's version: 2 (versioned, the default) or 1."""
    username_key: str = "username"
    """The key of the secret that holds the OMERO username."""
    password_key: str = "password"
    """The key of the secret that holds the OMERO password."""
    username: str | None = None
    """A fixed OMERO username; when set, ``username_key`` is not read."""
    session_key_key: str | None = None
    """Read an OMERO session key from this key instead of a username and password."""
    url: str | None = None
    """Vault's address, e.g. ``https://vault.example.org:8200``; default ``$VAULT_ADDR`` (then ``$BAO_ADDR``)."""
    namespace: str | None = None
    """Vault Enterprise / OpenBao namespace; default ``$VAULT_NAMESPACE`` (then ``$BAO_NAMESPACE``)."""
    token_env: str | None = None
    """Read the token from this environment variable only (default: ``$VAULT_TOKEN``, ``$BAO_TOKEN``,
    then ``~/.vault-token``)."""
    role_id: str | None = None
    """Log in with AppRole using this role id (an identifier; the secret id comes from ``secret_id_env``)."""
    secret_id_env: str = "VAULT_SECRET_ID"
    """The environment variable that holds the AppRole secret id."""
    approle_mount: str = "approle"
    """Where the AppRole auth method is mounted (``auth/<approle_mount>``)."""
    verify: bool = True
    """Verify Vault's TLS certificate. ``false`` only for a test server."""
    ca_cert: str | None = None
    """A PEM file of the CA that signed Vault's certificate; default ``$VAULT_CACERT`` (then ``$BAO_CACERT``),
    else the system's trust store."""

    @field_validator("path", "mount", "username_key", "password_key", "username", "session_key_key", "url",
                     "namespace", "token_env", "role_id", "secret_id_env", "approle_mount", "ca_cert")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        """Every value ends up in messages (or in an HTTP header): a newline would forge a line."""
        unshowable = control_character(value) if value is not None else None
        if unshowable:
            raise ValueError(f"must not contain control characters ({unshowable})")
        return value

    @field_validator("path", "mount", "approle_mount")
    @classmethod
    def _no_edge_slashes(cls, value: str) -> str:
        stripped = value.strip("/")
        if not stripped:
            raise ValueError("must not be empty")
        if "//" in stripped or any(part in (".", "..") for part in stripped.split("/")):
            raise ValueError(f"'{value}' is not a Vault path (no empty, '.' or '..' parts)")
        return stripped

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"https?://[^/\s]+(?:/\S*)?", value):  # a prefix match let a newline through
            raise ValueError("must start with https:// or http:// and name a host, with no blank or control "
                             "character, e.g. 'https://vault.example.org:8200'")
        return value.rstrip("/")

    @field_validator("token_env", "secret_id_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("must be the name of an environment variable (letters, digits, '_'), "
                             "not a token or secret id")
        return value

    @field_validator("username_key", "password_key", "session_key_key", "role_id", "namespace", "ca_cert",
                     "username")
    @classmethod
    def _not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must not be empty (leave the key out instead)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> VaultConfig:
        given = self.model_fields_set
        if self.role_id is not None and self.token_env is not None:
            raise ValueError("set 'role_id' (AppRole login) or 'token_env' (a token), not both")
        if self.role_id is None and given & {"secret_id_env", "approle_mount"}:
            raise ValueError("'secret_id_env' and 'approle_mount' need 'role_id' (AppRole login)")
        if self.session_key_key is not None:
            stray = sorted(given & {"username", "username_key", "password_key"})
            if stray:
                raise ValueError(f"'session_key_key' joins a session: {', '.join(repr(k) for k in stray)} "
                                 "would not be used; remove it")
        elif self.username is not None and "username_key" in given:
            raise ValueError("set 'username' (fixed) or 'username_key' (read from the secret), not both")
        if not self.verify and self.ca_cert is not None:
            raise ValueError("'ca_cert' has no effect with verify = false; remove one of them")
        if self.url is not None and self.url.startswith("http://") and self.ca_cert is not None:
            raise ValueError("'ca_cert' applies to https:// urls only (did you mean https://?)")
        return self

    def api_path(self) -> str:
        """The HTTP API path of the secret: ``<mount>/data/<path>`` for KV v2, ``<mount>/<path>`` for v1."""
        return f"{self.mount}/data/{self.path}" if self.kv_version == 2 else f"{self.mount}/{self.path}"
