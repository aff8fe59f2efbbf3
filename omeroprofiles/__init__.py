"""omero-profiles: named, declarative connection profiles for OMERO servers.

Importing this package is cheap: omero-py and Ice are imported only when a connection is made,
and pydantic, pluggy and the plugins only when something is validated (``hookimpl`` is looked up
on first use, so ``omero-profile current`` does not load pluggy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import (
    AccessDenied,
    AuthenticationFailed,
    ConfigError,
    CredentialError,
    ProfileError,
    ProfileNotFound,
    ServerUnreachable,
    SessionOfAnotherUser,
)

__all__ = [
    "AccessDenied",
    "AuthenticationFailed",
    "ConfigError",
    "CredentialError",
    "ProfileError",
    "ProfileNotFound",
    "ServerUnreachable",
    "SessionOfAnotherUser",
    "connect",
    "get_conn",
    "hookimpl",
    "load_profile",
    "__version__",
]

if TYPE_CHECKING:
    from .api import connect, get_conn, load_profile
    from .hookspecs import hookimpl


def __getattr__(name: str) -> Any:
    if name in ("connect", "get_conn", "load_profile"):
        from . import api

        return getattr(api, name)
    if name == "hookimpl":
        from .hookspecs import hookimpl

        return hookimpl
    if name == "__version__":  # from the installed metadata, looked up only when asked for
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("omero-profiles")
        except PackageNotFoundError:
            return "unknown"
    raise AttributeError(f"module 'omeroprofiles' has no attribute {name!r}")
