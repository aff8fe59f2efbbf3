"""`omero-profile`: the command line. Exceptions become messages + exit codes in one place (`_Group`)."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

import click

from . import __version__
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
    lines = str(exc).splitlines() or [type(exc).__name__]
    for line in lines:
        click.echo(f"{PROG}: error: {line}", err=True)
    if exc.hint:
        click.echo(f"{PROG}: hint: {exc.hint}", err=True)


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
    return bool(state and state.debug) or "--debug" in sys.argv


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=False))


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
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(__version__, prog_name=PROG)
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
        row: dict[str, Any] = {"name": name, "active": name == active}
        try:
            profile = config.resolve(name)
        except ConfigError:
            table = config.raw_table(name) or {}
            row.update(host=_safe_host(table.get("host")), port=None, user=None, source=None, valid=False)
            broken.append(name)
        else:
            source = config.registry.source(profile.source)
            row.update(host=profile.host, port=profile.port, secure=profile.secure, group=profile.group,
                       su=profile.su, user=source.describe(profile.credentials) if source else "",
                       source=profile.source, valid=True, description=profile.description)
        row["file"] = str(config.file_of(name).path)
        rows.append(row)
    if as_json:
        _echo_json(rows)
    elif not rows:
        click.echo(f"No profiles defined. Start with: {PROG} init   (or {PROG} add NAME --host HOST)")
    else:
        table = [("", "NAME", "HOST", "USER", "SOURCE", "GROUP")]
        for r in rows:
            host = f"{r['host']}:{r['port']}" if r.get("host") and r.get("port") and "://" not in r["host"] \
                else str(r.get("host") or "?")
            user = (r.get("user") or "") + (f" (su {r['su']})" if r.get("su") else "")
            group = "" if r.get("group") is None else str(r["group"])
            table.append(("*" if r["active"] else "", r["name"], host, user,
                          r.get("source") or "INVALID", group))
        _print_table(table)
    if broken:
        raise ConfigError(f"{len(broken)} profile(s) are invalid: {', '.join(broken)}",
                          hint=f"run '{PROG} validate' to see every problem")


def _safe_host(value: Any) -> str | None:
    """The host of an invalid profile, only if it parses (an invalid one may even hold a password)."""
    from .model import parse_host

    try:
        return value if isinstance(value, str) and parse_host(value) else None
    except ValueError:
        return None


def _print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@json_option
@pass_state
def show(state: State, name: str | None, as_json: bool) -> None:
    """Show the resolved profile (defaults and extends applied), secrets redacted, with each value's origin."""
    from .active import select

    config = state.config()
    selection = select(config, name)
    profile = config.resolve(selection.name)
    data = profile.redacted()
    origin = profile.origin
    if as_json:
        ordered = {k: origin[k] for k in data if k in origin}
        _echo_json({**data, "origin": ordered, "file": profile.file, "selected": selection.reason})
        return
    click.echo(f"# profile '{profile.name}' ({selection.detail})")
    lines = [(key, _toml_value(value), origin.get(key, "")) for key, value in data.items()
             if key != "name" and not (value is None and key not in origin)]
    key_width = max(len(k) for k, _, _ in lines)
    value_width = min(48, max(len(v) for _, v, _ in lines))
    for key, shown, where in lines:
        text = f"{key.ljust(key_width)} = {shown.ljust(value_width)}"
        click.echo(f"{text}  # {where}" if where else text.rstrip())


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items() if v is not None) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


@cli.command()
@json_option
@pass_state
def current(state: State, as_json: bool) -> None:
    """Print the active profile and why it is active."""
    from .active import select

    selection = select(state.config())
    if as_json:
        _echo_json({"name": selection.name, "reason": selection.reason, "detail": selection.detail})
    else:
        click.echo(f"{selection.name}    ({selection.detail})")


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
    import os

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

    config = state.config()
    problems = config.problems()
    read = [str(f.path) for f in config.files if f.exists]
    warnings = [w for w in (exposed_secrets_warning(f) for f in config.files if f.exists) if w]
    for warning in warnings:
        click.echo(f"{PROG}: warning: {warning}", err=True)
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
                click.echo(str(p))
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
        ("site file", loc.site_file, "$OMERO_PROFILES_SYSTEM_FILE" if loc.site_file.as_posix() !=
         "/etc/omero-profiles/profiles.toml" else "default"),
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
    """List credential-source plugins: name, package and version, status."""
    from .plugins import get_registry

    registry = get_registry()
    infos = list(registry.plugins.values())
    if as_json:
        _echo_json([i.as_json() for i in infos])
        return
    rows = [("PLUGIN", "PACKAGE", "SOURCES", "STATUS")]
    for info in infos:
        status = info.status if info.status == "ok" and not info.error else f"{info.status}: {info.error}"
        rows.append((info.name, f"{info.distribution} {info.version}".strip(), ", ".join(info.sources) or "-",
                     status))
    _print_table(rows)


# -- commands that connect ----------------------------------------------------------------------
def _ask(state: State, name: str | None, question, overrides: dict[str, Any] | None = None):
    """Connect with the selected profile, answer ``question(conn)``, and always close."""
    from .active import select
    from .connection import open_connection

    config = state.config()
    conn = open_connection(config.resolve(select(config, name).name, overrides))
    try:
        return question(conn)
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
    from .report import describe

    overrides = {"group": None if group is None else parse_value("group", group), "su": su, "timeout": timeout}
    info = _ask(state, name, describe, {k: v for k, v in overrides.items() if v is not None})
    if as_json:
        _echo_json(info)
        return
    admin = "no"
    if info["full_admin"]:
        admin = "full administrator"
    elif info["admin"]:
        admin = "restricted administrator (" + (", ".join(info["privileges"]) or "no privileges") + ")"
    group = info["group"]
    host = info["host"] if ":" not in info["host"] else f"[{info['host']}]"
    lines = [
        ("profile", info["profile"]),
        ("server", f"{host}:{info['port']} over {info['transport']}"
                   + (" (encrypted)" if info["encrypted"] else " (NOT encrypted)")),
        ("user", f"{info['user']['name']} (id {info['user']['id']})"
                 + (f", via su by {info['su_by']}" if info["su"] else "")),
        ("group", f"{group['name']} (id {group['id']})"),
        ("admin", admin),
        ("elapsed", f"{info['elapsed_ms']:.0f} ms"),
    ]
    if info["joined_session"]:
        lines.insert(3, ("session", "joined an existing session"))
    for key, value in lines:
        click.echo(f"{key + ':':9} {value}")


@cli.command()
@click.argument("name", required=False, shell_complete=_complete_profiles)
@json_option
@pass_state
def groups(state: State, name: str | None, as_json: bool) -> None:
    """List the groups the profile's user can switch to (* = current)."""
    from .report import groups as group_rows

    rows = _ask(state, name, group_rows)
    if as_json:
        _echo_json(rows)
        return
    table = [("", "ID", "NAME", "PERMISSIONS")]
    table += [("*" if r["current"] else "", str(r["id"]), r["name"], r["permissions"] or "") for r in rows]
    _print_table(table)


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


def _cred_pairs(pairs: tuple[str, ...]) -> dict[str, Any]:
    from .edit import SECRET_KEYS, parse_value

    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--cred")
        if key in SECRET_KEYS:
            raise click.BadParameter(f"refusing to take '{key}' from the command line (it would stay in your "
                                     "shell history); use --ask-password", param_hint="--cred")
        result[key] = parse_value(key, raw)
    return result


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
@click.option("--cred", multiple=True, metavar="KEY=VALUE", help="Other credential keys (repeatable).")
@click.option("--ask-password", is_flag=True, help="Prompt for a password and store it (source plain only).")
@click.option("--make-default", is_flag=True, help="Also set `default = NAME` in the file.")
@pass_state
def add(state: State, name: str, host, port, secure, group, su, timeout, keepalive, extends, description,
        source, username, cred, ask_password, make_default) -> None:
    """Add a profile to your profiles file (comments and layout are kept)."""
    from .edit import add_profile, edit_user_file, parse_value

    if not host and not extends:
        raise click.UsageError("give --host (or --extends PROFILE to inherit one)")
    values: dict[str, Any] = {}
    for key, value in (("description", description), ("extends", extends), ("host", host), ("port", port),
                       ("secure", secure), ("group", None if group is None else parse_value("group", group)),
                       ("su", su), ("timeout", timeout), ("keepalive", keepalive)):
        if value is not None:
            values[key] = value
    credentials = _cred_pairs(cred)
    if source:
        credentials = {"source": source, **credentials}
    if username:
        credentials["username"] = username
    if ask_password:
        if credentials.get("source") != "plain":
            raise click.UsageError("--ask-password stores the password in the file: use it with --source plain")
        credentials["password"] = click.prompt("Password to store in the file", hide_input=True,
                                               confirmation_prompt=True, err=True)
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

    edit_user_file(state.locations, change)
    click.echo(f"Added profile '{name}' to {state.locations.user_file}", err=True)


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


@cli.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name", shell_complete=_complete_profiles)
@click.argument("key")
@click.argument("value")
@pass_state
def set_(state: State, name: str, key: str, value: str) -> None:
    """Set KEY (host, port, group, credentials.username, ...) in profile NAME ('defaults' for [defaults]).

    VALUE is read as TOML when it is a TOML literal (4064, true, -1, "quoted"), else as text.
    """
    from .edit import SECRET_KEYS, edit_user_file, parse_value, set_key

    if name != "defaults":
        _require_in_user_file(state, name)
    if key.startswith("credentials.") and key.split(".")[-1] in SECRET_KEYS:
        raise click.UsageError(f"refusing to write a secret from the command line (it would stay in your shell "
                               f"history); use '{PROG} add --ask-password' or edit the file")
    edit_user_file(state.locations, set_key(name, key, parse_value(key.split(".")[-1], value)))
    click.echo(f"Set {key} in '{name}'", err=True)


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
