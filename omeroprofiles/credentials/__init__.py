"""Credential sources. Builtins live in one module each and register through the plugin hook.

The public import path for plugin authors: ``CredentialSource``, ``Credentials``, ``SourceConfig``
and ``ask`` (the terminal prompt the builtin ``prompt`` source uses).
"""

from .base import Credentials, CredentialSource, SourceConfig
from .terminal import ask

__all__ = ["CredentialSource", "Credentials", "SourceConfig", "ask"]
