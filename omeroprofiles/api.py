"""The Python API: ``load_profile`` (offline), ``get_conn`` and ``connect`` (network)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .model import DEFAULTS_KEYS, Profile
from .resolve import Config

if TYPE_CHECKING:
    from .gateway import ProfileGateway

OVERRIDABLE = DEFAULTS_KEYS
"""Keyword overrides ``get_conn`` takes: every profile key a [defaults] table may set."""


def check_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` without the ``None`` values; ConfigError naming any key a profile cannot override."""
    unknown = sorted(set(overrides) - set(OVERRIDABLE))
    if unknown:
        raise ConfigError(f"unknown override(s): {', '.join(unknown)}; allowed: {', '.join(OVERRIDABLE)}")
    return {k: v for k, v in overrides.items() if v is not None}


def load_profile(name: str | None = None, *, config_file: str | None = None, **overrides: Any) -> Profile:
    """The resolved, validated profile (``name``, else the active one). No network, no secrets fetched."""
    return Config.load(config_file).resolve_selected(name, check_overrides(overrides))


def get_conn(name: str | None = None, *, config_file: str | None = None, reconnect: bool = False,
             **overrides: Any) -> ProfileGateway:
    """A connected BlitzGateway (a ``ProfileGateway``: ``ensure_alive``, ``reconnect``) for the profile, group and
    su applied. Raises a ProfileError subclass.

    ``reconnect=True``: if the session expires (idle timeout, server restart), the next call
    opens a new session from the profile (credentials fetched again) and carries on.
    """
    from .connection import open_connection

    profile = load_profile(name, config_file=config_file, **overrides)
    return open_connection(profile, reconnect=reconnect)


@contextlib.contextmanager
def connect(name: str | None = None, *, config_file: str | None = None, reconnect: bool = False,
            **overrides: Any) -> Iterator[ProfileGateway]:
    """``with connect("prod") as conn:`` — closed on exit, also when the block raises."""
    conn = get_conn(name, config_file=config_file, reconnect=reconnect, **overrides)
    try:
        yield conn
    finally:
        conn.close()
