"""`omero-profile`: the command line. Exceptions become messages + exit codes in one place (`_Group`).

Commands gather JSON-ready data; ``render`` turns it into text. Heavy modules (pydantic models,
plugins, omero-py) are imported inside the commands that need them, so ``current``, ``path``
and completion start fast.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import click

from .errors import ConfigError, ProfileError

PROG = "omero-profile"


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


def _report(exc: ProfileError) -> None:
    from .text import printable

    for line in str(exc).splitlines() or [type(exc).__name__]:
        click.echo(f"{PROG}: error: {printable(line)}", err=True)
    if exc.hint:
        click.echo(f"{PROG}: hint: {printable(exc.hint)}", err=True)


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
    try:
        from .resolve import Config

        root = ctx.find_root()
        config = Config.load(root.params.get("config"))
        return [click.shell_completion.CompletionItem(n) for n in config.names() if n.startswith(incomplete)]
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


def _configure_logging(debug: bool) -> None:
    """omero-py logs retries and warnings to stderr via logging.basicConfig(); the CLI reports
    failures itself, so library logging is shown only with --debug."""
    import logging

    root = logging.getLogger()
    if debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
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
    from .model import parse_host
    from .render import profile_rows

    config = state.config()
    if config.file_problems:
        raise ConfigError(config.file_problems)
    try:
        active = select(config).name
    except ProfileError:
        active = None
    rows = []
    broken = []
    for name in config.names():
        row: dict[str, Any] = {"name": name, "active": name == active, "valid": True, "error": None,
                               "address": None, "host": None, "port": None, "secure": None, "group": None,
                               "su": None, "user": None, "source": None, "description": None,
                               "file": str(config.file_of(name).path)}
        try:
            profile = config.resolve(name)
        except ConfigError as exc:
            host = (config.raw_table(name) or {}).get("host")
            try:  # an invalid profile's host is shown only if it parses (it may even hold a password)
                row["host"] = host if isinstance(host, str) and parse_host(host) else None
            except ValueError:
                pass
            row.update(valid=False, error=str(exc))
            broken.append(name)
        else:
            source = config.registry.source(profile.source)
            row.update(address=profile.url if profile.address.transport else profile.display_address(),
                       host=profile.host, port=profile.port, secure=profile.secure, group=profile.group,
                       su=profile.su, user=source.describe(profile.credentials) if source else "",
                       source=profile.source, description=profile.description)
        rows.append(row)
    if as_json:
        _echo_json(rows)
    elif not rows:
        click.echo(f"No profiles defined. Start with: {PROG} init   (or {PROG} add NAME --host HOST)")
    else:
        _echo_lines(profile_rows(rows))
    problems = [f"{len(broken)} profile(s) are invalid: {', '.join(broken)}"] if broken else []
    default = config.default_problem()
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

    config = state.config()
    selection = select(config, name)
    profile = config.resolve(selection.name)
    data = profile.redacted()
    origin = profile.origin
    if as_json:
        ordered = {k: origin[k].as_json() for k in data if k in origin}
        _echo_json({**data, "origin": ordered, "file": profile.file, "selected": selection.reason})
        return
    _echo_lines(show_lines(data, {k: str(v) for k, v in origin.items()},
                           f"profile '{profile.name}' ({selection.detail})"))


@cli.command()
@json_option
@pass_state
def current(state: State, as_json: bool) -> None:
    """Print the active profile and why it is active."""
    from .active import select
    from .text import printable

    selection = select(state.config())
    if as_json:
        _echo_json({"name": selection.name, "reason": selection.reason, "detail": selection.detail})
    else:
        click.echo(printable(f"{selection.name}    ({selection.detail})"))


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@click.option("--shell", "shell", is_flag=True,
              help="Print an `export OMERO_PROFILE=NAME` line for this terminal only; change nothing.")
@click.option("--clear", is_flag=True, help="Forget the active profile set by `use`.")
@pass_state
def use(state: State, name: str | None, shell: bool, clear: bool) -> None:
    """Set the active profile (stored in the tool's state file, never in profiles.toml).

    For one terminal only: eval "$(omero-profile use NAME --shell)".
    """
    from .active import shell_export, write_state_choice
    from .locations import PROFILE_ENV

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
        raise config.not_found(name)
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
    from .files import exposed_secrets_warning
    from .text import printable

    config = state.config()
    problems = config.problems()
    read = [str(f.path) for f in config.files if f.exists]
    warnings = [w for w in (exposed_secrets_warning(f, config.registry.secret_keys)
                            for f in config.files if f.exists) if w]
    warnings += [f"profile '{name}': credentials source unavailable: {why}"
                 for name, why in config.unavailable().items()]
    warnings += config.registry.warnings
    for warning in warnings:
        click.echo(f"{PROG}: warning: {printable(warning)}", err=True)
    if as_json:
        _echo_json({
            "valid": not problems,
            "files": read,
            "profiles": len(config.names()),
            "warnings": warnings,
            "problems": [{"file": p.file, "line": p.line, "column": p.column, "profile": p.profile,
                          "key": p.key, "message": p.message} for p in problems],
        })
    elif not problems:
        click.echo(f"ok: {len(config.names())} profile(s) in {', '.join(read) or '(no files)'}")
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
    loc = state.locations
    entries = [
        ("user file", loc.user_file, loc.user_file_reason),
        ("site file", loc.site_file, loc.site_file_reason),
        ("state file", loc.state_file, "written by 'use'"),
    ]
    if as_json:
        _echo_json({key.replace(" ", "_"): {"path": str(p), "exists": p.exists(), "from": why}
                    for key, p, why in entries})
        return
    for key, p, why in entries:
        click.echo(f"{key + ':':12} {p}  ({'exists' if p.exists() else 'missing'}; {why})")


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
    from .connection import ask, open_connection

    config = state.config()
    conn = open_connection(config.resolve(select(config, name).name, overrides))
    try:
        return ask(conn, question)
    finally:
        conn.close()


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


# -- commands that change the user's file -------------------------------------------------------
def _example_text() -> str:
    from importlib import resources

    return resources.files("omeroprofiles").joinpath("profiles.example.toml").read_text(encoding="utf-8")


@cli.command()
@pass_state
def init(state: State) -> None:
    """Write a starter profiles file (from profiles.example.toml) if none exists."""
    from .writing import atomic_write, locked

    target = state.locations.user_file
    with locked(target):
        if target.exists():
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
    import stat

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
@click.option("--make-default", is_flag=True, help="Also set `default = NAME` in the file.")
@pass_state
def add(state: State, name: str, host, port, secure, group, su, timeout, keepalive, extends, description,
        source, username, cred, ask_keys, ask_password, make_default) -> None:
    """Add a profile to your profiles file (comments and layout are kept)."""
    from .edit import add_profile, edit_user_file, parse_value
    from .plugins import get_registry

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
            credentials[key] = _read_secret(f"{key} to store in the file", from_stdin=False)
    if credentials:
        if "source" not in credentials:
            raise click.UsageError("credential keys need --source")
        values["credentials"] = credentials

    def change(doc):
        text = add_profile(name, values)(doc)
        if not make_default:
            return text
        import tomlkit

        with_default = tomlkit.parse(text)
        with_default["default"] = name
        return with_default.as_string()

    before = _mode(state.locations.user_file)
    edit_user_file(state.locations, change, private=bool(asked))
    click.echo(f"Added profile '{name}' to {state.locations.user_file}", err=True)
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
    from .active import state_choice, write_state_choice
    from .edit import edit_user_file, remove_profile

    _require_in_user_file(state, name)
    edit_user_file(state.locations, remove_profile(name))
    if state_choice(state.locations) == name:
        write_state_choice(state.locations, None)
        click.echo(f"'{name}' was the active profile; the active choice is cleared.", err=True)
    click.echo(f"Removed profile '{name}' from {state.locations.user_file}", err=True)


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
    click.echo(f"Set {key} in '{name}'", err=True)
    if holds_secret:
        _tightened_notice(state.locations.user_file, before)


@cli.command()
@click.argument("name", shell_complete=_complete_profiles)
@click.argument("key")
@pass_state
def unset(state: State, name: str, key: str) -> None:
    """Remove KEY from profile NAME, so it is inherited again (from extends, [defaults] or built-ins)."""
    from .edit import edit_user_file, set_key

    if name != "defaults":
        _require_in_user_file(state, name)
    edit_user_file(state.locations, set_key(name, key, None, unset=True))
    click.echo(f"Unset {key} in '{name}'", err=True)


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script: eval "$(omero-profile completion bash)"."""
    from click.shell_completion import get_completion_class

    comp_cls = get_completion_class(shell)
    assert comp_cls is not None
    comp = comp_cls(cli, {}, PROG, "_OMERO_PROFILE_COMPLETE")
    click.echo(comp.source())


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name=PROG)


__all__ = ["cli", "main"]
