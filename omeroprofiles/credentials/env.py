"""``source = "env"``: username and password (or a session key) from environment variables."""

from __future__ import annotations

import os

from ..errors import CredentialError
from .base import Credentials, CredentialSource, SourceConfig


class EnvConfig(SourceConfig):
    username_var: str = "OMERO_USER"
    password_var: str = "OMERO_PASSWORD"
    session_key_var: str | None = None
    """If set and that variable is non-empty, join that session instead of logging in."""
    username: str | None = None
    """A fixed username; when set, ``username_var`` is not read."""


class EnvSource(CredentialSource):
    name = "env"
    config_model = EnvConfig
    summary = "environment variables (OMERO_USER / OMERO_PASSWORD by default)"

    def fetch(self, profile, config: EnvConfig) -> Credentials:
        if config.session_key_var and os.environ.get(config.session_key_var):
            return Credentials(session_key=os.environ[config.session_key_var], expected_user=config.username)
        username = config.username or os.environ.get(config.username_var)
        password = os.environ.get(config.password_var)
        missing = []
        if not username:
            missing.append(f"${config.username_var}")
        if not password:
            missing.append(f"${config.password_var}")
        if missing:
            raise CredentialError(
                f"profile '{profile.name}': environment variable {' and '.join(missing)} "
                f"{'is' if len(missing) == 1 else 'are'} not set (credentials source 'env')"
            )
        return Credentials(username=username, password=password)

    def describe(self, config: EnvConfig) -> str:
        return config.username or f"${config.username_var}"

    def known_username(self, config: EnvConfig) -> str | None:
        return config.username or os.environ.get(config.username_var) or None
