"""``source = "prompt"``: ask the person at the terminal; never stores anything."""

from __future__ import annotations

from .base import Credentials, CredentialSource, SourceConfig
from .terminal import ask


class PromptConfig(SourceConfig):
    username: str | None = None


class PromptSource(CredentialSource):
    name = "prompt"
    config_model = PromptConfig
    summary = "ask at the terminal (needs a TTY)"

    def fetch(self, profile, config: PromptConfig) -> Credentials:
        target = profile.display_address()
        username = config.username or ask(profile, f"OMERO username for {target}")
        return Credentials(username=username, password=ask(profile, f"OMERO password for {username}@{target}",
                                                            secret=True))
