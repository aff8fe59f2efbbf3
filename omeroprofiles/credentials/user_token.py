"""``source = "user-token"``: join the session in Glencoe Software's omero-user-token file.

``omero_user_token set`` writes ``~/.omero_user_token/token`` as ``<session key>@<host>:<port>``
(a long-lived session for headless pipelines). We read it offline, check that it is for the
profile's server, and the connect layer joins it (detached on close, never killed).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CredentialError
from ..filesystem import Unusable, read_regular
from .base import Credentials, CredentialSource, SourceConfig

DEFAULT_FILE = "~/.omero_user_token/token"
MAX_TOKEN_BYTES = 64 * 1024
"""A token is one short line; anything much bigger is not one."""


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
        try:  # never blocks on a FIFO, never reads a device or a huge file whole
            raw = read_regular(path, MAX_TOKEN_BYTES)
            text = raw.decode("utf-8").strip() if raw is not None else None
        except Unusable as exc:
            raise CredentialError(f"profile '{profile.name}': the user token {path} cannot be read: {exc}") from None
        except UnicodeDecodeError:
            raise CredentialError(f"profile '{profile.name}': the user token {path} is not text") from None
        if text is None:
            raise CredentialError(f"profile '{profile.name}': no user token at {path}", hint=fix)
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
