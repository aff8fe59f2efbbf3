"""One exception class per failure kind, each carrying the CLI exit code for that kind.

The CLI maps these to messages in exactly one place (``cli._Group.invoke``); library users catch
``ProfileError`` or a subclass. Messages name the profile, file and host, never a secret.
"""

from __future__ import annotations

from typing import NamedTuple

from .text import printable


class ProfileError(Exception):
    """Base class: every failure omero-profiles reports on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


def report_lines(exc: ProfileError, prog: str) -> list[str]:
    """How a command reports ``exc`` on stderr: ``PROG: error: ...`` per line, then the hint.

    One wording for the click command line and for ``quick`` (which answers ``current`` without
    it): they must print the same bytes."""
    # one line per problem of a configuration error (each escaped by Problem), else exactly one line:
    # text from a source, a server or a plugin can never add a line that looks like ours
    problems = [str(p) for p in getattr(exc, "problems", [])]
    lines = [f"{prog}: error: {line}" for line in problems or [printable(str(exc) or type(exc).__name__)]]
    if exc.hint:
        lines.append(f"{prog}: hint: {printable(exc.hint)}")
    return lines


class Problem(NamedTuple):
    """One thing wrong with a configuration file, locatable by a person.

    A NamedTuple rather than a dataclass: ``dataclasses`` imports ``inspect``, which alone costs a
    quarter of the interpreter start, and every command (``current`` too) imports this module.
    """

    file: str
    message: str
    profile: str | None = None
    key: str | None = None
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        """One line, whatever the file, names and keys hold (control characters are escaped)."""
        where = printable(self.file)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        parts = [where]
        if self.profile is not None:
            parts.append(f"profile '{printable(self.profile)}'")
        if self.key:
            parts.append(printable(self.key))
        parts.append(printable(self.message))
        return ": ".join(parts)


class ConfigError(ProfileError):
    """Invalid configuration: syntax, schema, unknown key, extends cycle, bad usage (exit 2)."""

    exit_code = 2

    def __init__(self, problems: list[Problem] | str, *, hint: str | None = None) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            message = problems
        else:
            self.problems = list(problems)
            message = "\n".join(str(p) for p in self.problems)
        super().__init__(message, hint=hint)


class ProfileNotFound(ProfileError):
    """The selected profile is not defined in any file read (exit 3)."""

    exit_code = 3


class CredentialError(ProfileError):
    """A credential source could not produce credentials (exit 4)."""

    exit_code = 4


class ServerUnreachable(ProfileError):
    """DNS failure, refused, timed out, TLS failure: no OMERO server answered (exit 5)."""

    exit_code = 5


class AuthenticationFailed(ProfileError):
    """The server rejected the username/password or the session key (exit 6)."""

    exit_code = 6


class SessionOfAnotherUser(AuthenticationFailed):
    """A joined session belongs to another user than the profile's (exit 6): never used.

    ``expected`` and ``found`` are the two user names (a planted session file, a stale key).
    """

    def __init__(self, message: str, *, expected: str, found: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.expected = expected
        self.found = found


class AccessDenied(ProfileError):
    """Logged in, but the group or su target is not allowed (exit 7)."""

    exit_code = 7
