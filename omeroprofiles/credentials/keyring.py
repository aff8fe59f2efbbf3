"""``source = "keyring"``: the password from the operating system's keyring (via ``keyring``).

Also what ``omero-profile password set/delete/check`` use, so the password is stored exactly
where the source will look for it. ``keyring`` is imported only when a keyring is used.
"""

from __future__ import annotations

from typing import Any

from ..constants import PROG
from ..errors import ConfigError, CredentialError
from .base import Credentials, CredentialSource, SourceConfig

DEFAULT_SERVICE = "omero-profiles"
NO_BACKEND_FIX = ("install and unlock a keyring backend (Secret Service: gnome-keyring or KWallet; "
                  "or `pip install keyrings.alt` for a file-based one; or set PYTHON_KEYRING_BACKEND), "
                  "or use another credentials source (env, command, vault)")


class KeyringConfig(SourceConfig):
    username: str
    service: str | None = None
    """Keyring service name; default ``omero-profiles:<host>`` so one user can differ per server."""


def require_keyring(profile: Any) -> Any:
    """``profile``, if it takes its password from the keyring (what ``password set/delete/check`` act on)."""
    if profile.source != "keyring":
        raise ConfigError(f"profile '{profile.name}' takes its credentials from source '{profile.source}', not "
                          "the keyring", hint=f"{PROG} set {profile.name} credentials '{{ source = \"keyring\", "
                                              "username = \"USER\" }'")
    return profile


def service_name(profile: Any, config: KeyringConfig) -> str:
    return config.service or f"{DEFAULT_SERVICE}:{profile.hostname}"


def _backend(profile: Any) -> Any:
    """The keyring backend, or CredentialError (exit 4) naming the problem and the fix."""
    import keyring
    from keyring.backends import fail

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # e.g. $PYTHON_KEYRING_BACKEND names a backend that cannot be imported
        raise CredentialError(f"profile '{profile.name}': the keyring backend cannot be loaded "
                              f"({type(exc).__name__})", hint=NO_BACKEND_FIX) from None
    chained = getattr(backend, "backends", None)
    if isinstance(backend, fail.Keyring) or chained == []:
        raise CredentialError(f"profile '{profile.name}': no usable keyring backend on this system",
                              hint=NO_BACKEND_FIX)
    return backend


def _backend_name(backend: Any) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _call(profile: Any, what: str, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` on the backend; any failure is CredentialError naming its type only.

    Backends raise more than KeyringError (D-Bus, KWallet and OS errors), and their text may
    quote the password they were handed: never shown, never chained.
    """
    import keyring.errors

    try:
        return fn(*args)
    except keyring.errors.NoKeyringError:
        raise CredentialError(f"profile '{profile.name}': no usable keyring backend on this system",
                              hint=NO_BACKEND_FIX) from None
    except Exception as exc:
        raise CredentialError(f"profile '{profile.name}': the keyring could not {what} ({type(exc).__name__}; "
                              "is it locked?)") from None


def store_password(profile: Any, password: str) -> tuple[str, str]:
    """Store ``password`` for the profile; returns (service, username)."""
    config: KeyringConfig = profile.credentials
    service = service_name(profile, config)
    _call(profile, "store the password", _backend(profile).set_password, service, config.username, password)
    return service, config.username


def delete_password(profile: Any) -> tuple[str, str]:
    """Remove the profile's password; CredentialError if there is none."""
    import keyring.errors

    config: KeyringConfig = profile.credentials
    service = service_name(profile, config)
    backend = _backend(profile)
    try:
        backend.delete_password(service, config.username)
    except keyring.errors.PasswordDeleteError:
        raise CredentialError(f"profile '{profile.name}': no password of '{config.username}' for service "
                              f"'{service}' in the keyring") from None
    except Exception as exc:  # any backend failure, by type only (see _call)
        raise CredentialError(f"profile '{profile.name}': the keyring could not delete the password "
                              f"({type(exc).__name__})") from None
    return service, config.username


def has_password(profile: Any) -> tuple[str, str, bool, str]:
    """(service, username, whether a password is stored, backend name); never the password."""
    config: KeyringConfig = profile.credentials
    service = service_name(profile, config)
    backend = _backend(profile)
    stored = _call(profile, "be read", backend.get_password, service, config.username) is not None
    return service, config.username, stored, _backend_name(backend)


class KeyringSource(CredentialSource):
    name = "keyring"
    config_model = KeyringConfig
    summary = "the operating system keyring (Secret Service, macOS Keychain, Windows Credential Locker)"

    def fetch(self, profile: Any, config: KeyringConfig) -> Credentials:
        service = service_name(profile, config)
        password = _call(profile, "be read", _backend(profile).get_password, service, config.username)
        if password is None:
            raise CredentialError(
                f"profile '{profile.name}': no keyring entry for service '{service}', user '{config.username}'",
                hint=f"store one with: omero-profile password set {profile.name}")
        return Credentials(username=config.username, password=password,
                           rejected_hint=f"if the password changed: omero-profile password set {profile.name}")
