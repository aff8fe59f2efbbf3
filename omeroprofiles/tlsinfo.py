"""A TLS handshake with a server and the facts of its certificate, for ``doctor``.

omero-py does not verify server certificates (``IceSSL.VerifyPeer=0``), so the handshake here
does not either: it reports what a verifying client (a browser on ``wss://``, a client that
turns verification on) would object to, and what the certificate is: protocol and cipher,
subject, issuer, validity, self-signed or not, and whether it names the host. The details need
the ``cryptography`` package (on Linux ``keyring`` brings it); without it only the protocol and
cipher are known. No omero import here.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone


@dataclass
class Certificate:
    subject: str
    issuer: str
    not_before: datetime
    not_after: datetime
    names: list[str] = field(default_factory=list)
    """DNS names and IP addresses of subjectAltName (or the CN when there is none)."""

    @property
    def self_signed(self) -> bool:
        return self.subject == self.issuer

    def days_left(self, now: datetime | None = None) -> float:
        return (self.not_after - (now or datetime.now(timezone.utc))).total_seconds() / 86400

    def matches(self, host: str) -> bool:
        """Does the certificate name ``host`` (RFC 6125: one leading wildcard label; IPs exactly)?"""
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        for name in self.names:
            if address is not None:
                try:
                    if ipaddress.ip_address(name) == address:
                        return True
                except ValueError:
                    continue
            elif _dns_match(name, host):
                return True
        return False


def _dns_match(pattern: str, host: str) -> bool:
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host


@dataclass
class Handshake:
    protocol: str
    cipher: str
    certificate: Certificate | None
    why_no_details: str | None = None


def handshake(sock: socket.socket, host: str, timeout: float) -> Handshake:
    """TLS over the connected ``sock`` (closed afterwards); raises ``ssl.SSLError``/``OSError`` on failure."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # as omero-py: we report what is wrong, we do not refuse
    sock.settimeout(timeout)
    server_name = None if _is_ip(host) else host
    with context.wrap_socket(sock, server_hostname=server_name) as tls:
        protocol = tls.version() or "?"
        cipher = (tls.cipher() or ("?",))[0]
        der = tls.getpeercert(binary_form=True)
    if der is None:
        return Handshake(protocol, cipher, None, "the server sent no certificate")
    try:
        return Handshake(protocol, cipher, parse(der))
    except ImportError:
        return Handshake(protocol, cipher, None, "install the 'cryptography' package to see the certificate")


def preload() -> None:
    """Import what ``parse`` needs, so that timing a handshake does not time an import."""
    try:
        from cryptography import x509  # noqa: F401
    except ImportError:
        pass


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def parse(der: bytes) -> Certificate:
    """The facts of a DER certificate (needs ``cryptography``)."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID, NameOID

    cert = x509.load_der_x509_certificate(der)
    try:
        alt = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
        names = [*alt.get_values_for_type(x509.DNSName), *map(str, alt.get_values_for_type(x509.IPAddress))]
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return Certificate(cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), _utc(cert, "not_valid_before"),
                       _utc(cert, "not_valid_after"), names)


def _utc(cert, name: str) -> datetime:
    """``not_valid_before_utc`` (cryptography >= 42), else the naive UTC value made aware."""
    value = getattr(cert, f"{name}_utc", None)
    return value if value is not None else getattr(cert, name).replace(tzinfo=timezone.utc)
