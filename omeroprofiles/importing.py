"""``omero-profile import``: turn existing set-ups into profiles, never copying a secret silently.

Three places people already keep connection settings:

- ``omero-sessions``: the OMERO CLI's session store (``omero login`` history). Each host, port and
  user there becomes a profile with ``source = "omero-login"``: it joins those stored sessions, so
  no password is involved at all (the keys stay in the store).
- ``ezomero``: ezomero's ``.ezomero`` file (an INI file whose ``[DEFAULT]`` section has
  ``OMERO_USER``, ``OMERO_GROUP``, ``OMERO_HOST``, ``OMERO_PORT``, ``OMERO_SECURE``) with the same
  variables in the environment over it, as ``ezomero.connect`` reads them.
- ``env``: the seed guide's ``OMERO_HOST``, ``OMERO_PORT``, ``OMERO_USER``, ``OMERO_PASSWORD`` (and
  ``OMERO_GROUP``/``OMERO_SECURE`` when set).

A password found in the environment is never written to the file: the profile reads it from its
variable at connect time (``source = "env"``), or, when asked (``password_to_keyring``), it goes to
the OS keyring and the profile uses ``source = "keyring"``; either way the command says which.
Profile names come from the host, with the user, port or group added only where two imported
profiles would otherwise share a name. Nothing offline here imports omero.
"""

from __future__ import annotations

import configparser
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pydantic import SecretStr

from .constants import PROG
from .errors import ConfigError
from .names import name_problem
from .text import printable

SOURCES = ("omero-sessions", "ezomero", "env")
EZOMERO_FILE = ".ezomero"
EZOMERO_KEYS = ("OMERO_USER", "OMERO_GROUP", "OMERO_HOST", "OMERO_PORT", "OMERO_SECURE")
PASSWORD_KEYS = ("OMERO_PASS", "OMERO_PASSWORD")
MAX_EZOMERO_BYTES = 64 * 1024


@dataclass
class Candidate:
    """One profile to add: its values (as ``add`` takes them) and where they came from."""

    host: str
    port: int | None
    user: str | None
    group: str | None
    values: dict[str, Any]
    origin: str
    notes: list[str] = field(default_factory=list)
    password: SecretStr | None = field(default=None, repr=False)
    """A password to put in the keyring (``password_to_keyring``); never written to the file."""
    password_from: str | None = None
    name: str = ""


def gather(source: str, *, path: str | None, environ: dict[str, str], to_keyring: bool) -> list[Candidate]:
    """The profiles ``import --from source`` finds (``path``: where .ezomero is, for ``ezomero``)."""
    if source == "omero-sessions":
        return from_omero_sessions()
    if source == "ezomero":
        return from_ezomero(path, environ, to_keyring=to_keyring)
    return from_env(environ, to_keyring=to_keyring)


# -- the sources ------------------------------------------------------------------------------------
def from_omero_sessions(store_directory: Path | None = None) -> list[Candidate]:
    """A candidate per host, port and user with a session in the OMERO CLI's store (offline)."""
    from .model import parse_host
    from .ownership import judge_directory
    from .sessionstore import SessionStore, usable_name

    store = SessionStore(store_directory)
    verdict = judge_directory(Path(os.path.realpath(store.dir)))
    if verdict.refusal == "does not exist":
        raise ConfigError(f"{store.dir}: no OMERO CLI session store here (nothing was imported)",
                          hint="log in once with `omero login`, or point OMERO_SESSIONDIR at the store")
    if verdict.refusal is not None:
        raise ConfigError(f"{store.dir}: {verdict.refusal}, so nothing in it is read (nothing was imported)")
    found: dict[tuple[str, int, str], int] = {}
    for host_dir in sorted(_subdirs(store.dir)):
        host = unquote(host_dir.name)
        for user_dir in sorted(_subdirs(host_dir)):
            if not usable_name(user_dir.name):
                continue
            for stored in store.sessions(host, user_dir.name):
                key = (host, stored.port, stored.user)
                found[key] = found.get(key, 0) + 1
    candidates = []
    for (host, port, user), count in found.items():
        try:
            hostname = parse_host(host).hostname
        except ValueError:
            continue  # not a host a profile can name (a hand-made directory)
        values: dict[str, Any] = {"description": f"imported from omero login ({user} on {host})", "host": host}
        if "://" not in host:
            values["port"] = port
        values["credentials"] = {"source": "omero-login", "username": user}
        candidates.append(Candidate(hostname, port, user, None, values, f"{store.dir}: {count} stored session(s)",
                                    ["joins the sessions `omero login` stored: no password is involved"]))
    if not candidates:
        raise ConfigError(f"{store.dir}: no stored session to import", hint="log in once with `omero login`")
    return candidates


def _subdirs(directory: Path) -> list[Path]:
    try:
        return [p for p in directory.iterdir() if not p.name.startswith(".") and p.is_dir() and not p.is_symlink()]
    except OSError:
        return []


def from_ezomero(directory: str | None, environ: dict[str, str], *, to_keyring: bool) -> list[Candidate]:
    """ezomero's settings: ``DIR/.ezomero`` (default the home directory), the environment over it."""
    path = Path(directory).expanduser() / EZOMERO_FILE if directory else Path.home() / EZOMERO_FILE
    settings, notes = _read_ezomero(path, required=directory is not None)
    for key in EZOMERO_KEYS:  # ezomero.connect: a variable in the environment beats the file
        if environ.get(key) is not None:
            settings[key] = environ[key]
    where = str(path) if path.exists() else "the environment"
    if not settings.get("OMERO_HOST"):
        raise ConfigError(f"{where}: no OMERO_HOST to import (nothing was imported)",
                          hint=f"write one with ezomero.store_connection_params(), or point --path at the "
                               f"directory holding {EZOMERO_FILE}")
    candidate = _candidate(settings, where, "ezomero", environ, to_keyring=to_keyring,
                           password_vars=("OMERO_PASS",))
    candidate.notes[:0] = notes
    return [candidate]


def _read_ezomero(path: Path, *, required: bool) -> tuple[dict[str, str], list[str]]:
    from .filesystem import Unusable, read_regular

    try:
        raw = read_regular(path, MAX_EZOMERO_BYTES)
    except Unusable as exc:
        raise ConfigError(f"{path}: {exc} (nothing was imported)") from None
    if raw is None:
        if required:
            raise ConfigError(f"{path}: no such file (nothing was imported)")
        return {}, []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(raw.decode("utf-8"), source=str(path))
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: not an ezomero settings file ({first}); nothing was imported") from None
    defaults = {key.upper(): value for key, value in parser.defaults().items()}
    notes = []
    held = [key for key in PASSWORD_KEYS if defaults.get(key)]
    if held:
        notes.append(f"{path} holds {' and '.join(held)}: not imported (ezomero does not read a password from its "
                     "file either); consider removing it from there")
    return {key: defaults[key] for key in EZOMERO_KEYS if key in defaults}, notes


def from_env(environ: dict[str, str], *, to_keyring: bool) -> list[Candidate]:
    """The seed guide's variables: OMERO_HOST (required), OMERO_PORT, OMERO_USER, OMERO_PASSWORD."""
    if not environ.get("OMERO_HOST"):
        raise ConfigError("$OMERO_HOST is not set: nothing to import from the environment (nothing was imported)")
    settings = {key: environ[key] for key in EZOMERO_KEYS if environ.get(key) is not None}
    return [_candidate(settings, "the environment", "env", environ, to_keyring=to_keyring,
                       password_vars=("OMERO_PASSWORD", "OMERO_PASS"))]


def _candidate(settings: dict[str, str], where: str, kind: str, environ: dict[str, str], *, to_keyring: bool,
               password_vars: tuple[str, ...]) -> Candidate:
    from .model import parse_host

    host = settings["OMERO_HOST"].strip()
    try:
        address = parse_host(host)
    except ValueError as exc:
        raise ConfigError(f"{where}: OMERO_HOST: {exc} (nothing was imported)") from None
    values: dict[str, Any] = {"description": f"imported from {kind} ({where})", "host": host}
    port = None
    if settings.get("OMERO_PORT", "").strip():
        try:
            port = int(settings["OMERO_PORT"])
        except ValueError:
            raise ConfigError(f"{where}: OMERO_PORT '{settings['OMERO_PORT']}' is not a port number "
                              "(nothing was imported)") from None
        if not 1 <= port <= 65535:
            raise ConfigError(f"{where}: OMERO_PORT {port} is not a port number (nothing was imported)")
        if address.port is None:
            values["port"] = port
    secure = settings.get("OMERO_SECURE", "").strip().lower()
    if secure in ("true", "t", "false", "f"):
        values["secure"] = secure in ("true", "t")
    elif secure and secure != "none":
        raise ConfigError(f"{where}: OMERO_SECURE '{settings['OMERO_SECURE']}' is neither True nor False "
                          "(nothing was imported)")
    group = (settings.get("OMERO_GROUP") or "").strip() or None
    if group is not None:
        values["group"] = int(group) if re.fullmatch(r"-1|\d+", group) else group
    user = (settings.get("OMERO_USER") or "").strip() or None
    found = next((var for var in password_vars if environ.get(var)), None)
    candidate = Candidate(address.hostname, port, user, group, values, where)
    if to_keyring:
        if found is None or user is None:
            missing = " and ".join(([f"${password_vars[0]}"] if found is None else [])
                                   + (["OMERO_USER"] if user is None else []))
            raise ConfigError(f"--password-to-keyring: {missing} not set, so there is nothing to store "
                              "(nothing was imported)")
        values["credentials"] = {"source": "keyring", "username": user}
        candidate.password, candidate.password_from = SecretStr(environ[found]), found
    elif found is not None:
        credentials: dict[str, Any] = {"source": "env"}
        if found != "OMERO_PASSWORD":
            credentials["password_var"] = found
        if user is not None and (kind == "ezomero" or not environ.get("OMERO_USER")):
            credentials["username"] = user
        values["credentials"] = credentials
        candidate.notes.append(f"${found} is set: not copied; the profile reads it from ${found} when it connects "
                               "(or import with --password-to-keyring to keep it in the OS keyring instead)")
    elif kind == "env":
        values["credentials"] = {"source": "env"}
        candidate.notes.append("reads $OMERO_USER and $OMERO_PASSWORD when it connects, as the guide's scripts do")
    else:
        values["credentials"] = {"source": "prompt", **({"username": user} if user else {})}
        candidate.notes.append("asks for the password at the terminal, as ezomero does (`omero-profile set NAME "
                               "credentials '{ source = \"keyring\", username = \"USER\" }'` and "
                               "`omero-profile password set NAME` to keep it in the keyring)")
    return candidate


# -- names ------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    """A bare TOML key made of ``text`` (``omero.example.org`` -> ``omero-example-org``): typed, never quoted."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")
    return slug or "omero"


def assign_names(candidates: list[Candidate], *, prefix: str = "", name: str | None = None) -> None:
    """Name each from its host; add user, port, then group where two would share a name."""
    if name is not None:
        if len(candidates) != 1:
            raise ConfigError(f"--name names one profile, and {len(candidates)} were found; use --prefix instead")
        candidates[0].name = name
    else:
        parts = [lambda c: _slug(c.host.lower()), lambda c: c.user and _slug(c.user), lambda c: c.port and str(c.port),
                 lambda c: c.group and _slug(c.group)]
        for candidate in candidates:
            candidate.name = parts[0](candidate)
        for extra in parts[1:]:  # only where it tells apart profiles that would share a name
            clashing: dict[str, list[Candidate]] = {}
            for candidate in candidates:
                clashing.setdefault(candidate.name, []).append(candidate)
            for group in clashing.values():
                if len(group) > 1 and len({extra(c) for c in group}) > 1:
                    for candidate in group:
                        more = extra(candidate)
                        if more:
                            candidate.name = f"{candidate.name}-{more}"
        for candidate in candidates:
            candidate.name = (prefix + candidate.name)[:64]
    for candidate in candidates:
        problem = name_problem(candidate.name)
        if problem:
            raise ConfigError(f"cannot name a profile '{candidate.name}': {problem}", hint="choose with --prefix")
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.name in seen:
            raise ConfigError(f"two imported profiles would both be called '{candidate.name}'",
                              hint="import them one at a time with --name")
        seen.add(candidate.name)


def refuse_collisions(candidates: list[Candidate], config: Any) -> None:
    """ConfigError (nothing imported) if an imported name already names a profile."""
    clashes = collisions(candidates, config)
    if clashes:
        raise ConfigError("\n".join(clashes) + "\nnothing was imported (an existing profile is never replaced)",
                          hint="choose other names with --prefix PREFIX (or --name NAME for one profile)")


def collisions(candidates: list[Candidate], config: Any) -> list[str]:
    """Where an imported name already names a profile (user or site file): never overwritten."""
    found = []
    for candidate in candidates:
        if config.has(candidate.name):
            where = config.file_of(candidate.name)
            found.append(f"profile '{candidate.name}' already exists in {where.path if where else 'a file read'}")
    return found


# -- writing ----------------------------------------------------------------------------------------
def change_for(candidates: list[Candidate]):
    """One edit adding every candidate through ``edit.add_profile`` (the editor ``add`` uses)."""
    import tomlkit

    from .edit import add_profile

    def change(doc: Any) -> str:
        text = doc.as_string()
        for candidate in candidates:
            text = add_profile(candidate.name, candidate.values)(tomlkit.parse(text))
        return text
    return change


def preview(candidates: list[Candidate]) -> str:
    """The TOML ``import`` would add (``--dry-run``), as the editor would write it into an empty file."""
    import tomlkit

    return change_for(candidates)(tomlkit.document())


# -- what import says ---------------------------------------------------------------------------------
def dry_run_notes(candidates: list[Candidate]) -> list[str]:
    """``--dry-run``, on stderr: each profile's notes, and the passwords that would go to the keyring."""
    lines = []
    for candidate in candidates:
        lines += [f"note: {candidate.name}: {note}" for note in candidate.notes]
        if candidate.password is not None:
            lines.append(f"note: {candidate.name}: would store the password from ${candidate.password_from}"
                         " in the keyring (not done: --dry-run)")
    return [printable(line) for line in lines]


def added_lines(candidates: list[Candidate], user_file: Path) -> list[str]:
    """After the edit, on stderr: each profile added, where from, and its notes."""
    lines = []
    for candidate in candidates:
        lines.append(f"Added profile '{candidate.name}' (from {candidate.origin}) to {user_file}")
        lines += [f"  note: {note}" for note in candidate.notes]
    return [printable(line) for line in lines]


def store_passwords(candidates: list[Candidate], config_path: str | None) -> Iterator[str]:
    """``--password-to-keyring``, after the profiles exist: each password into the keyring, a line said for each.

    A failure names the profile that was added without its password, and how to store it."""
    from .credentials.keyring import store_password
    from .errors import CredentialError
    from .resolve import Config

    candidates = [c for c in candidates if c.password is not None]
    if not candidates:
        return
    config = Config.load(config_path)
    for candidate in candidates:
        profile = config.resolve(candidate.name)
        try:
            service, user = store_password(profile, candidate.password.get_secret_value())  # type: ignore[union-attr]
        except CredentialError as exc:
            raise CredentialError(f"profile '{candidate.name}' was added, but the password from "
                                  f"${candidate.password_from} was NOT stored in the keyring: {exc}",
                                  hint=f"{PROG} password set {candidate.name}") from None
        yield printable(f"  Stored the password from ${candidate.password_from} in the keyring (service "
                        f"'{service}', user '{user}'); the file holds no password.")
