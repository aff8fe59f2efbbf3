"""``source = "command"``: run a program that prints credentials (like AWS credential_process).

The program prints either a JSON object ``{"username": ..., "password": ...}`` or
``{"session_key": ...}`` (optionally with ``"expires"``: seconds since the epoch or an ISO 8601
time, after which the process fetches again), or a bare password on its first line (then
``username`` must be set in the profile). Its stderr is passed through so it can prompt (e.g.
for a GPG passphrase). Nothing it prints is ever put in a message or a chained traceback.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from datetime import datetime, timezone

from pydantic import Field, ValidationError

from ..errors import CredentialError
from .base import Credentials, CredentialSource, SourceConfig


class CommandConfig(SourceConfig):
    command: str | list[str]
    username: str | None = None
    timeout: float = Field(default=30.0, gt=0)


class CommandSource(CredentialSource):
    name = "command"
    config_model = CommandConfig
    summary = "run a program that prints the password or JSON credentials"

    def fetch(self, profile, config: CommandConfig) -> Credentials:
        argv = shlex.split(config.command) if isinstance(config.command, str) else list(config.command)
        if not argv:
            raise CredentialError(f"profile '{profile.name}': credentials command is empty")
        label = f"profile '{profile.name}': credentials command '{argv[0]}'"
        try:
            done = subprocess.run(
                argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=config.timeout, check=False
            )
        except FileNotFoundError:
            raise CredentialError(f"{label} was not found") from None
        except PermissionError:
            raise CredentialError(f"{label} is not executable") from None
        except subprocess.TimeoutExpired:
            raise CredentialError(f"{label} did not finish within {config.timeout:g} s") from None
        if done.returncode != 0:
            raise CredentialError(f"{label} failed with exit status {done.returncode}")
        return self._parse(done.stdout.decode("utf-8", "replace"), config, label)

    @staticmethod
    def _parse(output: str, config: CommandConfig, label: str) -> Credentials:
        text = output.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError:
                raise CredentialError(f"{label} printed output that is not valid JSON") from None
            if not isinstance(data, dict):
                raise CredentialError(f"{label} must print a JSON object")
            data.setdefault("username", config.username)
            unknown = set(data) - {"username", "password", "session_key", "expires"}
            if unknown:
                raise CredentialError(f"{label} printed unknown keys: {', '.join(sorted(unknown))}")
            if "expires" in data:
                data["expires_at"] = _epoch(data.pop("expires"), label)
            try:
                return Credentials(**data)
            except ValidationError:  # its text quotes the input: the password
                raise CredentialError(f"{label} printed incomplete credentials "
                                      "(need username and password, or session_key)") from None
        password = text.splitlines()[0] if text else ""
        if not password:
            raise CredentialError(f"{label} printed nothing")
        if not config.username:
            raise CredentialError(f"{label} printed a bare password, so the profile needs credentials.username")
        return Credentials(username=config.username, password=password)


def _epoch(value: object, label: str) -> float:
    """``expires`` as seconds since the epoch: a number, or an ISO 8601 time (``Z`` allowed)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    raise CredentialError(f"{label} printed an 'expires' that is neither seconds since the epoch nor an ISO 8601 "
                          "time")
