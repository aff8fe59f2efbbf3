"""Read one secret from Vault with hvac: address, TLS, token or AppRole, KV v1/v2, all within a deadline.

Imported only by ``VaultSource.fetch`` (hvac and requests are not imported by ``list``/``show``).
Every request goes through ``transport.VaultSession`` (no redirect followed, bounded answers)
and every answer is checked against Vault's shape (``answers.py``) before it is used. Every
failure becomes a ``CredentialError`` whose message names the Vault address, mount and path and
says the reason in words (``failures.py``); no exception from hvac or requests is ever chained,
because their text can hold a response body (a secret) or a request URL.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import requests
from omeroprofiles import CredentialError
from omeroprofiles.credentials import Credentials

from .answers import UnusableAnswer, kv_secret, login_token
from .config import VaultConfig
from .failures import Target, explain
from .text import control_character, one_line
from .transport import VaultSession

TOKEN_FILE = "~/.vault-token"
"""Where ``vault login`` and ``bao login`` keep the token (the default token helper)."""


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def target_for(profile: Any, config: VaultConfig) -> Target:
    return Target(profile=profile.name, address=config.url or _env("VAULT_ADDR", "BAO_ADDR"),
                  namespace=config.namespace or _env("VAULT_NAMESPACE", "BAO_NAMESPACE"),
                  mount=config.mount, path=config.path, api_path=config.api_path(),
                  kv_version=config.kv_version, timeout=profile.timeout,
                  token_env=config.token_env, secret_id_env=config.secret_id_env,
                  approle_mount=config.approle_mount, approle=config.role_id is not None)


def _verify(config: VaultConfig, target: Target) -> bool | str:
    """requests' ``verify``: False, a CA file, or True (the system's trust store)."""
    if not config.verify:
        return False
    ca_cert = config.ca_cert or _env("VAULT_CACERT", "BAO_CACERT")
    if ca_cert is None:
        return True
    path = Path(ca_cert).expanduser()
    if not path.is_file():
        origin = "ca_cert" if config.ca_cert else "$VAULT_CACERT"
        raise CredentialError(f"{target.where()}: the CA certificate file {path} ({origin}) does not exist",
                              hint="set ca_cert to the PEM file of the CA that signed Vault's certificate")
    return str(path)


def _token(config: VaultConfig, target: Target) -> tuple[str, str]:
    """The token and where it came from (for messages: a variable name or a file, never the value)."""
    if config.token_env is not None:
        token = _env(config.token_env)
        if token is None:
            raise CredentialError(f"{target.where()}: no Vault token: ${config.token_env} (token_env) is not set",
                                  hint=f"export {config.token_env}=<token>, e.g. from 'bao login' or 'vault login'")
        return token, f"${config.token_env}"
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        token = _env(name)
        if token is not None:
            return token, f"${name}"
    path = Path(TOKEN_FILE).expanduser()
    try:
        token = _read_token_file(path)
    except FileNotFoundError:
        token = ""
    except OSError as exc:
        raise CredentialError(f"{target.where()}: cannot read the Vault token file {path} "
                              f"({exc.strerror or type(exc).__name__})",
                              hint=f"make {path} a file holding the token ('bao login' / 'vault login' writes it), "
                                   "or export VAULT_TOKEN") from None
    if not token:
        raise CredentialError(f"{target.where()}: no Vault token: $VAULT_TOKEN is not set and {path} "
                              f"{'is empty' if path.exists() else 'does not exist'}",
                              hint="log in with 'bao login' or 'vault login' (writes ~/.vault-token), export "
                                   "VAULT_TOKEN, or set token_env or role_id in the profile")
    return token, str(path)


TOKEN_FILE_MAX_BYTES = 64 * 1024
"""A token is at most a few hundred bytes; anything much larger is not a token file."""


def _read_token_file(path: Path) -> str:
    """The token in ``path``, read without blocking: a FIFO, a device or a huge file is an OSError
    (with its reason in words), never a read that waits or fills memory."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as handle:
        found = os.fstat(handle.fileno())
        if not stat.S_ISREG(found.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if found.st_size > TOKEN_FILE_MAX_BYTES:
            raise OSError(errno.EFBIG, f"{found.st_size} bytes: too large for a token")
        data = handle.read(TOKEN_FILE_MAX_BYTES + 1)
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise OSError(errno.EINVAL, "not UTF-8 text") from None


def _secret_id(config: VaultConfig, target: Target) -> str:
    secret_id = _env(config.secret_id_env)
    if secret_id is None:
        raise CredentialError(f"{target.where()}: AppRole login needs a secret id: ${config.secret_id_env} "
                              "(secret_id_env) is not set",
                              hint=f"export {config.secret_id_env}=<secret id> (e.g. from 'bao write -f "
                                   f"auth/{config.approle_mount}/role/ROLE/secret-id')")
    return secret_id


def fetch(profile: Any, config: VaultConfig) -> Credentials:
    """Read the profile's secret from Vault and turn it into ``Credentials``."""
    deadline = time.monotonic() + profile.timeout
    target = target_for(profile, config)
    if target.address is None:
        raise CredentialError(f"{target.where()}: no Vault address: the profile has no url and $VAULT_ADDR "
                              "is not set",
                              hint="set url = \"https://vault.example.org:8200\" in the credentials table, "
                                   "or export VAULT_ADDR")
    verify = _verify(config, target)
    secret_id = ""
    if config.role_id is not None:
        token, target.token_source = "", "AppRole"
        secret_id = _secret_id(config, target)
    else:
        token, target.token_source = _token(config, target)
    return _within(deadline, target, lambda: _exchange(deadline, target, config, token, secret_id, verify))


GRACE = 0.5
"""Seconds past the profile's timeout before an exchange that is still running is abandoned."""

REVOKE_SECONDS = 2.0
"""The revocation of an AppRole token gets its own budget: a fetch that used all of its time
(or was abandoned) must not leave the token it made to pile up until its TTL."""

Outcome = Credentials | BaseException
Exchange = Callable[[], tuple[Outcome, Callable[[], None]]]


def _within(deadline: float, target: Target, exchange: Exchange) -> Credentials:
    """Run ``exchange`` in a daemon thread and give up at ``deadline`` (+ ``GRACE``).

    requests bounds the connect and each wait for data, not a host name lookup (``getaddrinfo``
    waits as long as the resolver does) nor a server that answers one byte at a time; this
    bounds the whole exchange. The exchange hands over its outcome first and then cleans up
    (revokes the AppRole token it made, closes its connections), so a slow revocation never
    delays or spoils a read that worked; the caller waits for the clean-up only while time is
    left, and an abandoned exchange still cleans up on its own.
    """
    outcome: list[Outcome] = []
    handed_over = threading.Event()

    def run() -> None:
        cleanup: Callable[[], None] | None = None
        try:
            result, cleanup = exchange()
            outcome.append(result)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome.append(exc)
        finally:
            handed_over.set()
            if cleanup is not None:
                cleanup()

    worker = threading.Thread(target=run, name="omero-profiles-vault", daemon=True)
    worker.start()
    handed_over.wait(max(0.0, deadline - time.monotonic()) + GRACE)
    if not outcome:
        raise CredentialError(f"{target.where()}: no answer within {target.timeout:g} s (the profile's timeout) "
                              "from the name resolver or from Vault",
                              hint="check url / $VAULT_ADDR, the network and DNS; raise the profile's timeout "
                                   "for a slow link")
    worker.join(max(0.0, deadline - time.monotonic()) + GRACE)  # the clean-up, while time is left
    if isinstance(outcome[0], BaseException):
        raise outcome[0]  # raised in the worker outside any except block: no hvac text in its context
    return outcome[0]


def _exchange(deadline: float, target: Target, config: VaultConfig, token: str, secret_id: str,
              verify: bool | str) -> tuple[Outcome, Callable[[], None]]:
    """Log in (AppRole) and read the secret: the part that talks to Vault. Returns the
    credentials or the CredentialError that says why not, and the clean-up to run after."""
    session = VaultSession(deadline)
    session.verify = verify  # hvac takes a given session's verify over its own argument
    client = hvac.Client(url=target.address, token=token, verify=verify, timeout=target.timeout,
                         session=session, namespace=target.namespace)
    logged_in = False

    def cleanup() -> None:
        if logged_in:  # the token we made is ours to end: AppRole logins must not pile up
            session.deadline = time.monotonic() + REVOKE_SECONDS
            _revoke(client)
        session.close()

    stage = "login"
    try:
        if config.role_id is not None:
            answer = client.auth.approle.login(role_id=config.role_id, secret_id=secret_id,
                                               mount_point=config.approle_mount, use_token=False)
            client.token = login_token(answer, f"POST /v1/auth/{config.approle_mount}/login")
            logged_in = True
        stage = "read"
        started = time.time()
        data, lease_seconds = _read(client, config, target)
        expires_at = started + lease_seconds if lease_seconds > 0 else None
        return _credentials(data, config, target, expires_at), cleanup
    except CredentialError as exc:
        return exc, cleanup
    except (UnusableAnswer, hvac.exceptions.VaultError, requests.exceptions.RequestException, ValueError,
            OSError) as exc:
        # Returned, and raised later in the caller's thread outside any except block, so not even
        # __context__ keeps hvac's exception (its text can hold a response body or a URL).
        return explain(exc, target, stage, client=client), cleanup
    except BaseException:
        cleanup()
        raise


def _read(client: Any, config: VaultConfig, target: Target) -> tuple[dict[str, Any], int]:
    """The secret's key/value data and its lease duration in seconds (0: no lease)."""
    asked = f"GET /v1/{target.api_path}"
    if config.kv_version == 1:
        answer = client.secrets.kv.v1.read_secret(path=config.path, mount_point=config.mount)
    else:
        try:
            answer = client.secrets.kv.v2.read_secret_version(path=config.path, mount_point=config.mount,
                                                              raise_on_deleted_version=True)
        except hvac.exceptions.InvalidPath as exc:
            # a deleted or destroyed latest version is a 404 that still describes it ("data": {...});
            # hvac's own handling of it trusts the answer's shape, so it is read here
            if not (isinstance(exc.json, dict) and exc.json.get("data") is not None):
                raise
            answer = exc.json
    secret = kv_secret(answer, config.kv_version, asked)
    if secret.data is None:
        what = "destroyed" if secret.destroyed else "deleted"
        number = f" ({secret.version})" if secret.version else ""
        raise CredentialError(f"{target.where()}: secret not found (its latest version{number} was {what})",
                              hint=f"write a new version, or 'bao kv undelete -mount={config.mount} "
                                   f"-versions={secret.version or 'N'} {config.path}' if it was only deleted")
    return secret.data, secret.lease


KEYS_LISTED = 20
"""A message lists at most this many of the secret's key names."""


def _value(data: dict[str, Any], key: str, role: str, option: str, target: Target, *, shown: bool = True
           ) -> str:
    if key not in data:
        names = sorted(data)
        keys = ", ".join(one_line(name, 40) for name in names[:KEYS_LISTED]) or "none"
        more = f" and {len(names) - KEYS_LISTED} more" if len(names) > KEYS_LISTED else ""
        raise CredentialError(f"{target.where()}: key '{key}' ({role}) not found in the secret (its keys: "
                              f"{keys}{more})",
                              hint=f"set {option} to the key that holds {role}, or add '{key}' to the secret")
    value = data[key]
    stored = f"store {role} in the secret under '{key}', as text"
    if not isinstance(value, str):
        raise CredentialError(f"{target.where()}: key '{key}' ({role}) is not a string", hint=stored)
    if not value:
        raise CredentialError(f"{target.where()}: key '{key}' ({role}) is empty", hint=stored)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # JSON can carry a lone surrogate ("\ud800"); no server can take it
            raise CredentialError(f"{target.where()}: key '{key}' ({role}) is not valid Unicode text",
                                  hint=stored) from None
    unshowable = control_character(value) if shown else None
    if unshowable:
        raise CredentialError(f"{target.where()}: key '{key}' ({role}) contains a control character ({unshowable})",
                              hint="correct the value in Vault: a user name or a session key is one line of "
                                   "visible text")
    return value


def _credentials(data: dict[str, Any], config: VaultConfig, target: Target, expires_at: float | None) -> Credentials:
    if config.session_key_key is not None:
        key = _value(data, config.session_key_key, "the OMERO session key", "session_key_key", target)
        return Credentials(session_key=key, expires_at=expires_at)
    username = config.username or _value(data, config.username_key, "the OMERO username", "username_key", target)
    # a password is never shown, so it may hold any character the OMERO server accepts
    password = _value(data, config.password_key, "the OMERO password", "password_key", target, shown=False)
    return Credentials(username=username, password=password, expires_at=expires_at)


def _revoke(client: Any) -> None:
    try:
        client.auth.token.revoke_self()
    except Exception:  # noqa: BLE001 - best effort: the token also ends at its TTL
        pass
