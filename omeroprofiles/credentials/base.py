"""The credential-source interface that builtin and third-party sources implement."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

if TYPE_CHECKING:
    from ..model import Profile


class Credentials(BaseModel):
    """What a source hands to the connect layer: username + password, or an OMERO session key.

    Secrets are ``SecretStr`` until the moment they are passed to omero-py; ``repr`` and ``str``
    never show them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    username: str | None = None
    password: SecretStr | None = None
    session_key: SecretStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> Credentials:
        if self.session_key is None and (self.username is None or self.password is None):
            raise ValueError("credentials need a username and a password, or a session key")
        return self


class SourceConfig(BaseModel):
    """Base for a source's ``credentials = {source = "...", ...}`` table model.

    Subclasses add their own keys; unknown keys are errors, types are not coerced.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    source: str


class CredentialSource:
    """A way to obtain credentials. Subclass, set ``name`` and ``config_model``, implement ``fetch``.

    ``name`` is the TOML ``source`` value. ``fetch`` may do I/O (read a keyring, run a command,
    ask Vault); it is called only when a connection is made, never by list/show/validate.
    It raises ``omeroprofiles.errors.CredentialError`` with a message that names what is missing
    and never contains a secret.
    """

    name: ClassVar[str]
    config_model: ClassVar[type[SourceConfig]] = SourceConfig
    summary: ClassVar[str] = ""

    def fetch(self, profile: Profile, config: Any) -> Credentials:
        raise NotImplementedError(f"credential source '{self.name}' cannot fetch credentials")

    def describe(self, config: Any) -> str:
        """Offline one-line description for ``list``: the username if known, else ''."""
        return getattr(config, "username", None) or ""
