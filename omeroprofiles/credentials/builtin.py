"""Registers the builtin credential sources through the same hook third-party plugins use."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .command import CommandSource
from .env import EnvSource
from .keyring import KeyringSource
from .omero_login import OmeroLoginSource
from .plain import PlainSource
from .prompt import PromptSource
from .session import SessionSource
from .user_token import UserTokenSource


@hookimpl
def omeroprofiles_credential_sources():
    return [EnvSource, PromptSource, CommandSource, KeyringSource, PlainSource, SessionSource, OmeroLoginSource,
            UserTokenSource]
