"""``source = "session"``: join an existing OMERO session by its key instead of logging in."""

from __future__ import annotations

import os

from pydantic import SecretStr, model_validator

from ..errors import CredentialError
from .base import Credentials, CredentialSource, SourceConfig


class SessionConfig(SourceConfig):
    key: SecretStr | None = None
    """The session key itself (a UUID). Prefer ``key_var`` so the key is not in the file."""
    key_var: str | None = None
    """An environment variable holding the session key, e.g. ``OMERO_SESSION_KEY``."""
    username: str | None = None
    """Whose session it must be: a session of anyone else is refused after joining (exit 6)."""

    @model_validator(mode="after")
    def _one_way(self) -> SessionConfig:
        if (self.key is None) == (self.key_var is None):
            raise ValueError("set exactly one of 'key' or 'key_var'")
        return self


class SessionSource(CredentialSource):
    name = "session"
    config_model = SessionConfig
    summary = "join an existing session by key (from the file or an environment variable)"

    def fetch(self, profile, config: SessionConfig) -> Credentials:
        if config.key is not None:
            return Credentials(session_key=config.key, expected_user=config.username)
        value = os.environ.get(config.key_var or "")
        if not value:
            raise CredentialError(
                f"profile '{profile.name}': environment variable ${config.key_var} (session key) is not set"
            )
        return Credentials(session_key=value, expected_user=config.username)

    def describe(self, config: SessionConfig) -> str:
        return config.username or (f"${config.key_var}" if config.key_var else "session key")
