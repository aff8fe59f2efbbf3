"""``source = "plain"``: username and password written in the profile (for test servers)."""

from __future__ import annotations

from pydantic import SecretStr

from .base import Credentials, CredentialSource, SourceConfig


class PlainConfig(SourceConfig):
    username: str
    password: SecretStr


class PlainSource(CredentialSource):
    name = "plain"
    config_model = PlainConfig
    summary = "username and password written in the file (test servers, public read-only users)"

    def fetch(self, profile, config: PlainConfig) -> Credentials:
        return Credentials(username=config.username, password=config.password)
