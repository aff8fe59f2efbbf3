"""The credential-source interface that builtin and third-party sources implement.

The public import path for plugin authors is ``omeroprofiles.credentials``; docs/plugins.md is
the guide. A source's **secret keys** are the ``SecretStr``/``SecretBytes`` fields of its config
model: they are masked by ``show``, refused by ``set``/``add`` unless the value is typed at a
prompt, counted by the readable-file warning and never put in a message, for builtin and
third-party sources alike.
"""

from __future__ import annotations

import abc
import types
import typing
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretBytes, SecretStr, model_validator

if TYPE_CHECKING:
    from ..model import Profile


class Credentials(BaseModel):
    """What a source hands to the connect layer: username + password, or an OMERO session key.

    Secrets are ``SecretStr`` until the moment they are passed to omero-py; ``repr`` and ``str``
    never show them. ``expires_at`` (seconds since the epoch, optional) says when the secret
    stops being valid, so a process that keeps it in memory knows to fetch it again.
    ``fallback_session_keys``: more sessions to try, in order, if ``session_key``'s is dead.
    ``rejected_hint``: what to tell the person if the server rejects these credentials.
    ``expected_user``: for session keys, whose sessions they must be. The connect layer asks the
    server after joining and refuses (exit 6) a session of anyone else, so a key planted in a
    file never connects you as another user; set it whenever the source knows the user.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str | None = None
    password: SecretStr | None = None
    session_key: SecretStr | None = None
    fallback_session_keys: tuple[SecretStr, ...] = ()
    expires_at: float | None = None
    rejected_hint: str | None = None
    expected_user: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> Credentials:
        if self.session_key is None and (self.username is None or self.password is None):
            raise ValueError("credentials need a username and a password, or a session key")
        if self.fallback_session_keys and self.session_key is None:
            raise ValueError("fallback_session_keys need a session_key to try first")
        return self

    def attempts(self) -> list[Credentials]:
        """These credentials, then one per fallback session key: what to try, in order."""
        return [self, *(self.model_copy(update={"session_key": key, "fallback_session_keys": ()})
                        for key in self.fallback_session_keys)]


_SECRET_TYPES = (SecretStr, SecretBytes)


def _is_secret(annotation: Any) -> bool:
    if annotation in _SECRET_TYPES:
        return True
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return any(_is_secret(arg) for arg in typing.get_args(annotation))
    return False


class SourceConfig(BaseModel):
    """Base for a source's ``credentials = {source = "...", ...}`` table model.

    Subclasses add their own keys; unknown keys are errors, types are not coerced. Declare every
    key that holds a secret as ``SecretStr`` (or ``SecretStr | None``): that is how omero-profiles
    knows to mask it, refuse it on a command line and warn when the file is readable by others.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    source: str

    @classmethod
    def secret_keys(cls) -> frozenset[str]:
        """The keys of this table that hold a secret: every ``SecretStr``/``SecretBytes`` field."""
        return frozenset(name for name, field in cls.model_fields.items() if _is_secret(field.annotation))


class CredentialSource(abc.ABC):
    """A way to obtain credentials. Subclass, set ``name`` and ``config_model``, implement ``fetch``.

    ``name`` is the TOML ``source`` value. ``fetch`` may do I/O (read a keyring, run a command,
    ask Vault); it is called only when a connection is made, never by list/show/validate.
    It raises ``omeroprofiles.CredentialError`` with a message that names what is missing
    and never contains a secret. An abstract subclass (``fetch`` not implemented) is refused
    when its plugin registers, not at connect time.
    """

    name: ClassVar[str]
    config_model: ClassVar[type[SourceConfig]] = SourceConfig
    summary: ClassVar[str] = ""
    """One line shown by ``omero-profile plugins``."""
    remember: ClassVar[bool] = True
    """Keep what ``fetch`` returns in memory for the life of the process (until it expires or is
    rejected), so reconnects and pools do not ask again. False for sources that are cheap to read
    and change under us (a session store)."""

    @abc.abstractmethod
    def fetch(self, profile: Profile, config: Any) -> Credentials:
        """Credentials for ``profile``; ``config`` is an instance of ``config_model``."""

    def describe(self, config: Any) -> str:
        """Offline one-line description for ``list``: the username if known, else ''. Never a secret."""
        return getattr(config, "username", None) or ""

    def known_username(self, config: Any) -> str | None:
        """The OMERO user these credentials log in as, if known without fetching a secret; else None.

        Used to find a stored session to join (``share_session``, ``logout``) with no password.
        """
        return getattr(config, "username", None)
