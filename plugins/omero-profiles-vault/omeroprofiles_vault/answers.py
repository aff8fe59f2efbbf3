"""What an answer from Vault must look like before anything in it is used.

Vault's answers are JSON objects of a known shape; an address that is not Vault (or a proxy that
changes what Vault says) can send anything: a list, ``data`` as a string, a lease of 10**400
seconds, a token with a newline. Each such answer is an ``UnusableAnswer`` naming the request and
what is wrong, in words that never quote the answer's values (they can be secrets), and
``failures.py`` turns it into the profile's ``CredentialError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

MAX_LEASE_SECONDS = (2**63 - 1) // 10**9
"""Vault's leases are Go durations: at most 2**63 - 1 nanoseconds, about 292 years."""

_TOKEN = re.compile(r"[!-~]{1,4096}")
"""A Vault token: visible ASCII (``hvs.``/``s.`` and base62 in practice), nothing a header could not carry."""
_WORD = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""A mount's type or KV version as Vault names them (``kv``, ``generic``, ``2``)."""


class UnusableAnswer(Exception):
    """An answer that is not used. ``request`` is what was asked (``GET /v1/secret/data/x``)."""

    def __init__(self, request: str, text: str) -> None:
        super().__init__(f"{request}: {text}")
        self.request = request


class Redirected(UnusableAnswer):
    """Vault's address answered with a redirect; it is never followed (the token would go along)."""

    def __init__(self, request: str, status: int, location: str | None) -> None:
        super().__init__(request, f"redirect (HTTP {status}) to {location!r}")
        self.status = status
        self.location = location


class MalformedAnswer(UnusableAnswer):
    """The answer is not what Vault sends: ``what`` says how, without quoting it."""

    def __init__(self, request: str, what: str) -> None:
        super().__init__(request, what)
        self.what = what


_MISSING = object()


def json_kind(value: Any) -> str:
    """What a JSON value is, in words: 'a JSON list', 'null', ... ('missing' for an absent key)."""
    if value is _MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a JSON boolean"
    if isinstance(value, int | float):
        return "a JSON number"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, list):
        return "a JSON list"
    return "a JSON object" if isinstance(value, dict) else type(value).__name__


def as_object(answer: Any, request: str) -> dict[str, Any]:
    """The answer as a JSON object. hvac gives a dict for a 200 with JSON, else the Response itself."""
    if isinstance(answer, dict):
        return answer
    status = getattr(answer, "status_code", None)
    if status is not None:
        empty = " with an empty body" if not answer.content else ""
        raise MalformedAnswer(request, f"no JSON object (HTTP {status}{empty})")
    raise MalformedAnswer(request, f"the answer is {json_kind(answer)} where Vault sends a JSON object")


def _member(parent: dict[str, Any], key: str, name: str, request: str) -> dict[str, Any]:
    """``parent[key]``, a JSON object; ``name`` is its dotted path, for the message."""
    value = parent.get(key, _MISSING)
    if not isinstance(value, dict):
        raise MalformedAnswer(request, f"'{name}' is {json_kind(value)} where Vault sends a JSON object")
    return value


def _optional_member(parent: dict[str, Any], key: str, name: str, request: str) -> dict[str, Any] | None:
    """``parent[key]``, a JSON object, or None when it is null or absent."""
    return None if parent.get(key) is None else _member(parent, key, name, request)


def check_errors(answer: dict[str, Any], request: str) -> None:
    """An error answer's ``errors``: absent, null or a list of strings (hvac joins them into its message)."""
    errors = answer.get("errors")
    if errors is not None and not (isinstance(errors, list) and all(isinstance(e, str) for e in errors)):
        raise MalformedAnswer(request, "'errors' is not a list of strings")


def _lease(answer: dict[str, Any], request: str) -> int:
    lease = answer.get("lease_duration")
    if lease is None:
        return 0
    if type(lease) is not int or not 0 <= lease <= MAX_LEASE_SECONDS:  # bool is an int: not a lease
        raise MalformedAnswer(request, "'lease_duration' is not a whole number of seconds from 0 to 292 years")
    return lease


@dataclass
class Secret:
    """A KV read: the key/value data (None: the latest version was deleted or destroyed) and its lease."""

    data: dict[str, Any] | None
    lease: int
    version: int | None = None
    destroyed: bool = False


def kv_secret(answer: Any, kv_version: int, request: str) -> Secret:
    """A KV v1 answer (``data`` is the secret) or a KV v2 one (``data.data``, and ``data.metadata``)."""
    answer = as_object(answer, request)
    lease = _lease(answer, request)
    body = _member(answer, "data", "data", request)
    if kv_version == 1:
        return Secret(body, lease)
    data = _optional_member(body, "data", "data.data", request)
    if data is not None:
        return Secret(data, lease)
    metadata = _optional_member(body, "metadata", "data.metadata", request) or {}
    version = metadata.get("version")
    if version is not None and (type(version) is not int or version < 0):
        raise MalformedAnswer(request, "'data.metadata.version' is not a version number")
    destroyed = metadata.get("destroyed", False)
    if not isinstance(destroyed, bool):
        raise MalformedAnswer(request, "'data.metadata.destroyed' is not true or false")
    return Secret(None, lease, version or None, destroyed)


def login_token(answer: Any, request: str) -> str:
    """The client token of a login answer (``auth.client_token``)."""
    auth = _member(as_object(answer, request), "auth", "auth", request)
    token = auth.get("client_token")
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise MalformedAnswer(request, "'auth.client_token' is not a Vault token")
    return token


def mount_engine(answer: Any) -> tuple[str | None, str] | None:
    """A mount's engine type and KV version (``sys/internal/ui/mounts/<mount>``); None if the answer
    does not say it plainly. Used only for a hint, so an odd answer just means no hint."""
    mount = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(mount, dict):
        return None
    kind = mount.get("type")
    options = mount.get("options") or {}
    version = (options.get("version") or "1") if isinstance(options, dict) else None
    if type(version) is int:
        version = str(version)
    if kind is not None and not (isinstance(kind, str) and _WORD.fullmatch(kind)):
        return None
    if not (isinstance(version, str) and _WORD.fullmatch(version)):
        return None
    return kind, version
