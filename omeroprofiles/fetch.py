"""Credentials for a profile: ask its source, at most once per process.

What a source returns is kept in memory (never on disk) for the life of the process, so
``reconnect=True``, ``ensure_alive()``, ``ConnectionPool`` and a second ``get_conn`` do not
prompt again or hit Vault per connection. It is dropped when it expires (``expires_at``) or
when the server rejects it; sources that change under us (a session store) opt out with
``remember = False``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import SecretBytes, SecretStr

from .constants import PROG
from .credentials.base import Credentials
from .errors import AuthenticationFailed, CredentialError, ProfileError, SessionOfAnotherUser
from .model import Profile
from .plugins import get_registry
from .resolve import UnavailableSource

T = TypeVar("T")
EXPIRY_MARGIN = 30.0
"""Seconds before ``expires_at`` at which a remembered secret counts as expired."""

_remembered: dict[tuple[str, ...], Credentials] = {}
_spent = threading.local()
_locks: dict[tuple[str, ...], threading.Lock] = {}
_guard = threading.Lock()


def _reveal(value: Any) -> Any:
    return value.get_secret_value() if isinstance(value, SecretStr | SecretBytes) else value


def _key(profile: Profile) -> tuple[str, ...]:
    """The profile and its source config, secrets included (it never leaves this process's memory)."""
    config = profile.credentials
    table = {k: _reveal(v) for k, v in config.model_dump(mode="python").items()} \
        if hasattr(config, "model_dump") else {}
    return (profile.name, profile.file or "", profile.source, json.dumps(table, sort_keys=True, default=str))


def credential_seconds() -> float:
    """Seconds this thread has spent in credential sources' ``fetch`` so far (take differences).

    A connect's own clock starts after the credentials (a person may be typing, Vault may be slow):
    ``open_connection`` subtracts this to report the two apart."""
    return float(getattr(_spent, "seconds", 0.0))


def fetch_credentials(profile: Profile) -> Credentials:
    """Ask the profile's credential source; every failure becomes CredentialError (exit 4).

    The source comes from the registry that validated the profile, not from whatever registry
    is global now. A plugin's own exception is reported by type only and not chained: its text
    (and so a traceback shown with --debug) could hold a secret.
    """
    registry = profile.registry or get_registry()
    source = registry.source(profile.source)
    if source is None or isinstance(profile.credentials, UnavailableSource):
        reason = getattr(profile.credentials, "reason", "") or registry.unavailable_reason(profile.source)
        raise CredentialError(f"profile '{profile.name}': credential source '{profile.source}' is not available"
                              + (f" ({reason})" if reason else ""),
                              hint=f"run '{PROG} plugins' to see which plugins loaded and why not")
    started = time.monotonic()
    try:
        credentials = source.fetch(profile, profile.credentials)
    except ProfileError:
        raise
    except Exception as exc:  # a plugin's own failure: name it, without its text (could hold secrets)
        raise CredentialError(f"profile '{profile.name}': credential source '{profile.source}' failed "
                              f"({type(exc).__name__})") from None
    finally:
        _spent.seconds = credential_seconds() + time.monotonic() - started
    if not isinstance(credentials, Credentials):
        raise CredentialError(f"profile '{profile.name}': credential source '{profile.source}' returned "
                              f"{type(credentials).__name__}, not Credentials")
    problem = unusable(credentials)
    if problem:
        raise CredentialError(f"profile '{profile.name}': credential source '{profile.source}' gave {problem}")
    return credentials


def unusable(credentials: Credentials) -> str | None:
    """What in ``credentials`` cannot be sent to a server, in words that quote no secret; None if all is well.

    A password that is not Unicode text (a lone surrogate: what Python makes of a byte that is not
    UTF-8 in an environment variable) crashes Ice's ``createSession`` with a segmentation fault,
    and a control character in a user name or session key would forge lines in messages.
    """
    for what, value in (("a password", credentials.password), ("a session key", credentials.session_key),
                        *(("a fallback session key", key) for key in credentials.fallback_session_keys)):
        text = value.get_secret_value() if value is not None else ""
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"{what} that is not valid Unicode text (an undecodable byte?)"
        if what != "a password" and any(c.isspace() or not c.isprintable() for c in text):
            return f"{what} with a space or control character"
    for what, name in (("a user name", credentials.username), ("an expected user name", credentials.expected_user)):
        if name is not None and (not name.isprintable() or name != name.strip()):
            return f"{what} with a control character or surrounding spaces"
        if name is not None:
            try:
                name.encode("utf-8")
            except UnicodeEncodeError:
                return f"{what} that is not valid Unicode text"
    return None


def _fresh(credentials: Credentials) -> bool:
    return credentials.expires_at is None or time.time() < credentials.expires_at - EXPIRY_MARGIN


def remembered_credentials(profile: Profile) -> tuple[Credentials, bool]:
    """The profile's credentials and whether they came from memory (fetched now if not there)."""
    registry = profile.registry or get_registry()
    source = registry.sources.get(profile.source)
    if source is None or not source.cls.remember:
        return fetch_credentials(profile), False
    key = _key(profile)
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:  # one prompt, one Vault read, however many threads connect at once
        known = _remembered.get(key)
        if known is not None and _fresh(known):
            return known, True
        credentials = fetch_credentials(profile)
        _remembered[key] = credentials
        return credentials, False


def forget(profile: Profile) -> None:
    """Drop the profile's remembered credentials (they were rejected)."""
    _remembered.pop(_key(profile), None)


def forget_all() -> None:
    """Drop every remembered secret (tests; or after changing a password)."""
    _remembered.clear()


def with_credentials(profile: Profile, use: Callable[[Credentials], T]) -> T:
    """``use(credentials)``, trying each fallback session; rejected remembered ones are fetched anew once.

    A rejection (AuthenticationFailed) drops the remembered credentials; if they came from
    memory, the source is asked again (the password may have been changed) and tried once more.
    """
    credentials, from_memory = remembered_credentials(profile)
    try:
        return _each_attempt(credentials, use)
    except AuthenticationFailed:
        forget(profile)
        if not from_memory:
            raise
    return _each_attempt(remembered_credentials(profile)[0], use)


def _each_attempt(credentials: Credentials, use: Callable[[Credentials], T]) -> T:
    """Each attempt in turn; if all are rejected, a session of another user is what is reported (it matters most)."""
    attempts = credentials.attempts()
    foreign: SessionOfAnotherUser | None = None
    for index, attempt in enumerate(attempts):
        try:
            return use(attempt)
        except AuthenticationFailed as exc:
            if isinstance(exc, SessionOfAnotherUser):
                foreign = foreign or exc
            if index + 1 < len(attempts):
                continue
            if foreign is not None:
                raise foreign from None
            if credentials.rejected_hint and not exc.hint:
                exc.hint = credentials.rejected_hint
            raise
    raise AssertionError("unreachable: attempts() is never empty")
