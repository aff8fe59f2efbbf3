"""The commands that open sessions on a server: ``test``, ``groups``, ``login``, ``logout``, ``env``,
``status`` and ``doctor`` (``cli`` adds them to the group).

Each parses its options, calls the module that does the work (``connection``, ``sessions``,
``status``, ``doctor``) and prints what ``render``/``render_checks`` make of the result.
omero-py is imported only inside the commands, when they run: ``env`` without ``--session``
and ``status --offline`` never import it.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .cli_common import State, complete_profiles, echo_err, echo_json, echo_lines, json_option, pass_state
from .constants import PROG


def _ask(state: State, name: str | None, question, overrides: dict[str, Any] | None = None):
    """Connect with the selected profile, answer ``question(conn)``, and always close."""
    from .connection import answer

    return answer(state.profile(name, overrides), question)


@click.command("test")
@click.argument("name", required=False, shell_complete=complete_profiles)
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
        echo_json(info)
    else:
        echo_lines(connection_lines(info))


@click.command()
@click.argument("name", required=False, shell_complete=complete_profiles)
@json_option
@pass_state
def groups(state: State, name: str | None, as_json: bool) -> None:
    """List the groups the profile's user can switch to (* = current)."""
    from .render import group_rows
    from .report import groups as groups_of

    rows = _ask(state, name, groups_of)
    if as_json:
        echo_json(rows)
    else:
        echo_lines(group_rows(rows))


@click.command()
@click.argument("name", required=False, shell_complete=complete_profiles)
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
    from .durations import optional_duration
    from .render import login_lines
    from .sessions import login as store_login

    result = store_login(state.profile(name), idle=optional_duration(idle), ttl=optional_duration(ttl),
                         user_token=user_token)
    data = result.as_json(show_key=show_key)
    if as_json:
        echo_json(data)
    else:
        echo_lines(login_lines(data))


@click.command()
@click.argument("name", required=False, shell_complete=complete_profiles)
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
    from .render import logout_lines
    from .sessions import logout as end_sessions

    profile = state.profile(name)
    if everything and not yes and sys.stdin.isatty() and not as_json:
        click.confirm(f"End every stored session of profile '{profile.name}''s user on {profile.display_address()}, "
                      "also those made by `omero login`?", abort=True, err=True)
    report = end_sessions(profile, everything=everything)
    if as_json:
        echo_json({"profile": profile.name, "sessions": [r.as_json() for r in report]})
        return
    echo_err(logout_lines(profile.name, profile.display_address(), everything, [r.describe() for r in report]))


@click.command("env")
@click.argument("name", shell_complete=complete_profiles)
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
    from .exports import export_line

    profile = state.config().resolve(name)
    lines = [export_line("OMERO_PROFILE", profile.name, shell)]  # refused (exit 2) before any session is made
    if with_session:
        from .durations import optional_duration
        from .render import child_line
        from .sessions import child_exports

        child, exports = child_exports(profile, idle=optional_duration(idle), ttl=optional_duration(ttl), shell=shell)
        lines += exports
        click.echo(child_line(child.user, child.group, child.time_to_idle_s, child.time_to_live_s), err=True)
    for line in lines:
        click.echo(line)


@click.command()
@click.argument("name", required=False, shell_complete=complete_profiles)
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
    from .status import failure, statuses_of, store_warnings

    if everything and name:
        raise click.UsageError("give a NAME or --all, not both")
    config = state.config()
    results = statuses_of(config, config.names() if everything else [select(config, name).name], offline=offline)
    warnings = store_warnings()
    if as_json:
        echo_json({"offline": offline, "profiles": [r.as_json() for r in results], "warnings": warnings})
    elif not results:
        click.echo(f"No profiles defined. Start with: {PROG} init   (or {PROG} import --from omero-sessions)")
    else:
        echo_lines(status_lines([r.as_json() for r in results], warnings))
    error = failure(results)
    if error is not None:
        sys.stdout.flush()
        raise error


@click.command()
@click.argument("name", required=False, shell_complete=complete_profiles)
@click.option("--timeout", type=float, help="Seconds each step may take (default: the profile's timeout).")
@json_option
@pass_state
def doctor(state: State, name: str | None, timeout: float | None, as_json: bool) -> None:
    """Connect step by step and say where it breaks, with each step's time: for the help desk.

    Name, TCP, TLS (certificate), router, server version, credentials (never shown), login,
    group, su, session timeouts, stored sessions. Stops at the first failure with its exit code
    (5 unreachable, 4 credentials, 6 rejected, 7 access denied) and the one thing to try next.
    """
    from .doctor import DoctorFailed, run_doctor
    from .render_checks import doctor_heading, doctor_step_lines, doctor_summary

    def show(step, report) -> None:  # each step as it ends: a help-desk call watches it happen
        heading = [doctor_heading(report.as_json())] if step.key == "profile" else []
        echo_lines(heading + doctor_step_lines(step.as_json()))

    failed = None
    try:
        report = run_doctor(lambda: state.profile(name, None if timeout is None else {"timeout": timeout}),
                            None if as_json else show)
    except DoctorFailed as exc:
        report, failed = exc.report, exc  # type: ignore[attr-defined]
    if as_json:
        echo_json(report.as_json())
    else:
        click.echo(doctor_summary(report.as_json()))
    if failed is not None:
        sys.stdout.flush()
        raise failed


COMMANDS = (test_, groups, login, logout, env_, status, doctor)
"""What ``cli`` adds to its group."""
