"""``omero profile``: the profile commands inside the OMERO CLI (loaded from ``omero/plugins/profile.py``).

The OMERO CLI is argparse-based and finds its commands as modules in ``omero/plugins``; this is
the control such a module registers, as omero-cli-zarr and omero-metadata do. Its subcommands are
built from the ``omero-profile`` click commands themselves (name, arguments, options, help), so
they take the same options and give the same exit codes by construction, and its help has the
OMERO CLI's look (``omero profile -h``, ``omero help profile``). Running one hands the parsed
options back to the click command. ``omero profile login NAME`` stores the session in the OMERO
CLI's own store, so the ``omero`` commands that follow use it without a password.

Only the OMERO CLI imports this module (it needs ``omero.cli``); nothing in omeroprofiles does.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

import click
from omero.cli import BaseControl, NonZeroReturnCode

from .cli import cli as profile_cli

COMMANDS = ("list", "show", "use", "current", "test", "login", "logout", "status", "doctor")
"""The ``omero-profile`` commands offered as ``omero profile ...``."""

HELP = """Named connection profiles (omero-profiles): use a profile with the omero commands

A profile names a server, a user (or where the password comes from), a group, su... in
profiles.toml (`omero-profile path` shows which files are read). `omero profile login NAME`
stores the session where `omero login` does, so the omero commands that follow use it
without a password. Exit codes: 0 ok, 2 invalid configuration, 3 unknown profile,
4 credentials, 5 server unreachable, 6 authentication rejected, 7 access denied.

Examples:

    omero profile list
    omero profile login prod          # log in with profile 'prod'
    omero group list                  # ... runs in prod's session
    omero profile status prod         # which stored sessions serve it, alive or not
    omero profile doctor prod         # where does connecting break?
    omero profile logout prod
"""

_DEST = "profile_"
"""Prefix of every option's dest: the OMERO CLI's namespace refuses to set an attribute twice."""


class ProfileControl(BaseControl):
    """``omero profile <subcommand>``: see HELP."""

    def _configure(self, parser: Any) -> None:
        sub = parser.sub()
        for name in COMMANDS:
            command = profile_cli.commands[name]
            text = (command.help or "").strip()
            subparser = sub.add_parser(name, help=text.splitlines()[0] if text else name,
                                       description=text.replace("\b\n", ""))
            for param in command.params:
                _add(subparser, param)
            subparser.add_argument("--config", metavar="PATH", dest=f"{_DEST}config",
                                   help="Use this profiles file instead of the user file.")
            subparser.set_defaults(func=lambda args, name=name: self._run(name, args))

    def _run(self, name: str, args: argparse.Namespace) -> None:
        argv = []
        config = getattr(args, f"{_DEST}config", None)
        if config:
            argv += ["--config", config]
        if getattr(self.ctx, "isdebug", 0):
            argv.append("--debug")
        argv.append(name)
        argv += _tokens(profile_cli.commands[name].params, args)
        code = run_click(argv)
        if name in ("login", "logout"):
            self._forget_cli_client()  # the next command joins the session the store now names
        if code:
            self.ctx.rv = code
            raise NonZeroReturnCode(code, f"omero profile {name}: exit {code}")

    def _forget_cli_client(self) -> None:
        """An interactive `omero` shell keeps a client across commands: drop it (detached, not ended)."""
        get, set_ = getattr(self.ctx, "get_client", None), getattr(self.ctx, "set_client", None)
        if get is None or set_ is None or get() is None:
            return
        try:
            self.ctx.close()
        finally:
            set_(None)


def run_click(argv: list[str]) -> int:
    """Run ``omero-profile ARGV`` in this process; its exit code (click exits through SystemExit)."""
    try:
        profile_cli.main(args=argv, prog_name="omero profile")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    return 0


def _add(parser: argparse.ArgumentParser, param: click.Parameter) -> None:
    """The argparse form of one click parameter (same names, same help's first line)."""
    dest = f"{_DEST}{param.name}"
    if isinstance(param, click.Argument):
        parser.add_argument(dest, metavar=(param.name or "").upper(), nargs=None if param.required else "?",
                            help=f"profile {param.name}" if param.name == "name" else param.name)
        return
    assert isinstance(param, click.Option)
    if param.hidden:
        return
    help_text = (param.help or "").splitlines()[0] if param.help else None
    if param.is_flag and param.secondary_opts:
        parser.add_argument(*param.opts, dest=dest, action="store_true", default=None, help=help_text)
        parser.add_argument(*param.secondary_opts, dest=dest, action="store_false", help=f"(the opposite of "
                            f"{param.opts[0]})")
        return
    if param.is_flag:
        parser.add_argument(*param.opts, dest=dest, action="store_true", help=help_text)
        return
    kwargs: dict[str, Any] = {"dest": dest, "help": help_text, "metavar": param.metavar or (param.name or "").upper()}
    if isinstance(param.type, click.Choice):
        kwargs["choices"] = list(param.type.choices)
        kwargs.pop("metavar")
    if param.multiple:
        kwargs["action"] = "append"
    parser.add_argument(*param.opts, **kwargs)


def _tokens(params: Iterable[click.Parameter], args: argparse.Namespace) -> list[str]:
    """The click command line that says what ``args`` says."""
    options: list[str] = []
    positional: list[str] = []
    for param in params:
        value = getattr(args, f"{_DEST}{param.name}", None)
        if value is None or value is False and not getattr(param, "secondary_opts", None):
            continue
        if isinstance(param, click.Argument):
            positional.append(str(value))
        elif isinstance(param, click.Option) and param.is_flag:
            options.append(param.opts[0] if value else param.secondary_opts[0])
        elif isinstance(param, click.Option):
            for item in value if param.multiple else [value]:
                options += [param.opts[0], str(item)]
    return options + (["--", *positional] if positional else [])
