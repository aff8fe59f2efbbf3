"""``source = "prompt"``: ask the person at the terminal; never stores anything."""

from __future__ import annotations

import getpass
import sys

from ..errors import CredentialError
from .base import Credentials, CredentialSource, SourceConfig


class PromptConfig(SourceConfig):
    username: str | None = None


class PromptSource(CredentialSource):
    name = "prompt"
    config_model = PromptConfig
    summary = "ask at the terminal (needs a TTY)"

    def fetch(self, profile, config: PromptConfig) -> Credentials:
        if not (sys.stdin and sys.stdin.isatty()):
            raise CredentialError(
                f"profile '{profile.name}': credentials source 'prompt' needs a terminal to ask for "
                "the password, and standard input is not one (use source = \"env\" or \"keyring\" "
                "for scripts and pipelines)"
            )
        target = profile.display_address()
        username = config.username
        try:
            if not username:
                sys.stderr.write(f"OMERO username for {target}: ")
                sys.stderr.flush()
                username = sys.stdin.readline().strip()
            password = getpass.getpass(f"OMERO password for {username}@{target}: ")
        except (EOFError, KeyboardInterrupt):
            raise CredentialError(f"profile '{profile.name}': no credentials entered") from None
        if not username or not password:
            raise CredentialError(f"profile '{profile.name}': empty username or password entered")
        return Credentials(username=username, password=password)
