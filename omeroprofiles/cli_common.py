"""What the command modules share: the invocation's state, the ``--json`` option, name completion, output.

``cli`` defines the group and the offline commands, ``cli_sessions`` the commands that open
sessions on a server; both import this module (never each other's commands), so imports run
one way. No heavy import here: each command imports what it needs when it runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import click


@dataclass
class State:
    """One invocation's options (``--config``, ``--debug``) and what is read from the files, read once."""

    config_path: str | None = None
    debug: bool = False
    _config: Any = field(default=None, repr=False)

    @property
    def locations(self):
        from .locations import locate

        return locate(self.config_path)

    def config(self):
        if self._config is None:
            from .resolve import Config

            self._config = Config.load(self.config_path)
        return self._config

    def index(self):
        """What the read-only commands print, validated: from the cache when the files are unchanged."""
        from .cache import load

        return load(self.locations)

    def profile(self, name: str | None, overrides: dict[str, Any] | None = None):
        """The profile ``name`` names, else the active one, resolved (``Config.resolve_selected``)."""
        return self.config().resolve_selected(name, overrides)


pass_state = click.pass_obj

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


def complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str):
    """Profile names for the shell: the names the files define, nothing validated (as ``quick.complete``)."""
    try:
        from .catalog import load
        from .locations import locate

        names = load(locate(ctx.find_root().params.get("config"))).names()
        return [click.shell_completion.CompletionItem(n) for n in names if n.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def echo_lines(lines: list[str]) -> None:
    click.echo("\n".join(lines))


def echo_err(lines: Iterable[str]) -> None:
    """Each line on stderr as it comes (what a command says, not its data)."""
    for line in lines:
        click.echo(line, err=True)
