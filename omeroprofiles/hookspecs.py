"""The hooks plugins implement. These docstrings are the reference documentation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .credentials.base import CredentialSource

PROJECT = "omeroprofiles"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def omeroprofiles_credential_sources() -> list[type[CredentialSource]]:
    """Return the credential source classes this plugin provides.

    Each class subclasses ``omeroprofiles.credentials.CredentialSource`` and sets ``name`` (the
    value of ``source`` in a profile's ``credentials`` table), ``config_model`` (a pydantic model
    subclassing ``SourceConfig`` that validates that table) and implements
    ``fetch(profile, config) -> Credentials``. Every plugin's result is collected; a name already
    provided by an earlier plugin (builtins come first) is reported as a conflict and ignored.
    """
