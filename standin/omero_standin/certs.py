"""Where the stand-in server's TLS certificate and key are.

TEST ONLY. ``testonly-localhost.pem`` holds a self-signed RSA-2048 certificate for
CN=localhost / IP 127.0.0.1, valid for 100 years, and its private key, shipped so that no
``openssl`` is needed at run time. The private key is public (it is in this package), so it
secures nothing: the omero-py client does not verify server certificates by default
(``IceSSL.VerifyPeer=0``), and a certificate is needed only because the client no longer
offers anonymous-DH ciphers. ``write_certificate`` makes another (expired, for another name)
for a server started with ``--cert``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

#: PEM file with the certificate followed by its private key (IceSSL.CertFile takes both).
CERT_FILE = Path(__file__).with_name("testonly-localhost.pem")


def write_certificate(path: str | Path, *, common_name: str = "localhost", names: tuple[str, ...] = ("localhost",),
                      addresses: tuple[str, ...] = ("127.0.0.1",), not_before: datetime | None = None,
                      not_after: datetime | None = None) -> Path:
    """Write a self-signed certificate and its key (one PEM file, as ``--cert`` takes) and return the path.

    For tests of what a client sees of a server's certificate: pass ``not_after`` in the past
    for an expired one, other ``names``/``addresses`` for one that does not match the host.
    Needs the ``cryptography`` package (imported here only).
    """
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    now = datetime.now(timezone.utc)
    not_before = not_before or now - timedelta(days=1)
    not_after = not_after or now + timedelta(days=365)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    alt = [x509.DNSName(n) for n in names] + [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(not_before)
               .not_valid_after(not_after))
    if alt:
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    path = Path(path)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
    return path
