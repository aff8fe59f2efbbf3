"""What the command line reads beyond click's parsing: secrets, ``KEY=VALUE`` pairs, the table ``add`` writes.

A secret comes from a hidden prompt (asked twice) or one line of standard input, never from the
command line, where it would stay in the shell's history and be visible to ``ps``: a secret key
given as an argument is refused. Mistakes are click usage errors (exit 2, with the command's
usage line), as click's own parsing reports them.
"""

from __future__ import annotations

import sys
from typing import Any

import click


def read_secret(prompt: str, from_stdin: bool) -> str:
    """A secret typed at a hidden prompt (twice), or one line of stdin; never a command-line argument."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise click.UsageError("--stdin: standard input gave an empty line")
        return value
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to ask on; pipe the value in with --stdin")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True)


def refuse_secrets(secret: list[str], how: str) -> None:
    """A usage error naming the secret keys given on the command line, and ``how`` to give them instead."""
    if secret:
        raise click.UsageError(f"refusing to write a secret ({', '.join(secret)}) from the command line (it would "
                               f"stay in your shell history); {how}")


def credential_pairs(pairs: tuple[str, ...], source: str | None) -> dict[str, Any]:
    """``--cred KEY=VALUE`` options as a table (values read as ``set`` reads them); secret keys refused."""
    from .edit import parse_value
    from .plugins import get_registry

    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--cred")
        result[key] = parse_value(key, raw)
    refuse_secrets(sorted(get_registry().secret_keys(source, list(result))), "use --ask KEY")
    return result


def added_profile(*, host: str | None, port: int | None, secure: bool | None, group: str | None, su: str | None,
                  timeout: float | None, keepalive: int | None, extends: str | None, description: str | None,
                  source: str | None, username: str | None, cred: tuple[str, ...], ask_keys: tuple[str, ...],
                  ask_password: bool, from_stdin: bool) -> tuple[dict[str, Any], bool]:
    """``add``'s options as the profile's table, asking for the ``--ask`` secrets; and whether it holds one."""
    from .edit import parse_value
    from .plugins import get_registry

    if not host and not extends:
        raise click.UsageError("give --host (or --extends PROFILE to inherit one)")
    values: dict[str, Any] = {}
    for key, value in (("description", description), ("extends", extends), ("host", host), ("port", port),
                       ("secure", secure), ("group", None if group is None else parse_value("group", group)),
                       ("su", su), ("timeout", timeout), ("keepalive", keepalive)):
        if value is not None:
            values[key] = value
    credentials = credential_pairs(cred, source)
    if source:
        credentials = {"source": source, **credentials}
    if username:
        credentials["username"] = username
    asked = list(dict.fromkeys([*ask_keys, *(["password"] if ask_password else [])]))
    if asked:
        if not source:
            raise click.UsageError("--ask/--ask-password need --source")
        not_secret = sorted(set(asked) - get_registry().secret_keys(source, asked))
        if not_secret:
            raise click.UsageError(f"source '{source}' keeps no secret in {', '.join(not_secret)}; "
                                   "give other keys with --cred KEY=VALUE")
        for key in asked:
            credentials[key] = read_secret(f"{key} to store in the file", from_stdin)
    if credentials:
        if "source" not in credentials:
            raise click.UsageError("credential keys need --source")
        values["credentials"] = credentials
    return values, bool(asked)
