"""Every way reading a secret from Vault can fail, in words: hvac/requests exception -> CredentialError.

Messages name the profile, the Vault address, namespace, mount and path, say the reason and (in
the hint) how to fix it. They never contain the token, the secret id, the role id or any value
of the secret, and they never quote hvac's or requests' text, which can hold a response body.
Text that comes from Vault or the environment (an address, a redirect's target) is put on one
line with its control characters escaped (``text.one_line``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import hvac.exceptions
import requests
from omeroprofiles import CredentialError

from .answers import MalformedAnswer, Redirected, mount_engine
from .text import one_line

_HTTP = {
    hvac.exceptions.InvalidRequest: 400, hvac.exceptions.Unauthorized: 401, hvac.exceptions.Forbidden: 403,
    hvac.exceptions.InvalidPath: 404, hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.InternalServerError: 500, hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502, hvac.exceptions.VaultDown: 503,
}

SERVER_HINT = "try again later; if it persists, Vault's log says why (ask a Vault operator)"

MALFORMED_HINT = ("check url / $VAULT_ADDR: it must point at Vault itself, not at another service or at a proxy "
                  "that changes its answers")


@dataclass
class Target:
    """What a message names: where the secret was looked for, and how we authenticated."""

    profile: str
    address: str | None
    namespace: str | None
    mount: str
    path: str
    api_path: str
    kv_version: int
    timeout: float
    token_env: str | None
    secret_id_env: str
    approle_mount: str
    approle: bool
    token_source: str = ""
    """Where the token came from: '$VAULT_TOKEN', a file path, or 'AppRole'."""

    def where(self) -> str:
        namespace = f", namespace '{one_line(self.namespace)}'" if self.namespace else ""
        address = one_line(self.address) if self.address else "(no address)"
        return (f"profile '{self.profile}': Vault {address}{namespace}, "
                f"mount '{self.mount}', path '{self.path}'")


def _errors(exc: BaseException) -> str:
    """Vault's own error strings (fixed texts such as 'permission denied'; never a secret), lower-cased."""
    errors = getattr(exc, "errors", None) or []
    if isinstance(errors, str):
        errors = [errors]
    return " ".join(e for e in errors if isinstance(e, str)).lower()


def _fail(target: Target, reason: str, hint: str | None = None) -> CredentialError:
    return CredentialError(f"{target.where()}: {reason}", hint=hint)


def explain(exc: BaseException, target: Target, stage: str, *, client: Any = None) -> CredentialError:
    """The CredentialError for ``exc``, raised while ``stage`` ('login' or 'read') was under way."""
    if isinstance(exc, Redirected):
        return _redirected(exc, target)
    if isinstance(exc, MalformedAnswer):
        return _fail(target, f"malformed answer: {one_line(exc.what, 300)} ({one_line(exc.request)})",
                     MALFORMED_HINT)
    if isinstance(exc, requests.exceptions.RequestException):
        return _network(exc, target)
    if isinstance(exc, hvac.exceptions.VaultDown):
        if "sealed" in _errors(exc):
            return _fail(target, "Vault is sealed (no secret can be read until it is unsealed)",
                         "ask a Vault operator to unseal it ('bao operator unseal' / 'vault operator unseal')")
        return _fail(target, "Vault is not available (HTTP 503: a standby node or maintenance)",
                     "try again later, or point url at the active node")
    if stage == "login" and isinstance(exc, hvac.exceptions.VaultError):
        return _login(exc, target)
    if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.Unauthorized):
        return _denied(exc, target, client)
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return _not_found(exc, target, client)
    if isinstance(exc, hvac.exceptions.InvalidRequest) and "http request to an https server" in _errors(exc) + \
            str(getattr(exc, "text", "") or "").lower():
        return _fail(target, "Vault expects HTTPS, but the address is http://",
                     "use an https:// url (and ca_cert if Vault's certificate is from a private CA)")
    if isinstance(exc, hvac.exceptions.RateLimitExceeded):
        return _fail(target, "Vault is rate-limiting requests (HTTP 429)", "try again later")
    if isinstance(exc, hvac.exceptions.VaultNotInitialized):
        return _fail(target, "Vault is not initialized (HTTP 501)", "initialize it ('bao operator init')")
    if isinstance(exc, hvac.exceptions.VaultError):
        status = _HTTP.get(type(exc))
        return _fail(target, f"Vault refused to read {target.api_path} "
                             f"({f'HTTP {status}' if status else type(exc).__name__})", SERVER_HINT)
    if isinstance(exc, ValueError):
        return _fail(target, "the answer is not Vault's JSON (does the address point at Vault?)",
                     "check url / $VAULT_ADDR")
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return _fail(target, f"cannot use the TLS settings ({reason})", "check ca_cert / $VAULT_CACERT")


def _redirected(exc: Redirected, target: Target) -> CredentialError:
    """A redirect is never followed: requests would send X-Vault-Token (and a re-posted AppRole
    secret id) wherever it points. The message names the target so a person can decide."""
    asked = one_line(exc.request)
    if exc.location is None:
        return _fail(target, f"Vault answered {asked} with a redirect (HTTP {exc.status}) that names no address: "
                             "not followed", "check url / $VAULT_ADDR")
    parts = urlsplit(exc.location)
    origin = one_line(f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else exc.location)
    return _fail(target, f"Vault answered {asked} with a redirect (HTTP {exc.status}) to {one_line(exc.location)}: "
                         "not followed, so nothing was sent there",
                 f"if {origin} is your Vault (a standby node redirects to the active node), set url to it; "
                 "otherwise check url / $VAULT_ADDR")


def _network(exc: requests.exceptions.RequestException, target: Target) -> CredentialError:
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        verify = re.search(r"certificate verify failed: ([^(]*?)\s*\(_ssl", text)
        if verify:
            return _fail(target, f"Vault's TLS certificate is not trusted ({verify.group(1)})",
                         "set ca_cert to the PEM file of the CA that signed Vault's certificate "
                         "(verify = false only for a test server)")
        return _fail(target, "the TLS handshake with Vault failed (is it serving https on that port?)",
                     "check the url's scheme and port")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return _fail(target, f"Vault is unreachable: no connection within {target.timeout:g} s "
                             "(the profile's timeout)",
                     "check url / $VAULT_ADDR and the network; raise the profile's timeout for a slow link")
    if isinstance(exc, requests.exceptions.Timeout):
        return _fail(target, f"Vault did not answer within {target.timeout:g} s (the profile's timeout)",
                     "check that the url points at Vault and that it is healthy; raise the profile's timeout "
                     "for a slow Vault")
    if isinstance(exc, requests.exceptions.ConnectionError):
        if "Failed to resolve" in text or "Name or service not known" in text:
            reason = "its host name does not resolve"
        elif "Connection refused" in text or "[Errno 111]" in text:
            reason = "connection refused"
        else:
            reason = "the connection failed"
        return _fail(target, f"Vault is unreachable ({reason})",
                     "check url / $VAULT_ADDR and that Vault is running")
    if isinstance(exc, ValueError):  # requests.JSONDecodeError
        return _fail(target, "the answer is not Vault's JSON (does the address point at Vault?)",
                     "check url / $VAULT_ADDR")
    return _fail(target, f"the request to Vault failed ({type(exc).__name__})", "check url / $VAULT_ADDR")


def _login(exc: BaseException, target: Target) -> CredentialError:
    errors = _errors(exc)
    login_path = f"auth/{target.approle_mount}/login"
    if isinstance(exc, hvac.exceptions.InvalidPath) and "namespace not found" in errors:
        return _fail(target, f"namespace '{target.namespace}' does not exist", "check namespace / $VAULT_NAMESPACE")
    if isinstance(exc, hvac.exceptions.Forbidden | hvac.exceptions.InvalidPath):
        # Vault answers an unauthenticated request to a path no auth method serves with 403 (404 with a token)
        return _fail(target, f"AppRole login failed: permission denied at {login_path} (no AppRole auth method is "
                             f"mounted at auth/{target.approle_mount}/, or a policy blocks it)",
                     "set approle_mount to where AppRole is enabled ('bao auth list')")
    if isinstance(exc, hvac.exceptions.InvalidRequest) and "cidr" in errors:
        return _fail(target, "AppRole login refused (the role's CIDR restrictions do not allow this machine's "
                             "address)", "ask a Vault administrator to allow this address for the role")
    if isinstance(exc, hvac.exceptions.InvalidRequest | hvac.exceptions.Unauthorized):
        return _fail(target, "AppRole login refused (the role_id or the secret id is wrong, or the secret id "
                             "has expired or been used up)",
                     f"check role_id, and put a new secret id in ${target.secret_id_env}")
    status = _HTTP.get(type(exc))
    return _fail(target, f"AppRole login failed ({f'HTTP {status}' if status else type(exc).__name__})",
                 SERVER_HINT)


def _token_is_valid(client: Any) -> bool | None:
    """Whether Vault still accepts the token (None: cannot tell); used only after a refusal."""
    if client is None:
        return None
    try:
        client.auth.token.lookup_self()
    except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
        return False
    except Exception:  # noqa: BLE001 - out of time, network: the message stays less precise
        return None
    return True


def _denied(exc: BaseException, target: Target, client: Any) -> CredentialError:
    # Vault answers 403 both for a token it does not know (expired, revoked, mistyped) and for a
    # valid token whose policies do not allow the path. A token of our own AppRole login was
    # valid a moment ago; otherwise ask Vault about the token itself.
    valid = True if target.approle else _token_is_valid(client)
    if valid is False:
        return _fail(target, f"the Vault token from {target.token_source} was refused (it is unknown, expired or "
                             "revoked)",
                     "log in again ('bao login' / 'vault login') or put a valid token in "
                     f"{target.token_source if target.token_source.startswith('$') else '$VAULT_TOKEN'}")
    denied = f"permission denied (the token's policies do not allow reading {target.api_path})"
    mismatch = _engine_mismatch(client, target) if valid else None
    if mismatch:  # e.g. a KV v1 read of a KV v2 mount asks for a path no policy names
        return _fail(target, f"{denied}: {mismatch[0]}", mismatch[1])
    doubt = "" if valid else " (or the token is no longer valid)"
    return _fail(target, f"{denied}{doubt}",
                 f"ask a Vault administrator for a policy with the 'read' capability on {target.api_path}")


def _not_found(exc: BaseException, target: Target, client: Any) -> CredentialError:
    errors = _errors(exc)
    if "namespace not found" in errors:
        return _fail(target, f"namespace '{target.namespace}' does not exist", "check namespace / $VAULT_NAMESPACE")
    if "no handler for route" in errors:
        return _fail(target, f"no secrets engine is mounted at '{target.mount}/'",
                     "set mount to where the KV engine is enabled ('bao secrets list')")
    mismatch = _engine_mismatch(client, target)
    if mismatch:
        return _fail(target, f"secret not found: {mismatch[0]}", mismatch[1])
    return _fail(target, f"secret not found (nothing at {target.api_path})",
                 f"check path and mount ('bao kv get -mount={target.mount} {target.path}')")


def _engine_mismatch(client: Any, target: Target) -> tuple[str, str] | None:
    """If the mount is not the KV version the profile reads, say so (best effort, one more request)."""
    if client is None:
        return None
    try:
        engine = mount_engine(client.adapter.get(f"/v1/sys/internal/ui/mounts/{target.mount}"))
    except Exception:  # noqa: BLE001 - no permission to ask, out of time, an odd answer: no hint
        return None
    if engine is None:
        return None
    kind, version = engine
    if kind not in (None, "kv", "generic"):
        return (f"mount '{target.mount}' is a '{kind}' secrets engine, not KV",
                "set mount to where the KV engine is enabled ('bao secrets list')")
    if kind and version != str(target.kv_version):
        return (f"mount '{target.mount}' is a KV version {version} engine, but the profile reads it as KV "
                f"version {target.kv_version}", f"set kv_version = {version}")
    return None
