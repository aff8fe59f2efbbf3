"""``source = "user-token"``: join the session in Glencoe Software's omero-user-token file.

``omero_user_token set`` (or ``omero-profile login NAME --user-token``) writes
``$OMERO_USER_TOKEN_DIR/token`` (default ``~/.omero_user_token/token``) as
``<session key>@<host>:<port>``, a long-lived session for headless pipelines. We read it offline,
check that it is for the profile's server (the host exactly as written: ``localhost`` is not
``127.0.0.1``, since nothing offline can prove two names are one server), and the connect layer
joins it (detached on close, never killed) and, with ``username``, checks whose session it is.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import CredentialError
from ..usertoken import Unreadable, read, token_path
from .base import Credentials, CredentialSource, SourceConfig


class UserTokenConfig(SourceConfig):
    file: str | None = None
    """Where the token is; default omero-user-token's own: $OMERO_USER_TOKEN_DIR/token, else
    ~/.omero_user_token/token."""
    username: str | None = None
    """Whose session it must be: a session of anyone else is refused after joining (exit 6)."""


class UserTokenSource(CredentialSource):
    name = "user-token"
    config_model = UserTokenConfig
    summary = "join the session in omero-user-token's file ($OMERO_USER_TOKEN_DIR/token)"
    remember = False

    def fetch(self, profile, config: UserTokenConfig) -> Credentials:
        path = Path(config.file).expanduser() if config.file else token_path()
        fix = (f"write one with: omero-profile login OTHER --user-token  (OTHER: a profile that logs in to "
               f"{profile.hostname}:{profile.port} with a password), or: omero_user_token set -s {profile.hostname} "
               f"-p {profile.port}")
        try:
            token = read(path)
        except Unreadable as exc:
            raise CredentialError(f"profile '{profile.name}': the user token {path} cannot be used: {exc}") from None
        if token is None:
            raise CredentialError(f"profile '{profile.name}': no user token at {path}", hint=fix)
        if token.host != profile.hostname or token.port != profile.port:
            raise CredentialError(f"profile '{profile.name}': the user token in {path} is for {token.host}:"
                                  f"{token.port}, not {profile.display_address()} (host names are compared "
                                  "exactly as written)", hint=fix)
        return Credentials(session_key=token.key, expected_user=config.username,
                           rejected_hint=f"the user token has expired or was ended; {fix}")

    def describe(self, config: UserTokenConfig) -> str:
        return config.username or "user token"
