"""``omero-profile doctor``: connect step by step and say where it breaks, for the help desk.

Each step is timed and bounded by the profile ``timeout`` on its own: resolve the profile, resolve
the host name, TCP connect, TLS handshake (protocol, certificate subject/issuer, expiry,
self-signed, name match), the Glacier2 router answers, the server version (``IConfig.getVersion``
from a guest session, as OMERO's own clients ask before a login), fetch the credentials (which
source; never the secret), log in, group membership, su rights, the session's idle and live
timeouts, and for profiles that use stored sessions (``share_session``, ``omero-login``,
``user-token``) the stored sessions' state. The first failure stops the run: its step says what
is wrong and ``DoctorFailed`` carries the exit code (5, 4, 6, 7; 2 or 3 for the profile itself)
and the one thing to try next. What is odd but not fatal (an expired certificate, which omero-py
does not check) is a warning. Everything opened is closed; a session made here is ended.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .constants import PROG
from .errors import AccessDenied, AuthenticationFailed, CredentialError, ProfileError, ServerUnreachable
from .model import Profile

EXPIRY_WARNING_DAYS = 14
"""A certificate that ends sooner than this is a warning."""


@dataclass
class Step:
    key: str
    title: str
    status: str = "ok"
    """``ok``, ``warn``, ``skip`` or ``FAIL``."""
    ms: float | None = None
    detail: str = ""
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic, repr=False)
    timed: bool = True
    """False for a step that did nothing on the network (skipped, or a transport without TLS)."""

    def restart_clock(self) -> None:
        """Time from now: what was spent before (importing omero-py, say) is not this step's network time."""
        self.started = time.monotonic()

    def as_json(self) -> dict[str, Any]:
        return {"step": self.key, "title": self.title, "status": self.status,
                "ms": None if self.ms is None else round(self.ms, 1), "detail": self.detail, "notes": self.notes,
                **({"data": self.data} if self.data else {})}


class DoctorFailed(ProfileError):
    """A step failed: ``exit_code`` is that failure's, ``hint`` the one thing to try next."""

    def __init__(self, message: str, *, exit_code: int, hint: str | None) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = exit_code


@dataclass
class Report:
    profile: str
    address: str
    steps: list[Step] = field(default_factory=list)
    exit_code: int = 0
    next: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "address": self.address, "exit_code": self.exit_code,
                "warnings": sum(s.status == "warn" for s in self.steps), "next": self.next,
                "steps": [s.as_json() for s in self.steps]}


OnStep = Callable[[Step, Report], None]


class _Stop(Exception):
    def __init__(self, message: str, exit_code: int, hint: str | None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.hint = hint


def _fail(message: str, exit_code: int, hint: str | None) -> _Stop:
    return _Stop(message, exit_code, hint)


class Doctor:
    """One run. ``resolve`` gives the profile (raising ProfileError); ``on_step(step, report)`` sees each
    step as it ends (a help desk watching a slow step sees the ones before it)."""

    def __init__(self, resolve: Callable[[], Profile], on_step: OnStep | None = None):
        self._resolve = resolve
        self._on_step = on_step or (lambda step, report: None)
        self.report = Report("?", "")
        self.profile: Profile | None = None
        self._addresses: list[tuple[int, Any]] = []
        self._sock: socket.socket | None = None
        self._session: Any = None
        self._credentials: Any = None
        self._ec: Any = None
        self._version_later = False

    # -- running -------------------------------------------------------------------------------
    def run(self) -> Report:
        steps = [("profile", "profile", self._step_profile), ("dns", "resolve name", self._step_dns),
                 ("tcp", "TCP connect", self._step_tcp), ("tls", "TLS handshake", self._step_tls),
                 ("router", "Glacier2 router", self._step_router), ("version", "server version", self._step_version),
                 ("credentials", "credentials", self._step_credentials), ("login", "log in", self._step_login),
                 ("group", "group", self._step_group), ("su", "su", self._step_su),
                 ("timeouts", "session timeouts", self._step_timeouts),
                 ("stored", "stored sessions", self._step_stored)]
        try:
            for key, title, action in steps:
                step = Step(key, title)
                try:
                    action(step)
                except (_Stop, ProfileError) as exc:
                    stop = exc if isinstance(exc, _Stop) else \
                        _Stop(str(exc), exc.exit_code, exc.hint or _default_hint(key, exc, self.profile))
                    step.status, step.detail = "FAIL", str(stop)
                    self._finish(step)
                    self.report.exit_code, self.report.next = stop.exit_code, stop.hint
                    raise DoctorFailed(f"{title}: {stop}", exit_code=stop.exit_code, hint=stop.hint) from None
                self._finish(step)
        finally:
            self._close()
        return self.report

    def _finish(self, step: Step) -> None:
        if step.timed and step.status != "skip":
            step.ms = (time.monotonic() - step.started) * 1000
        self.report.steps.append(step)
        self._on_step(step, self.report)

    @property
    def _p(self) -> Profile:
        assert self.profile is not None
        return self.profile

    @property
    def _quiet(self) -> Profile:
        """The profile for doctor's own clients: every call bounded by the timeout, no keep-alive thread."""
        return self._p.model_copy(update={"call_timeout": self._p.timeout, "keepalive": 0})

    def _bounded(self, what: str, fn: Callable[[], Any], discard: Callable[[Any], None] = lambda late: None) -> Any:
        """``fn()`` within the profile timeout; its failures classified (never an Ice exception, never a key)."""
        from .classify import classify
        from .deadline import DeadlineExceeded, run_bounded

        try:
            return run_bounded(self._p.timeout, fn, discard)
        except DeadlineExceeded:
            raise _fail(f"{what}: no answer within {self._p.timeout:g} s (profile timeout)", 5,
                        "the server is down, overloaded, or something on the way holds the connection; try again "
                        "later, or ask the server's administrator") from None
        except ProfileError:
            raise
        except Exception as exc:
            mapped = classify(exc, self._p, user=None, timeout=self._p.timeout)
            if mapped is None:
                raise
            raise mapped from None

    # -- the steps -----------------------------------------------------------------------------
    def _step_profile(self, step: Step) -> None:
        try:
            self.profile = self._resolve()
        except ProfileError as exc:
            raise _fail(str(exc), exc.exit_code, exc.hint or f"check it with: {PROG} validate") from None
        p = self._p
        self.report.profile, self.report.address = p.name, p.url
        step.detail = f"{p.url}, timeout {p.timeout:g} s, credentials from '{p.source}'"
        step.notes.append(f"defined in {p.file}" if p.file else "built from overrides")
        extras = [f"group {p.group}" if p.group is not None else None, f"su {p.su}" if p.su else None,
                  "share_session" if p.share_session else None, None if p.secure else "secure = false"]
        if any(extras):
            step.notes.append(", ".join(e for e in extras if e))

    def _step_dns(self, step: Step) -> None:
        host = self._p.hostname
        found: dict[str, Any] = {}

        def lookup() -> None:
            try:
                found["infos"] = socket.getaddrinfo(host, self._p.port, type=socket.SOCK_STREAM)
            except OSError as exc:
                found["error"] = exc

        worker = threading.Thread(target=lookup, name="omero-profiles-doctor-dns", daemon=True)
        worker.start()
        worker.join(self._p.timeout)
        if worker.is_alive():
            raise _fail(f"no answer for '{host}' within {self._p.timeout:g} s (profile timeout)", 5,
                        "your name server does not answer: check the network (VPN?) and try again")
        if "error" in found:
            why = getattr(found["error"], "strerror", None) or type(found["error"]).__name__
            raise _fail(f"cannot resolve '{host}' ({why})", 5,
                        f"check the host name ({PROG} show {self._p.name}); a server inside your institute may "
                        "need its VPN")
        addresses = list(dict.fromkeys(info[4][0] for info in found["infos"]))
        self._addresses = [(info[0], info[4]) for info in found["infos"]]
        step.detail = f"{host} -> {', '.join(addresses[:4])}{' ...' if len(addresses) > 4 else ''}"

    def _step_tcp(self, step: Step) -> None:
        deadline = time.monotonic() + self._p.timeout
        errors: list[str] = []
        for family, address in dict.fromkeys(self._addresses):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(left)
            try:
                sock.connect(address)
            except TimeoutError:
                sock.close()
                errors.append(f"{address[0]}: no answer")
                continue
            except OSError as exc:
                sock.close()
                errors.append(f"{address[0]}: {exc.strerror or type(exc).__name__}")
                continue
            self._sock = sock
            step.detail = f"connected to {_show(address)}"
            return
        where = f"{self._p.hostname}:{self._p.port}"
        if errors and all("refused" in e.lower() for e in errors):
            raise _fail(f"{where}: connection refused ({'; '.join(errors)})", 5, _port_hint(self._p))
        raise _fail(f"{where}: no connection within {self._p.timeout:g} s ({'; '.join(errors) or 'no answer'})", 5,
                    "a firewall drops the connection, or the server is down; from another network, or with "
                    "the VPN, try again")

    def _step_tls(self, step: Step) -> None:
        from . import tlsinfo

        p = self._p
        sock, self._sock = self._sock, None
        if p.transport in ("tcp", "ws"):
            if sock is not None:
                sock.close()
            step.status, step.timed = "warn", False
            step.detail = f"none: {p.transport}:// is not encrypted, so the password crosses the network readable"
            return
        assert sock is not None
        tlsinfo.preload()
        step.restart_clock()
        try:
            shaken = tlsinfo.handshake(sock, p.hostname, p.timeout)
        except TimeoutError:
            raise _fail(f"the server accepted the connection but did not answer the TLS handshake within "
                        f"{p.timeout:g} s", 5, _tls_hint(p)) from None
        except (ssl_errors() + (OSError,)) as exc:
            raise _fail(f"the TLS handshake failed ({getattr(exc, 'reason', None) or type(exc).__name__})", 5,
                        _tls_hint(p)) from None
        finally:
            sock.close()
        step.detail = f"{shaken.protocol}, {shaken.cipher}"
        step.data = {"protocol": shaken.protocol, "cipher": shaken.cipher}
        cert = shaken.certificate
        if cert is None:
            step.notes.append(shaken.why_no_details or "no certificate details")
            return
        days = cert.days_left()
        now = datetime.now(timezone.utc)
        step.data.update(subject=cert.subject, issuer=cert.issuer, not_before=cert.not_before.isoformat(),
                         not_after=cert.not_after.isoformat(), self_signed=cert.self_signed,
                         names=cert.names, name_matches=cert.matches(p.hostname))
        step.notes.append(f"subject {cert.subject}; issuer {cert.issuer}"
                          + (" (self-signed)" if cert.self_signed else ""))
        verifying = "omero-py does not check certificates, but browsers (wss://) and verifying clients refuse it"
        if cert.not_before > now:
            step.status = "warn"
            step.notes.append(f"NOT YET VALID: valid from {cert.not_before:%Y-%m-%d}; {verifying}")
        elif days < 0:
            step.status = "warn"
            step.notes.append(f"EXPIRED on {cert.not_after:%Y-%m-%d} ({-days:.0f} days ago); {verifying}: ask the "
                              "server's administrator to renew it")
        else:
            if days < EXPIRY_WARNING_DAYS:
                step.status = "warn"
            step.notes.append(f"valid until {cert.not_after:%Y-%m-%d} ({days:.0f} days left)")
        if cert.matches(p.hostname):
            step.notes.append(f"names {p.hostname}")
        else:
            step.status = "warn"
            step.notes.append(f"DOES NOT NAME {p.hostname} (it names: {', '.join(cert.names) or 'nothing'}); "
                              f"{verifying}")

    def _step_router(self, step: Step) -> None:
        loading = time.monotonic()
        import omero.clients  # noqa: F401 - loaded outside the clock: this step times the network

        from .login import dispose, new_client

        step.notes.append(f"omero-py loaded in {(time.monotonic() - loading) * 1000:.0f} ms (not counted)")
        step.restart_clock()
        p = self._p

        def ask() -> float:
            # isort: off
            import omero  # noqa: F401 - before Glacier2 (see classify)
            import Glacier2
            import Ice
            # isort: on

            client = new_client(self._quiet)  # made inside the bounded attempt: abandoned, it is destroyed
            try:
                proxy = client.getCommunicator().getDefaultRouter()
                try:
                    router = Glacier2.RouterPrx.checkedCast(proxy)
                except Ice.ObjectNotExistException:
                    router = None
                if router is None:
                    raise _fail("something answers on this port, but it is not an OMERO (Glacier2) router", 5,
                                _port_hint(p))
                return float(router.getSessionTimeout())
            finally:
                dispose(client, kill=False)

        timeout = self._bounded("the router", ask)
        step.detail = f"OMERO.Glacier2/router answers; sessions idle out after {timeout:g} s by default" \
            if timeout else "OMERO.Glacier2/router answers"

    def _step_version(self, step: Step) -> None:
        from .login import dispose, new_client

        def ask() -> str:
            # isort: off
            import omero  # noqa: F401 - before Glacier2 (see classify)
            import Glacier2
            # isort: on

            client = new_client(self._quiet)
            try:
                try:
                    sf = client.createSession("guest", "guest")
                except Glacier2.PermissionDeniedException:
                    return ""
                return str(sf.getConfigService().getVersion())
            finally:
                dispose(client, kill=True)

        version = self._bounded("the guest session for the version", ask)
        if not version:
            self._version_later = True
            step.status = "skip"
            step.detail = "the server allows no guest session; asked after the login"
            return
        step.detail = f"OMERO {version}"
        step.data = {"version": version}

    def _step_credentials(self, step: Step) -> None:
        from .fetch import fetch_credentials

        p = self._p
        try:
            credentials = fetch_credentials(p)
        except CredentialError as exc:
            raise _fail(str(exc), 4, exc.hint or _source_hint(p)) from None
        except AuthenticationFailed as exc:  # e.g. omero-login with nothing stored
            raise _fail(str(exc), exc.exit_code, exc.hint or f"{PROG} login {p.name}") from None
        self._credentials = credentials
        if credentials.session_key is not None:
            tried = 1 + len(credentials.fallback_session_keys)
            what = f"a session key (not shown){f', and {tried - 1} older to try' if tried > 1 else ''}"
        else:
            what = f"username '{credentials.username}' and a password (not shown)"
        describe = _describe_source(p)
        step.detail = f"source '{p.source}'{f' ({describe})' if describe else ''}: {what}"

    def _step_login(self, step: Step) -> None:
        from .login import dispose, session_for

        p = self._p
        bounded = self._quiet
        last: ProfileError | None = None
        for attempt in self._credentials.attempts():
            try:
                self._session = self._bounded("the login", lambda a=attempt: session_for(bounded, a, group=None),
                                              lambda late: dispose(late.client, kill=not late.joined))
                break
            except AuthenticationFailed as exc:
                last = exc
        if self._session is None:
            assert last is not None
            raise _fail(str(last), last.exit_code, last.hint or _login_hint(p)) from None
        ec = self._event_context()
        self._ec = ec
        how = "joined a stored session" if self._session.joined else "logged in"
        transport = "" if self._session.client.isSecure() or p.transport != "ssl" else \
            "; then switched to plain TCP (secure = false)"
        step.detail = f"{how} as {ec.userName} (id {ec.userId}), group {ec.groupName}{transport}"
        if ec.isAdmin:
            step.notes.append("an administrator")
        if self._version_later:
            version = self._call(lambda sf: sf.getConfigService().getVersion())
            step.notes.append(f"server version: OMERO {version}")

    def _step_group(self, step: Step) -> None:
        p, ec = self._p, self._ec
        group = p.group
        if p.su and group is not None:
            step.status = "skip"
            step.detail = f"{group!r} is the group of '{p.su}', checked in the su step (this login is the admin's)"
            return
        if group is None:
            step.status = "skip"
            whose = "the joined session's" if self._session.joined else "the user's default"
            step.detail = f"the profile sets none: {ec.groupName} ({whose})"
            return
        if group == -1:
            step.detail = "all groups (-1), applied per call"
            return
        admin = lambda sf: sf.getAdminService()  # noqa: E731
        if isinstance(group, str):
            def lookup(sf: Any) -> int | None:
                import omero

                try:
                    return admin(sf).lookupGroup(group).getId().val
                except (omero.ApiUsageException, omero.ValidationException, omero.SecurityViolation):
                    return None
            group_id = self._call(lookup)
            if group_id is None:
                raise _fail(f"group '{group}' does not exist on the server", 7, _group_hint(p))
        else:
            group_id = group
        if group_id not in ec.memberOfGroups and not ec.isAdmin:
            names = self._call(lambda sf: [admin(sf).getGroup(g).getName().val for g in ec.memberOfGroups])
            have = ", ".join(n for n in names if n != "user")
            raise _fail(f"'{ec.userName}' is not a member of group {group!r} (member of: {have})", 7, _group_hint(p))
        step.detail = f"{ec.userName} is a member of {group!r} (id {group_id})"

    def _step_su(self, step: Step) -> None:
        from .login import dispose
        from .su import become

        p = self._p
        if not p.su:
            step.status = "skip"
            step.detail = "the profile acts as its own user"
            return
        bounded = self._quiet
        try:
            session = self._bounded("su", lambda: become(bounded, self._credentials),
                                    lambda late: dispose(late.client, kill=True))
        except AccessDenied as exc:
            raise _fail(str(exc), 7, exc.hint or f"ask an administrator for the Sudo privilege, or check su = "
                                                  f"'{p.su}' ({PROG} show {p.name})") from None
        try:
            ec = self._call(lambda sf: sf.getAdminService().getEventContext(), session.client)
            step.detail = f"{session.su_by} may act as {ec.userName}: a session of {ec.userName} in {ec.groupName}"
        finally:
            dispose(session.client, kill=True)

    def _step_timeouts(self, step: Step) -> None:
        from .render_checks import duration

        p = self._p
        key = self._session.client.getSessionId()
        record = self._call(lambda sf: sf.getSessionService().getSession(key))
        idle = (record.getTimeToIdle().val or 0) / 1000
        live = (record.getTimeToLive().val or 0) / 1000
        step.detail = ", ".join([f"idle timeout {duration(idle)}" if idle else "no idle timeout",
                                 f"lifetime {duration(live)}" if live else "no lifetime cap"])
        step.data = {"time_to_idle_s": idle, "time_to_live_s": live}
        if idle and p.keepalive >= idle:
            step.status = "warn"
            step.notes.append(f"keepalive ({p.keepalive} s) is not shorter than the idle timeout: an idle "
                              f"connection loses its session; set keepalive below {idle:g} s")
        elif idle:
            step.notes.append("keepalive off: an idle connection ends after the idle timeout" if not p.keepalive
                              else f"keepalive every {p.keepalive} s keeps a connection's session alive")

    def _step_stored(self, step: Step) -> None:
        from .status import profile_status

        p = self._p
        if not (p.share_session or p.source in ("omero-login", "user-token")):
            step.status = "skip"
            step.detail = "the profile logs in itself (no stored session is used)"
            return
        found = profile_status(p, offline=False)
        if found.error is not None:
            raise _fail(f"checking a stored session: {found.error}", 5,
                        "the server stopped answering midway: it may be overloaded or restarting; try again later")
        serving = [r for r in found.rows if r.serves]
        alive = [r for r in serving if r.alive]
        step.detail = f"{len(serving)} stored session(s) serve it, {len(alive)} alive"
        step.data = {"sessions": [r.as_json() for r in serving]}
        for row in serving:
            state = "alive" if row.alive else "ended" if row.alive is False else "not checked"
            step.notes.append(f"{row.label} of {row.user or '?'}{f', group {row.group}' if row.group else ''}: "
                              f"{state}; {row.where}")
        if p.share_session and not alive:
            step.notes.append("none alive: the next connect logs in once and stores one for the others")

    # -- helpers -------------------------------------------------------------------------------
    def _call(self, question: Callable[[Any], Any], client: Any = None) -> Any:
        """``question(service_factory)`` on the open session, every call bounded by the profile timeout."""
        from .classify import classify_call

        ms = max(1, int(self._p.timeout * 1000))
        client = client or self._session.client
        try:
            return self._bounded("the server", lambda: question(client.getSession().ice_invocationTimeout(ms)))
        except _Stop:
            raise
        except Exception as exc:
            mapped = classify_call(exc, self._p, user=None, timeout=self._p.timeout)
            if mapped is None:
                raise
            raise mapped from None

    def _event_context(self) -> Any:
        return self._call(lambda sf: sf.getAdminService().getEventContext())

    def _close(self) -> None:
        from .login import dispose

        if self._sock is not None:
            self._sock.close()
        if self._session is not None:
            dispose(self._session.client, kill=not self._session.joined)


def ssl_errors() -> tuple[type[BaseException], ...]:
    import ssl

    return (ssl.SSLError, ssl.CertificateError)


def _show(address: tuple[Any, ...]) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _port_hint(p: Profile) -> str:
    return (f"check the port: OMERO listens on 4064 (ssl://, the default) and 4063 (tcp://); behind a web "
            f"server, use its websocket URL (wss://host/omero-ws). Change it with: {PROG} set {p.name} port PORT")


def _tls_hint(p: Profile) -> str:
    if p.transport == "wss":
        return "check that the URL is the server's secure websocket (wss://host/omero-ws) and its port (443)"
    return ("this port may not speak TLS: OMERO's SSL router is on 4064; for the plain-TCP one (4063) the host "
            f"is tcp://HOST:4063. Change it with: {PROG} set {p.name} port 4064")


def _describe_source(p: Profile) -> str:
    registry = p.registry
    info = registry.sources.get(p.source) if registry is not None else None
    if info is None:
        return ""
    try:
        return str(info.cls().describe(p.credentials))
    except Exception:  # noqa: BLE001 - a description is a courtesy
        return ""


def _source_hint(p: Profile) -> str:
    return {"keyring": f"store the password: {PROG} password set {p.name}",
            "env": "set the variables the profile names (OMERO_USER, OMERO_PASSWORD by default) in this shell",
            "prompt": "run it in a terminal, where the password can be asked",
            "omero-login": f"log in first: {PROG} login {p.name}",
            "user-token": f"write a token: {PROG} login OTHER --user-token"}.get(
        p.source, f"check the '{p.source}' credentials of the profile: {PROG} show {p.name}")


def _login_hint(p: Profile) -> str:
    if p.source in ("omero-login", "session", "user-token"):
        return f"the session has ended: log in again ({PROG} login NAME, or omero login)"
    return {"keyring": f"the password was refused: store the right one with {PROG} password set {p.name}",
            "plain": f"the password was refused: {PROG} set {p.name} credentials.password --ask",
            "env": "the password was refused: check the variable the profile reads (OMERO_PASSWORD by default)"}.get(
        p.source, "check the username and password with whoever runs the server (an account may be locked)")


def _group_hint(p: Profile) -> str:
    return f"choose one of your groups ({PROG} groups {p.name}) and: {PROG} set {p.name} group GROUP"


def _default_hint(step: str, exc: ProfileError, profile: Profile | None) -> str | None:
    """The one thing to try next, for a classified failure whose exception carries no hint."""
    if profile is None:
        return None
    if isinstance(exc, ServerUnreachable):
        if step == "router":
            return _port_hint(profile)
        if step == "login" and not profile.secure:
            return ("the switch to plain TCP after the SSL login may be blocked (port 4063 behind a firewall): "
                    f"try {PROG} set {profile.name} secure true")
        return ("the server stopped answering midway: it may be overloaded or restarting; try again later, or "
                "ask its administrator")
    if isinstance(exc, AuthenticationFailed):
        return _login_hint(profile)
    if isinstance(exc, AccessDenied):
        return _group_hint(profile)
    return None


def run_doctor(resolve: Callable[[], Profile], on_step: OnStep | None = None) -> Report:
    """Run every step; raises DoctorFailed (``exc.report`` the steps so far) at the first failure."""
    doctor = Doctor(resolve, on_step)
    try:
        return doctor.run()
    except DoctorFailed as exc:
        exc.report = doctor.report  # type: ignore[attr-defined]
        raise
