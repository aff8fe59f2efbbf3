"""`omero-profile`: the command line. Exceptions become messages + exit codes in one place (`_Group`).

Commands parse, call the module that owns the work, and print: they gather JSON-ready data and
``render`` turns it into text. Heavy modules (pydantic models, plugins, omero-py) are imported
inside the commands that need them. This module holds the group and the offline commands;
``cli_sessions`` the commands that open sessions on a server, ``cli_common`` what both use,
``cli_input`` what is read beyond click's parsing (secrets, ``add``'s table). ``list``, ``show``
and ``validate`` print the validated index (``index``, cached by ``cache``). The console script
(``console``) answers ``current`` and name completion before this module is even imported,
when ``quick`` can; this module is the full command line and has the last word.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any

import click

from . import cli_sessions
from .cli_common import State, complete_profiles, echo_err, echo_json, echo_lines, json_option, pass_state
from .constants import PROG
from .errors import ConfigError, ProfileError


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
    from .logsetup import configure_logging

    ctx.obj = State(config_path=config, debug=debug)
    configure_logging(debug)


# -- read-only commands -------------------------------------------------------------------------
@cli.command("list")
@json_option
@pass_state
def list_(state: State, as_json: bool) -> None:
    """List profiles: name, server, user and credential source; * marks the active one."""
    from .render import profile_rows

    index = state.index()
    rows = index.rows()
    if as_json:
        echo_json(rows)
    elif not rows:
        click.echo(f"No profiles defined. Start with: {PROG} init   (or {PROG} add NAME --host HOST)")
    else:
        echo_lines(profile_rows(rows))
    problem = index.list_problem(rows)
    if problem is not None:
        raise problem


@cli.command()
@click.argument("name", required=False, shell_complete=complete_profiles)
@json_option
@pass_state
def show(state: State, name: str | None, as_json: bool) -> None:
    """Show the resolved profile (defaults and extends applied), secrets redacted, with each value's origin."""
    from .active import select
    from .render import show_lines

    index = state.index()
    selection = select(index, name)
    if as_json:
        echo_json({**index.shown(selection.name), "selected": selection.reason})
        return
    data = index.resolved(selection.name)["data"]
    echo_lines(show_lines(data, {k: str(v) for k, v in index.origin(selection.name).items()},
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
        echo_json({"name": selection.name, "reason": selection.reason, "detail": selection.detail})
    else:
        click.echo(printable(f"{selection.name}    ({selection.detail})"))


@cli.command()
@click.argument("name", required=False, shell_complete=complete_profiles)
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
    from .text import printable

    index = state.index()
    report = index.validation()
    for warning in report["warnings"]:
        click.echo(f"{PROG}: warning: {printable(warning)}", err=True)
    if as_json:
        echo_json(report)
    elif report["valid"]:
        click.echo(f"ok: {report['profiles']} profile(s) in {', '.join(report['files']) or '(no files)'}")
    else:
        echo_lines([printable(p) for p in index.problems()])
    if not report["valid"]:
        sys.stdout.flush()
        raise ConfigError(f"{len(report['problems'])} problem(s) found")


@cli.command()
@json_option
@pass_state
def path(state: State, as_json: bool) -> None:
    """Show the files read (user, site-wide) and the state file."""
    from .filesystem import presence
    from .text import printable

    entries = [(key, p, why, presence(p)) for key, p, why in state.locations.listed()]
    if as_json:
        echo_json({key.replace(" ", "_"): {"path": str(p), "exists": status == "exists", "status": status,
                                            "from": why} for key, p, why, status in entries})
        return
    for key, p, why, status in entries:
        click.echo(f"{key + ':':12} {printable(p)}  ({status}; {why})")


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
        echo_json({"plugins": rows, "warnings": registry.warnings, "excluded": registry.excluded})
        return
    echo_lines(plugin_lines(rows, registry.warnings))


@cli.group()
def password() -> None:
    """The profile's password in the OS keyring (source = "keyring")."""


def _keyring_profile(state: State, name: str | None):
    from .credentials.keyring import require_keyring

    return require_keyring(state.profile(name))


@password.command("set")
@click.argument("name", required=False, shell_complete=complete_profiles)
@click.argument("refused", nargs=-1, metavar="")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from one line of standard input.")
@pass_state
def password_set(state: State, name: str | None, refused: tuple[str, ...], from_stdin: bool) -> None:
    """Store the profile's password in the keyring (asked twice without echo, or --stdin; never argv)."""
    from .cli_input import read_secret
    from .credentials.keyring import store_password

    if refused:  # said without echoing it: it may be the password
        raise click.UsageError("a password is never taken from the command line (it would stay in your shell "
                               "history); type it at the prompt, or pipe it in with --stdin")
    profile = _keyring_profile(state, name)
    service, user = store_password(profile, read_secret(f"OMERO password for {profile.credentials.username}",
                                                        from_stdin))
    click.echo(f"Stored the password of '{user}' in the keyring (service '{service}').", err=True)


@password.command("delete")
@click.argument("name", required=False, shell_complete=complete_profiles)
@pass_state
def password_delete(state: State, name: str | None) -> None:
    """Remove the profile's password from the keyring."""
    from .credentials.keyring import delete_password

    profile = _keyring_profile(state, name)
    service, user = delete_password(profile)
    click.echo(f"Deleted the password of '{user}' from the keyring (service '{service}').", err=True)


@password.command("check")
@click.argument("name", required=False, shell_complete=complete_profiles)
@json_option
@pass_state
def password_check(state: State, name: str | None, as_json: bool) -> None:
    """Say whether the keyring holds the profile's password (never prints it); exit 4 if not."""
    from .credentials.keyring import has_password
    from .errors import CredentialError

    profile = _keyring_profile(state, name)
    service, user, stored, backend = has_password(profile)
    if as_json:
        echo_json({"profile": profile.name, "service": service, "username": user, "stored": stored,
                   "backend": backend})
    else:
        click.echo(f"{'stored' if stored else 'not stored'}: password of '{user}' for service '{service}' "
                   f"({backend})")
    if not stored:
        raise CredentialError(f"profile '{profile.name}': no password in the keyring",
                              hint=f"{PROG} password set {profile.name}")


# -- commands that change the user's file -------------------------------------------------------
@cli.command()
@pass_state
def init(state: State) -> None:
    """Write a starter profiles file (from profiles.example.toml) if none exists."""
    from .edit import write_starter

    target = write_starter(state.locations)
    click.echo(f"Wrote {target} (mode 0600). Edit it, then: {PROG} list", err=True)


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
def add(state: State, name: str, make_default: bool, **options: Any) -> None:
    """Add a profile to your profiles file (comments and layout are kept)."""
    from .cli_input import added_profile
    from .edit import add_profile, edit_with_notice
    from .text import printable

    values, private = added_profile(**options)
    notice = edit_with_notice(state.locations, add_profile(name, values, make_default=make_default), private=private)
    click.echo(printable(f"Added profile '{name}' to {state.locations.user_file}"), err=True)
    if notice:
        click.echo(notice, err=True)


@cli.command()
@click.argument("name", shell_complete=complete_profiles)
@pass_state
def remove(state: State, name: str) -> None:
    """Remove a profile from your profiles file (everything else is left byte-for-byte)."""
    from .edit import check_editable, edit_user_file, remove_profile
    from .statefile import forget_choice
    from .text import printable
    from .writing import locked

    check_editable(state.config(), name)
    with locked(state.locations.user_file):  # one hold: a racing 'use NAME' cannot slip in between
        edit_user_file(state.locations, remove_profile(name))
        cleared = forget_choice(state.locations, name)
    if cleared:
        click.echo(printable(f"'{name}' was the active profile; the active choice is cleared."), err=True)
    click.echo(printable(f"Removed profile '{name}' from {state.locations.user_file}"), err=True)


@cli.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name", shell_complete=complete_profiles)
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
    from .cli_input import read_secret, refuse_secrets
    from .edit import check_editable, edit_with_notice, parse_value, set_key
    from .text import printable

    check_editable(state.config(), name, defaults=True)
    if (value is not None) + ask + from_stdin != 1:
        raise click.UsageError("give exactly one of VALUE, --ask or --stdin")
    prompted = value is None
    if prompted:
        value = read_secret(f"value of {key}", from_stdin)
        parsed: Any = value
    else:
        parsed = parse_value(key.split(".")[-1], value)
    secrets = state.config().secrets_written(name, key, parsed)
    if not prompted:
        refuse_secrets(secrets, "set the other keys, then the secret with --ask" if key == "credentials"
                        else "use --ask or --stdin")
    notice = edit_with_notice(state.locations, set_key(name, key, parsed), private=prompted and bool(secrets))
    click.echo(printable(f"Set {key} in '{name}'"), err=True)
    if notice:
        click.echo(notice, err=True)


@cli.command()
@click.argument("name", shell_complete=complete_profiles)
@click.argument("key")
@pass_state
def unset(state: State, name: str, key: str) -> None:
    """Remove KEY from profile NAME, so it is inherited again (from extends, [defaults] or built-ins)."""
    from .edit import check_editable, edit_user_file, set_key
    from .text import printable

    check_editable(state.config(), name, defaults=True)
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

    if path is not None and source != "ezomero":
        raise click.UsageError("--path is for --from ezomero")
    if password_to_keyring and source == "omero-sessions":
        raise click.UsageError("--password-to-keyring: the OMERO CLI's store holds no password to move")
    if name is not None and prefix:
        raise click.UsageError("give --name or --prefix, not both")
    candidates = importing.gather(source, path=path, environ=dict(os.environ), to_keyring=password_to_keyring)
    importing.assign_names(candidates, prefix=prefix, name=name)
    importing.refuse_collisions(candidates, state.config())
    if dry_run:
        click.echo(importing.preview(candidates).rstrip("\n"))
        echo_err(importing.dry_run_notes(candidates))
        return
    edit_user_file(state.locations, importing.change_for(candidates))
    echo_err(importing.added_lines(candidates, state.locations.user_file))
    echo_err(importing.store_passwords(candidates, state.config_path))


for _command in cli_sessions.COMMANDS:
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name=PROG)


__all__ = ["cli", "main"]
