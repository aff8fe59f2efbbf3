"""``source = "user-token"``: join the session in Glencoe Software's omero-user-token file.

``omero_user_token set`` writes ``~/.omero_user_token/token`` as ``<session key>@<host>:<port>``
(a long-lived session for headless pipelines). We read it offline, check that it is for the
profile's server, and the connect layer joins it (detached on close, never killed).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CredentialError
from .base import Credentials, CredentialSource, SourceConfig

DEFAULT_FILE = "~/.omero_user_token/token"


class UserTokenConfig(SourceConfig):
    file: str = DEFAULT_FILE
    """Where the token is; default omero-user-token's own file."""


class UserTokenSource(CredentialSource):
    name = "user-token"
    config_model = UserTokenConfig
    summary = "join the session in omero-user-token's file (~/.omero_user_token/token)"
    remember = False

    def fetch(self, profile, config: UserTokenConfig) -> Credentials:
        path = Path(os.path.expanduser(config.file))
        fix = f"create one with: omero_user_token set -s {profile.hostname} -p {profile.port}"
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise CredentialError(f"profile '{profile.name}': no user token at {path}", hint=fix) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialError(f"profile '{profile.name}': the user token {path} cannot be read "
                                  f"({type(exc).__name__})") from None
        key, at, where = text.rpartition("@")
        host, colon, port = where.rpartition(":")
        if not (key and at and host and colon and port.isdigit()):
            raise CredentialError(f"profile '{profile.name}': {path} is not a user token "
                                  "(expected KEY@HOST:PORT)", hint=fix)
        if host != profile.hostname or int(port) != profile.port:
            raise CredentialError(f"profile '{profile.name}': the user token in {path} is for {host}:{port}, "
                                  f"not {profile.display_address()}", hint=fix)
        return Credentials(session_key=key, rejected_hint=f"the user token has expired or was ended; {fix}")

    def describe(self, config: UserTokenConfig) -> str:
        return "user token"
