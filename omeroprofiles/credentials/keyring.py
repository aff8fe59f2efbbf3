"""``source = "keyring"``: the password from the operating system's keyring (via ``keyring``)."""

from __future__ import annotations

from ..errors import CredentialError
from .base import Credentials, CredentialSource, SourceConfig

DEFAULT_SERVICE = "omero-profiles"


class KeyringConfig(SourceConfig):
    username: str
    service: str | None = None
    """Keyring service name; default ``omero-profiles:<host>`` so one user can differ per server."""


def service_name(profile, config: KeyringConfig) -> str:
    return config.service or f"{DEFAULT_SERVICE}:{profile.hostname}"


class KeyringSource(CredentialSource):
    name = "keyring"
    config_model = KeyringConfig
    summary = "the operating system keyring (Secret Service, macOS Keychain, Windows Credential Locker)"

    def fetch(self, profile, config: KeyringConfig) -> Credentials:
        import keyring
        import keyring.errors

        service = service_name(profile, config)
        try:
            password = keyring.get_password(service, config.username)
        except keyring.errors.KeyringError as exc:
            raise CredentialError(
                f"profile '{profile.name}': the keyring could not be read ({type(exc).__name__})"
            ) from exc
        if password is None:
            raise CredentialError(
                f"profile '{profile.name}': no keyring entry for service '{service}', user "
                f"'{config.username}' (store one with: keyring set '{service}' '{config.username}')"
            )
        return Credentials(username=config.username, password=password)
