"""Credential sources. Builtins live in one module each and register through the plugin hook."""

from .base import Credentials, CredentialSource, SourceConfig

__all__ = ["CredentialSource", "Credentials", "SourceConfig"]
