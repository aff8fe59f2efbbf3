"""`omero-profile`: the command line. Exceptions become messages + exit codes in one place (`_Group`).

Commands gather JSON-ready data; ``render`` turns it into text. Heavy modules (pydantic models,
plugins, omero-py) are imported inside the commands that need them. ``list``, ``show`` and
``validate`` print the validated index (``index``, cached by ``cache``). The console script
(``console``) answers ``current`` and name completion before this module is even imported,
when ``quick`` can; this module is the full command line and has the last word.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import click

from .constants import PROG
from .errors import ConfigError, ProfileError


# -- shared state and error handling ------------------------------------------------------------
@dataclass
class State:
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


def _report(exc: ProfileError) -> None:
    from .errors import report_lines

    for line in report_lines(exc, PROG):
        click.echo(line, err=True)


class _Group(click.Group):
    """Maps ProfileError subclasses to their exit codes; hides tracebacks unless --debug."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ProfileError as exc:
            if _debug(ctx):
                traceback.print_exc()
            _report(exc)
            ctx.exit(exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(f"{PROG}: interrupted", err=True)
            ctx.exit(130)
        except Exception as exc:  # a bug: say so, briefly
            if _debug(ctx):
                traceback.print_exc()
            click.echo(f"{PROG}: internal error ({type(exc).__name__}); this is a bug. "
                       "Re-run with --debug for the traceback.", err=True)
            ctx.exit(1)


def _debug(ctx: click.Context) -> bool:
    state = ctx.find_object(State)
    return bool(state and state.debug)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def _echo_lines(lines: list[str]) -> None:
    click.echo("\n".join(lines))


def _complete_profiles(ctx: click.Context, param: click.Parameter, incomplete: str):
    """Profile names for the shell: the names the files define, nothing validated (as ``quick.complete``)."""
    try:
        from .catalog import load
        from .locations import locate

        names = load(locate(ctx.find_root().params.get("config"))).names()
        return [click.shell_completion.CompletionItem(n) for n in names if n.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", metavar="PATH", help="Use this profiles file instead of the user file.")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors (secrets are never in them).")
@click.version_option(package_name="omero-profiles", prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context, config: str | None, debug: bool) -> None:
    """Named connection profiles for OMERO servers.

    Profiles live in profiles.toml (see `omero-profile path`). Exit codes: 0 ok, 1 internal
    error, 2 usage/invalid configuration, 3 unknown profile, 4 credentials, 5 server unreachable,
    6 authentication rejected, 7 access denied.
    """
    ctx.obj = State(config_path=config, debug=debug)
    _configure_logging(debug)


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class _MaskingFormatter(logging.Formatter):
    """Library log lines with every UUID masked: an OMERO session key is one, and omero-py's
    debug log prints it (``Setting 'omero.session.uuid' to ...``); anyone holding it is you."""

    def format(self, record: logging.LogRecord) -> str:
        return _UUID.sub("<uuid>", super().format(record))


def _configure_logging(debug: bool) -> None:
    """omero-py logs retries and warnings to stderr via logging.basicConfig(); the CLI reports
    failures itself, so library logging is shown only with --debug, and masked (session keys)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_omero_profiles", False)]:
        root.removeHandler(handler)  # a previous in-process invocation's (its stream may be gone)
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_MaskingFormatter("%(levelname)s %(name)s: %(message)s"))
        handler._omero_profiles = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
    elif not root.handlers:
        root.addHandler(logging.NullHandler())


pass_state = click.pass_obj


# -- read-only commands -------------------------------------------------------------------------
@cli.command("list")
@json_option
@pass_state
def list_(state: State, as_json: bool) -> None:
    """List profiles: name, server, user and credential source; * marks the active one."""
    from .active import select
    from .render import profile_rows

    index = state.index()
    if index.file_problems:
        raise ConfigError(index.file_problems)
    try:
        active = select(index).name
    except ProfileError:
        active = None
    rows = []
    broken = []
    for name in index.names():
        file = index.file_of(name)
        row: dict[str, Any] = {"name": name, "active": name == active, "valid": True, "error": None,
                               "address": None, "host": None, "port": None, "secure": None, "group": None,
                               "su": None, "user": None, "source": None, "description": None,
                               "file": str(file.path) if file else None}
        try:
            entry = index.resolved(name)
        except ConfigError as exc:
            row.update(valid=False, error=str(exc), host=index.invalid_host(name))
            broken.append(name)
        else:
            data = entry["data"]
            row.update(address=entry["address"], host=data["host"], port=data["port"], secure=data["secure"],
                       group=data["group"], su=data["su"], user=entry["user"],
                       source=data["credentials"]["source"], description=data["description"])
        rows.append(row)
    if as_json:
        _echo_json(rows)
    elif not rows:
        click.echo(f"No profiles defined. Start with: {PROG} init   (or {PROG} add NAME --host HOST)")
    else:
        _echo_lines(profile_rows(rows))
    problems = [f"{len(broken)} profile(s) are invalid: {', '.join(broken)}"] if broken else []
    default = index.default_problem()
    if default is not None:
        problems.append(str(default))
    if problems:
        raise ConfigError("\n".join(problems), hint=f"run '{PROG} validate' to see every problem")


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@json_option
@pass_state
def show(state: State, name: str | None, as_json: bool) -> None:
    """Show the resolved profile (defaults and extends applied), secrets redacted, with each value's origin."""
    from .active import select
    from .render import show_lines

    index = state.index()
    selection = select(index, name)
    data = index.resolved(selection.name)["data"]
    origin = index.origin(selection.name)
    if as_json:
        file = index.file_of(selection.name)
        ordered = {k: origin[k].as_json() for k in data if k in origin}
        _echo_json({**data, "origin": ordered, "file": file.label if file else None, "selected": selection.reason})
        return
    _echo_lines(show_lines(data, {k: str(v) for k, v in origin.items()},
                           f"profile '{data['name']}' ({selection.detail})"))


@cli.command()
@json_option
@pass_state
def current(state: State, as_json: bool) -> None:
    """Print the active profile and why it is active."""
    from .active import select
    from .catalog import load
    from .text import printable

    # The names catalog, not the validated profiles: only what bears on which profile is active
    # (a file that does not parse, a name no file defines) is an error here, as in ``quick``.
    selection = select(load(state.locations))
    if as_json:
        _echo_json({"name": selection.name, "reason": selection.reason, "detail": selection.detail})
    else:
        click.echo(printable(f"{selection.name}    ({selection.detail})"))


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@click.option("--shell", "shell", is_flag=True,
              help="Print an `export OMERO_PROFILE=NAME` line for this terminal only (bash, zsh, dash and fish "
                   "read it; `env NAME --shell pwsh` for PowerShell); change nothing.")
@click.option("--clear", is_flag=True, help="Forget the active profile set by `use`.")
@pass_state
def use(state: State, name: str | None, shell: bool, clear: bool) -> None:
    """Set the active profile (stored in the tool's state file, never in profiles.toml).

    For one terminal only: eval "$(omero-profile use NAME --shell)".
    """
    from .active import shell_export
    from .locations import PROFILE_ENV
    from .statefile import write_state_choice
    from .text import printable

    if clear:
        if name or shell:
            raise click.UsageError("--clear takes no NAME and no --shell")
        write_state_choice(state.locations, None)
        click.echo("Active profile cleared.", err=True)
        return
    if not name:
        raise click.UsageError("missing profile NAME (or --clear)")
    config = state.config()
    if not config.has(name):
        raise config.not_found(printable(name))
    config.resolve(name)  # refuse to activate a profile that cannot be used
    if shell:
        click.echo(shell_export(name))
        return
    write_state_choice(state.locations, name)
    click.echo(f"Active profile: {name}", err=True)
    env = os.environ.get(PROFILE_ENV)
    if env and env != name:
        click.echo(f"note: ${PROFILE_ENV}={env} is set in this environment and takes precedence.", err=True)


@cli.command()
@json_option
@pass_state
def validate(state: State, as_json: bool) -> None:
    """Check every file: each problem on one line as `file: profile 'x': key: problem`."""
    from .files import exposed_warning
    from .text import printable

    index = state.index()
    problems = index.problems()
    read = [str(f.path) for f in index.files if f.exists]
    warnings = [w for w in (exposed_warning(f.path, holders)
                            for f, holders in zip(index.files, index.secret_holders, strict=True) if f.exists) if w]
    warnings += [f"profile '{name}': credentials source unavailable: {why}"
                 for name, why in index.unavailable().items()]
    warnings += index.warnings
    for warning in warnings:
        click.echo(f"{PROG}: warning: {printable(warning)}", err=True)
    if as_json:
        _echo_json({
            "valid": not problems,
            "files": read,
            "profiles": len(index.names()),
            "warnings": warnings,
            "problems": [{"file": p.file, "line": p.line, "column": p.column, "profile": p.profile,
                          "key": p.key, "message": p.message} for p in problems],
        })
    elif not problems:
        click.echo(f"ok: {len(index.names())} profile(s) in {', '.join(read) or '(no files)'}")
    if problems:
        if not as_json:
            for p in problems:
                click.echo(printable(p))
        sys.stdout.flush()
        raise ConfigError(f"{len(problems)} problem(s) found")


@cli.command()
@json_option
@pass_state
def path(state: State, as_json: bool) -> None:
    """Show the files read (user, site-wide) and the state file."""
    from .text import printable

    loc = state.locations
    entries = [
        ("user file", loc.user_file, loc.user_file_reason),
        ("site file", loc.site_file, loc.site_file_reason),
        ("state file", loc.state_file, "written by 'use'"),
    ]
    def status(p: Any) -> str:
        from .filesystem import reason

        try:
            return "exists" if p.exists() else "missing"
        except OSError as exc:  # e.g. a name too long for the filesystem
            return f"unusable: {reason(exc)}"

    if as_json:
        _echo_json({key.replace(" ", "_"): {"path": str(p), "exists": status(p) == "exists", "status": status(p),
                                             "from": why} for key, p, why in entries})
        return
    for key, p, why in entries:
        click.echo(f"{key + ':':12} {printable(p)}  ({status(p)}; {why})")


@cli.command()
@json_option
@pass_state
def plugins(state: State, as_json: bool) -> None:
    """List credential-source plugins: package and version, status, sources and their summaries."""
    from .plugins import get_registry
    from .render import plugin_lines

    registry = get_registry()
    rows = [info.as_json(registry) for info in registry.plugins.values()]
    if as_json:
        _echo_json({"plugins": rows, "warnings": registry.warnings, "excluded": registry.excluded})
        return
    _echo_lines(plugin_lines(rows, registry.warnings))


# -- commands that connect ----------------------------------------------------------------------
def _ask(state: State, name: str | None, question, overrides: dict[str, Any] | None = None):
    """Connect with the selected profile, answer ``question(conn)``, and always close."""
    from .active import select
    from .connection import answer

    config = state.config()
    return answer(config.resolve(select(config, name).name, overrides), question)


@cli.command("test")
@click.argument("name", required=False, shell_complete=_complete_profiles)
@click.option("--group", help="Try this group instead of the profile's (name, id or -1).")
@click.option("--su", help="Try acting as this user instead of the profile's su.")
@click.option("--timeout", type=float, help="Seconds the connect may take.")
@json_option
@pass_state
def test_(state: State, name: str | None, group: str | None, su: str | None, timeout: float | None,
          as_json: bool) -> None:
    """Connect with the profile, print who and where you are, then close."""
    from .edit import parse_value
    from .render import connection_lines
    from .report import describe

    overrides = {"group": None if group is None else parse_value("group", group), "su": su, "timeout": timeout}
    info = _ask(state, name, describe, {k: v for k, v in overrides.items() if v is not None})
    if as_json:
        _echo_json(info)
    else:
        _echo_lines(connection_lines(info))


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@json_option
@pass_state
def groups(state: State, name: str | None, as_json: bool) -> None:
    """List the groups the profile's user can switch to (* = current)."""
    from .render import group_rows
    from .report import groups as groups_of

    rows = _ask(state, name, groups_of)
    if as_json:
        _echo_json(rows)
    else:
        _echo_lines(group_rows(rows))


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@click.option("--idle", metavar="DURATION", help="A long-lived session: idle timeout (e.g. 2h).")
@click.option("--ttl", metavar="DURATION", help="A long-lived session: lifetime (e.g. 7d).")
@click.option("--user-token", is_flag=True,
              help="Also write omero-user-token's file ($OMERO_USER_TOKEN_DIR/token), for tools that read it.")
@click.option("--show-key", is_flag=True, help="Also print the session key (a secret: anyone with it is you).")
@json_option
@pass_state
def login(state: State, name: str | None, idle: str | None, ttl: str | None, user_token: bool, show_key: bool,
          as_json: bool) -> None:
    """Log in and store the session where `omero login` does, for `omero` and `source = "omero-login"`."""
    from .active import select
    from .sessions import login as store_login
    from .sessions import parse_duration
    from .text import printable

    config = state.config()
    profile = config.resolve(select(config, name).name)
    result = store_login(profile, idle=None if idle is None else parse_duration(idle),
                         ttl=None if ttl is None else parse_duration(ttl), user_token=user_token)
    data = result.as_json(show_key=show_key)
    if as_json:
        _echo_json(data)
        return
    via = f" (su by {result.su_by})" if result.su_by else ""
    click.echo(printable(f"Logged in to {result.host}:{result.port} as {result.user}{via}, group {result.group}; "
                         f"{_limits(result.time_to_idle_s, result.time_to_live_s)}."))  # never raw control chars
    click.echo(printable(f"Stored in {result.store}: `omero` commands and source = \"omero-login\" profiles use it."))
    if result.token:
        click.echo(printable(f"User token written to {result.token} (omero-user-token's file)."))
    if show_key:
        click.echo(f"session key: {data['session_key']}")


def _limits(time_to_idle_s: float, time_to_live_s: float) -> str:
    from .sessions import _expires

    return ", ".join([f"idle timeout {_duration(time_to_idle_s)}" if time_to_idle_s else "no idle timeout",
                      f"expires {_expires(time_to_live_s)}" if time_to_live_s else "no time limit"])


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@click.option("--all", "everything", is_flag=True,
              help="End every stored session of the profile's user on that server, also those `omero login` made.")
@click.option("--yes", is_flag=True, help="With --all: do not ask first.")
@json_option
@pass_state
def logout(state: State, name: str | None, everything: bool, yes: bool, as_json: bool) -> None:
    """End the sessions this profile made (login, shared, children) for everyone, and forget them.

    Sessions made otherwise (`omero login`, other profiles) are left alone; --all ends every
    stored session of the profile's user on that server. Nothing to end is not an error (exit 0).
    """
    from .active import select
    from .sessions import logout as end_sessions
    from .text import printable

    config = state.config()
    profile = config.resolve(select(config, name).name)
    if everything and not yes and sys.stdin.isatty() and not as_json:
        click.confirm(f"End every stored session of profile '{profile.name}''s user on {profile.display_address()}, "
                      "also those made by `omero login`?", abort=True, err=True)
    report = end_sessions(profile, everything=everything)
    if as_json:
        _echo_json({"profile": profile.name, "sessions": [r.as_json() for r in report]})
        return
    if not report:
        said = (f"no stored session of profile '{profile.name}''s user on {profile.display_address()}" if everything
                else f"no session of profile '{profile.name}' is recorded (sessions made by `omero login`: "
                     f"omero-profile logout {profile.name} --all)")
        click.echo(printable(f"Nothing to end: {said}."), err=True)
        return
    for row in report:
        click.echo(printable(row.describe()), err=True)


@cli.command("env")
@click.argument("name", shell_complete=_complete_profiles)
@click.option("--session", "with_session", is_flag=True,
              help="Also make a child session of the profile's user and export its key (OMERO_SESSION_KEY, and "
                   "OMERO_USER/OMERO_PASS for ezomero): this REVEALS a session key.")
@click.option("--idle", metavar="DURATION", help="With --session: the child's idle timeout (default 1h).")
@click.option("--ttl", metavar="DURATION", help="With --session: the child's lifetime (default 1d).")
@click.option("--shell", type=click.Choice(["sh", "bash", "zsh", "dash", "fish", "pwsh"]),
              help="pwsh: PowerShell syntax; any other (the default, except on Windows): one that bash, zsh, dash and "
                   "fish all read. Never guessed from $SHELL; every value is quoted to be safe in all of them.")
@pass_state
def env_(state: State, name: str, with_session: bool, idle: str | None, ttl: str | None,
         shell: str | None) -> None:
    """Print the exports a batch job needs: eval "$(omero-profile env prod)" in the job script.

    Without --session only OMERO_PROFILE (no network, no secret): the job reads the profile itself.
    With --session, a child session of its own: other programs (ezomero, omero-py scripts) join it
    with no password, and one that ends it (ezomero's conn.close() does) ends only that child,
    never the profile's shared session. `omero-profile logout NAME` ends it too.
    """
    from .active import export_line

    config = state.config()
    profile = config.resolve(name)
    lines = [export_line("OMERO_PROFILE", profile.name, shell)]  # refused (exit 2) before any session is made
    if with_session:
        from .sessions import DEFAULT_CHILD_IDLE, DEFAULT_CHILD_TTL, child_session, end_child, parse_duration
        from .text import printable

        child = child_session(profile, idle=DEFAULT_CHILD_IDLE if idle is None else parse_duration(idle),
                              ttl=DEFAULT_CHILD_TTL if ttl is None else parse_duration(ttl))
        key = child.key.get_secret_value()
        exports = dict(OMERO_HOST=profile.client_host, OMERO_PORT=str(child.port), OMERO_SESSION_KEY=key,
                       OMERO_USER=key, OMERO_PASS=key, OMERO_SECURE=str(profile.secure),
                       OMERO_GROUP="" if profile.group in (None, -1) else child.group)
        try:  # every line before any is printed: a value refused for a shell leaves no session behind
            lines += [export_line(variable, value, shell) for variable, value in exports.items()]
        except BaseException:
            end_child(profile, child)
            raise
        click.echo(printable(f"child session of {child.user} in group {child.group}: "
                             f"{_limits(child.time_to_idle_s, child.time_to_live_s)}"), err=True)
    for line in lines:
        click.echo(line)


@cli.group()
def password() -> None:
    """The profile's password in the OS keyring (source = "keyring")."""


def _keyring_profile(state: State, name: str | None):
    from .active import select

    config = state.config()
    profile = config.resolve(select(config, name).name)
    if profile.source != "keyring":
        raise ConfigError(f"profile '{profile.name}' takes its credentials from source '{profile.source}', not "
                          "the keyring", hint=f"{PROG} set {profile.name} credentials '{{ source = \"keyring\", "
                                              "username = \"USER\" }'")
    return profile


@password.command("set")
@click.argument("name", required=False, shell_complete=_complete_profiles)
@click.argument("refused", nargs=-1, metavar="")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from one line of standard input.")
@pass_state
def password_set(state: State, name: str | None, refused: tuple[str, ...], from_stdin: bool) -> None:
    """Store the profile's password in the keyring (asked twice without echo, or --stdin; never argv)."""
    from .credentials.keyring import store_password

    if refused:  # said without echoing it: it may be the password
        raise click.UsageError("a password is never taken from the command line (it would stay in your shell "
                               "history); type it at the prompt, or pipe it in with --stdin")
    profile = _keyring_profile(state, name)
    service, user = store_password(profile, _read_secret(f"OMERO password for {profile.credentials.username}",
                                                         from_stdin))
    click.echo(f"Stored the password of '{user}' in the keyring (service '{service}').", err=True)


@password.command("delete")
@click.argument("name", required=False, shell_complete=_complete_profiles)
@pass_state
def password_delete(state: State, name: str | None) -> None:
    """Remove the profile's password from the keyring."""
    from .credentials.keyring import delete_password

    profile = _keyring_profile(state, name)
    service, user = delete_password(profile)
    click.echo(f"Deleted the password of '{user}' from the keyring (service '{service}').", err=True)


@password.command("check")
@click.argument("name", required=False, shell_complete=_complete_profiles)
@json_option
@pass_state
def password_check(state: State, name: str | None, as_json: bool) -> None:
    """Say whether the keyring holds the profile's password (never prints it); exit 4 if not."""
    from .credentials.keyring import has_password
    from .errors import CredentialError

    profile = _keyring_profile(state, name)
    service, user, stored, backend = has_password(profile)
    if as_json:
        _echo_json({"profile": profile.name, "service": service, "username": user, "stored": stored,
                    "backend": backend})
    else:
        click.echo(f"{'stored' if stored else 'not stored'}: password of '{user}' for service '{service}' "
                   f"({backend})")
    if not stored:
        raise CredentialError(f"profile '{profile.name}': no password in the keyring",
                              hint=f"{PROG} password set {profile.name}")


# -- commands that change the user's file -------------------------------------------------------
def _example_text() -> str:
    from importlib import resources  # only `init` needs it: kept off the start-up path

    return resources.files("omeroprofiles").joinpath("profiles.example.toml").read_text(encoding="utf-8")


@cli.command()
@pass_state
def init(state: State) -> None:
    """Write a starter profiles file (from profiles.example.toml) if none exists."""
    from .filesystem import Unusable, read_regular
    from .writing import atomic_write, locked

    target = state.locations.user_file
    with locked(target):
        try:
            existing = read_regular(target)
        except Unusable as exc:
            raise ConfigError(f"{target}: {exc}; nothing was written") from None
        if existing is not None:
            raise ConfigError(f"{target} already exists; nothing was written",
                              hint=f"edit it, or use '{PROG} add' / '{PROG} set'")
        atomic_write(target, _example_text())
    click.echo(f"Wrote {target} (mode 0600). Edit it, then: {PROG} list", err=True)


def _read_secret(prompt: str, from_stdin: bool) -> str:
    """A secret typed at a hidden prompt (twice), or one line of stdin; never a command-line argument."""
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise click.UsageError("--stdin: standard input gave an empty line")
        return value
    if not sys.stdin.isatty():
        raise click.UsageError("no terminal to ask on; pipe the value in with --stdin")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True, err=True)


def _refuse_secrets(source: str | None, keys: list[str], how: str) -> None:
    from .plugins import get_registry

    secret = sorted(get_registry().secret_keys(source, keys))
    if secret:
        raise click.UsageError(f"refusing to write a secret ({', '.join(secret)}) from the command line (it would "
                               f"stay in your shell history); {how}")


def _cred_pairs(pairs: tuple[str, ...], source: str | None) -> dict[str, Any]:
    from .edit import parse_value

    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--cred")
        result[key] = parse_value(key, raw)
    _refuse_secrets(source, list(result), "use --ask KEY")
    return result


def _tightened_notice(path: Any, before: int | None) -> None:
    if before is not None and before & 0o077:
        click.echo(f"note: {path} was readable by other users (mode {before:04o}); it now has mode "
                   f"{before & 0o700:04o} because it holds a secret", err=True)


def _mode(path: Any) -> int | None:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None


@cli.command()
@click.argument("name")
@click.option("--host", help="Server: name, IP, [IPv6] or ssl:// tcp:// ws:// wss:// URL.")
@click.option("--port", type=int)
@click.option("--secure/--insecure", default=None, help="Stay on SSL (default) or switch to plain TCP after login.")
@click.option("--group", help="Group name, numeric id, or -1 for all groups.")
@click.option("--su", help="Act as this user (the credentials are an admin's).")
@click.option("--timeout", type=float, help="Seconds the whole connect may take.")
@click.option("--keepalive", type=int, help="Keep-alive interval in seconds; 0 = off.")
@click.option("--extends", help="Inherit from this profile.")
@click.option("--description")
@click.option("--source", help="Credential source: env, prompt, keyring, command, session, plain, ...")
@click.option("--username", help="Username for the credential source.")
@click.option("--cred", multiple=True, metavar="KEY=VALUE", help="Other credential keys (repeatable; not secrets).")
@click.option("--ask", "ask_keys", multiple=True, metavar="KEY",
              help="Prompt for this secret credential key and store it in the file (repeatable).")
@click.option("--ask-password", is_flag=True, help="Same as --ask password.")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the --ask values from standard input, one line each.")
@click.option("--make-default", is_flag=True, help="Also set `default = NAME` in the file.")
@pass_state
def add(state: State, name: str, host, port, secure, group, su, timeout, keepalive, extends, description,
        source, username, cred, ask_keys, ask_password, from_stdin, make_default) -> None:
    """Add a profile to your profiles file (comments and layout are kept)."""
    from .edit import add_profile, edit_user_file, parse_value
    from .plugins import get_registry
    from .text import printable

    if not host and not extends:
        raise click.UsageError("give --host (or --extends PROFILE to inherit one)")
    values: dict[str, Any] = {}
    for key, value in (("description", description), ("extends", extends), ("host", host), ("port", port),
                       ("secure", secure), ("group", None if group is None else parse_value("group", group)),
                       ("su", su), ("timeout", timeout), ("keepalive", keepalive)):
        if value is not None:
            values[key] = value
    credentials = _cred_pairs(cred, source)
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
            credentials[key] = _read_secret(f"{key} to store in the file", from_stdin)
    if credentials:
        if "source" not in credentials:
            raise click.UsageError("credential keys need --source")
        values["credentials"] = credentials

    change = add_profile(name, values, make_default=make_default)
    before = _mode(state.locations.user_file)
    edit_user_file(state.locations, change, private=bool(asked))
    click.echo(printable(f"Added profile '{name}' to {state.locations.user_file}"), err=True)
    if asked:
        _tightened_notice(state.locations.user_file, before)


def _require_in_user_file(state: State, name: str) -> None:
    config = state.config()
    where = config.file_of(name)
    if where is None:
        raise config.not_found(name)
    if where.kind == "site":
        raise ConfigError(f"profile '{name}' is defined in the site-wide file {where.path}, not in your "
                          f"file {state.locations.user_file}",
                          hint=f"to change it for yourself, add your own '{name}' profile to your file")


@cli.command()
@click.argument("name", shell_complete=_complete_profiles)
@pass_state
def remove(state: State, name: str) -> None:
    """Remove a profile from your profiles file (everything else is left byte-for-byte)."""
    from .edit import edit_user_file, remove_profile
    from .statefile import forget_choice
    from .text import printable
    from .writing import locked

    if printable(name) != name:  # control characters: never a profile name, and never echoed raw
        raise state.config().not_found(printable(name))
    _require_in_user_file(state, name)
    with locked(state.locations.user_file):  # one hold: a racing 'use NAME' cannot slip in between
        edit_user_file(state.locations, remove_profile(name))
        cleared = forget_choice(state.locations, name)
    if cleared:
        click.echo(printable(f"'{name}' was the active profile; the active choice is cleared."), err=True)
    click.echo(printable(f"Removed profile '{name}' from {state.locations.user_file}"), err=True)


def _source_of(state: State, name: str) -> str | None:
    """The credential source profile ``name`` (or [defaults]) uses, as far as the files say."""
    config = state.config()
    table = (config.files[-1].data.get("defaults") if name == "defaults" else config.raw_table(name)) or {}
    credentials = table.get("credentials") if isinstance(table, dict) else None
    if isinstance(credentials, dict) and isinstance(credentials.get("source"), str):
        return credentials["source"]
    try:
        return config.resolve(name).source if name != "defaults" else None
    except ProfileError:
        return None


@cli.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name", shell_complete=_complete_profiles)
@click.argument("key")
@click.argument("value", required=False)
@click.option("--ask", is_flag=True, help="Prompt for the value without echo (for secret keys).")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value from one line of standard input.")
@pass_state
def set_(state: State, name: str, key: str, value: str | None, ask: bool, from_stdin: bool) -> None:
    """Set KEY (host, port, group, credentials.username, ...) in profile NAME ('defaults' for [defaults]).

    VALUE is read as TOML when it is a TOML literal (4064, true, -1, "quoted"), else as text.
    A secret credential key (e.g. credentials.password) is never taken from the command line:
    use --ask (hidden prompt) or --stdin.
    """
    from .edit import edit_user_file, parse_value, set_key
    from .plugins import get_registry
    from .text import printable

    if printable(name) != name:  # control characters: never a profile name, and never echoed raw
        raise state.config().not_found(printable(name))
    if name != "defaults":
        _require_in_user_file(state, name)
    if (value is not None) + ask + from_stdin != 1:
        raise click.UsageError("give exactly one of VALUE, --ask or --stdin")
    prompted = value is None
    if prompted:
        value = _read_secret(f"value of {key}", from_stdin)
        parsed: Any = value
    else:
        parsed = parse_value(key.split(".")[-1], value)
    source = _source_of(state, name)
    if key == "credentials" and isinstance(parsed, dict):
        source = parsed.get("source") if isinstance(parsed.get("source"), str) else None
        if not prompted:
            _refuse_secrets(source, list(parsed), "set the other keys, then the secret with --ask")
    elif key.startswith("credentials.") and not prompted:
        _refuse_secrets(source, [key.split(".", 1)[1]], "use --ask or --stdin")
    holds_secret = prompted and key.startswith("credentials.") and bool(
        get_registry().secret_keys(source, [key.split(".", 1)[1]]))
    before = _mode(state.locations.user_file)
    edit_user_file(state.locations, set_key(name, key, parsed), private=holds_secret)
    click.echo(printable(f"Set {key} in '{name}'"), err=True)
    if holds_secret:
        _tightened_notice(state.locations.user_file, before)


@cli.command()
@click.argument("name", shell_complete=_complete_profiles)
@click.argument("key")
@pass_state
def unset(state: State, name: str, key: str) -> None:
    """Remove KEY from profile NAME, so it is inherited again (from extends, [defaults] or built-ins)."""
    from .edit import edit_user_file, set_key
    from .text import printable

    if printable(name) != name:  # control characters: never a profile name, and never echoed raw
        raise state.config().not_found(printable(name))
    if name != "defaults":
        _require_in_user_file(state, name)
    edit_user_file(state.locations, set_key(name, key, None, unset=True))
    click.echo(printable(f"Unset {key} in '{name}'"), err=True)


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script: eval "$(omero-profile completion bash)"."""
    from click.shell_completion import get_completion_class

    comp_cls = get_completion_class(shell)
    assert comp_cls is not None
    comp = comp_cls(cli, {}, PROG, "_OMERO_PROFILE_COMPLETE")
    click.echo(comp.source())


# -- where users already work: status, doctor, import --------------------------------------------
@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@click.option("--all", "everything", is_flag=True, help="Every profile, not only the named or active one.")
@click.option("--offline", is_flag=True, help="Read the stores only; check nothing on the server.")
@json_option
@pass_state
def status(state: State, name: str | None, everything: bool, offline: bool, as_json: bool) -> None:
    """Show the stored sessions that serve a profile, alive or not, user, group, time left, where stored.

    Its own login, a shared session, `omero login`'s, children handed to other programs, a user
    token. Exit 0 when every profile asked about has a usable session; else 6 (none alive), 5 (the
    server did not answer), 2 (an invalid profile): the code of the first that has not.
    """
    from .active import select
    from .render_checks import status_lines
    from .status import invalid, statuses, store_warnings

    if everything and name:
        raise click.UsageError("give a NAME or --all, not both")
    config = state.config()
    names = config.names() if everything else [select(config, name).name]
    profiles, broken = [], {}
    for each in names:
        try:
            profiles.append(config.resolve(each))
        except ProfileError as exc:
            broken[each] = invalid(each, exc)
    found = {s.profile: s for s in statuses(profiles, offline=offline)} | broken
    results = [found[each] for each in names]
    warnings = store_warnings()
    if as_json:
        _echo_json({"offline": offline, "profiles": [r.as_json() for r in results], "warnings": warnings})
    elif not results:
        click.echo(f"No profiles defined. Start with: {PROG} init   (or {PROG} import --from omero-sessions)")
    else:
        _echo_lines(status_lines([r.as_json() for r in results], warnings))
    failed = [r for r in results if not r.usable]
    if failed:
        sys.stdout.flush()
        first = failed[0]
        if first.exit_code == 6:
            error = ProfileError(f"no usable session for: {', '.join(r.profile for r in failed)}",
                                 hint=f"{PROG} login {first.profile}   (or `omero login`, for an omero-login profile)")
        else:
            error = ProfileError(first.error or f"profile '{first.profile}': no usable session")
        error.exit_code = first.exit_code
        raise error


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@click.option("--timeout", type=float, help="Seconds each step may take (default: the profile's timeout).")
@json_option
@pass_state
def doctor(state: State, name: str | None, timeout: float | None, as_json: bool) -> None:
    """Connect step by step and say where it breaks, with each step's time: for the help desk.

    Name, TCP, TLS (certificate), router, server version, credentials (never shown), login,
    group, su, session timeouts, stored sessions. Stops at the first failure with its exit code
    (5 unreachable, 4 credentials, 6 rejected, 7 access denied) and the one thing to try next.
    """
    from .active import select
    from .doctor import DoctorFailed, run_doctor
    from .render_checks import doctor_heading, doctor_step_lines, doctor_summary

    def resolve():
        config = state.config()
        return config.resolve(select(config, name).name, {"timeout": timeout} if timeout is not None else None)

    def show(step, report) -> None:
        if step.key == "profile":
            click.echo(doctor_heading(report.as_json()))
        _echo_lines(doctor_step_lines(step.as_json()))

    try:
        report = run_doctor(resolve, None if as_json else show)
    except DoctorFailed as exc:
        if as_json:
            _echo_json(exc.report.as_json())  # type: ignore[attr-defined]
        else:
            click.echo(doctor_summary(exc.report.as_json()))  # type: ignore[attr-defined]
        sys.stdout.flush()
        raise
    if as_json:
        _echo_json(report.as_json())
    else:
        click.echo(doctor_summary(report.as_json()))


@cli.command("import")
@click.option("--from", "source", required=True, type=click.Choice(["omero-sessions", "ezomero", "env"]),
              help="omero-sessions: the `omero login` store; ezomero: its .ezomero file and variables; env: OMERO_*.")
@click.option("--path", metavar="DIR", help="With --from ezomero: the directory holding .ezomero (default: home).")
@click.option("--dry-run", is_flag=True, help="Print the TOML that would be added; change nothing.")
@click.option("--password-to-keyring", is_flag=True,
              help="Put the password found in the environment in the OS keyring (never in the file).")
@click.option("--prefix", default="", help="Put this before every derived profile name (to avoid a collision).")
@click.option("--name", help="The name, when one profile is imported.")
@pass_state
def import_(state: State, source: str, path: str | None, dry_run: bool, password_to_keyring: bool, prefix: str,
            name: str | None) -> None:
    """Add profiles from existing set-ups; a password is never copied into the file.

    Names come from the host (with user, port or group when two would clash) and never replace a
    profile that exists (exit 2 naming it; choose others with --prefix or --name).
    """
    from . import importing
    from .edit import edit_user_file
    from .text import printable

    if path is not None and source != "ezomero":
        raise click.UsageError("--path is for --from ezomero")
    if password_to_keyring and source == "omero-sessions":
        raise click.UsageError("--password-to-keyring: the OMERO CLI's store holds no password to move")
    if name is not None and prefix:
        raise click.UsageError("give --name or --prefix, not both")
    environ = dict(os.environ)
    if source == "omero-sessions":
        candidates = importing.from_omero_sessions()
    elif source == "ezomero":
        candidates = importing.from_ezomero(path, environ, to_keyring=password_to_keyring)
    else:
        candidates = importing.from_env(environ, to_keyring=password_to_keyring)
    importing.assign_names(candidates, prefix=prefix, name=name)
    config = state.config()
    clashes = importing.collisions(candidates, config)
    if clashes:
        raise ConfigError("\n".join(clashes) + "\nnothing was imported (an existing profile is never replaced)",
                          hint="choose other names with --prefix PREFIX (or --name NAME for one profile)")
    if dry_run:
        click.echo(importing.preview(candidates).rstrip("\n"))
        for candidate in candidates:
            for note in candidate.notes:
                click.echo(printable(f"note: {candidate.name}: {note}"), err=True)
            if candidate.password is not None:
                click.echo(printable(f"note: {candidate.name}: would store the password from ${candidate.password_from}"
                                     " in the keyring (not done: --dry-run)"), err=True)
        return
    edit_user_file(state.locations, importing.change_for(candidates))
    for candidate in candidates:
        click.echo(printable(f"Added profile '{candidate.name}' (from {candidate.origin}) to "
                             f"{state.locations.user_file}"), err=True)
        for note in candidate.notes:
            click.echo(printable(f"  note: {note}"), err=True)
    _store_imported_passwords(state, [c for c in candidates if c.password is not None])


def _store_imported_passwords(state: State, candidates: list) -> None:
    """--password-to-keyring: after the profiles exist, each password into the keyring, said aloud."""
    from .credentials.keyring import store_password
    from .errors import CredentialError
    from .resolve import Config
    from .text import printable

    if not candidates:
        return
    config = Config.load(state.config_path)
    for candidate in candidates:
        profile = config.resolve(candidate.name)
        try:
            service, user = store_password(profile, candidate.password.get_secret_value())
        except CredentialError as exc:
            raise CredentialError(f"profile '{candidate.name}' was added, but the password from "
                                  f"${candidate.password_from} was NOT stored in the keyring: {exc}",
                                  hint=f"{PROG} password set {candidate.name}") from None
        click.echo(printable(f"  Stored the password from ${candidate.password_from} in the keyring (service "
                             f"'{service}', user '{user}'); the file holds no password."), err=True)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name=PROG)


__all__ = ["cli", "main"]
