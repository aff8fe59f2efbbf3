"""``source = "omero-login"``: join a session stored by ``omero login`` (or ``omero-profile login``).

Reads the OMERO CLI's session store offline; the connect layer joins the newest stored session
for the profile's host and port that is still alive (older ones are fallbacks). Joined sessions
are detached on close, never killed: they belong to the store.
"""

from __future__ import annotations

from ..errors import AuthenticationFailed
from ..sessionstore import SessionStore, store_dir, store_host
from .base import Credentials, CredentialSource, SourceConfig


class OmeroLoginConfig(SourceConfig):
    username: str | None = None
    """Whose session; default: the last user that logged in to this host."""


class OmeroLoginSource(CredentialSource):
    name = "omero-login"
    config_model = OmeroLoginConfig
    summary = "join a session stored by `omero login` / `omero-profile login` (no password)"
    remember = False

    def fetch(self, profile, config: OmeroLoginConfig) -> Credentials:
        store = SessionStore()
        host = store_host(profile)
        user = config.username or store.last_user(host)
        hint = (f"log in first: omero-profile login {profile.name}  (or: omero login -s {host} "
                f"-p {profile.port}{f' -u {user}' if user else ''})")
        sessions = store.sessions(host, user, profile.port) if user else []
        if not sessions:
            who = f"user '{user}'" if user else "any user"
            raise AuthenticationFailed(f"profile '{profile.name}': no session of {who} on {host}:{profile.port} "
                                       f"is stored in {store_dir()}", hint=hint)
        keys = [s.key for s in sessions]
        return Credentials(session_key=keys[0], fallback_session_keys=tuple(keys[1:]), expected_user=user,
                           rejected_hint=f"every stored session has ended; {hint}")

    def describe(self, config: OmeroLoginConfig) -> str:
        return config.username or "(last omero login)"
