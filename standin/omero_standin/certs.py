"""Where the stand-in server's TLS certificate and key are.

TEST ONLY. ``testonly-localhost.pem`` holds a self-signed RSA-2048 certificate for
CN=localhost / IP 127.0.0.1, valid for 100 years, and its private key, shipped so that no
``openssl`` is needed at run time. The private key is public (it is in this package), so it
secures nothing: the omero-py client does not verify server certificates by default
(``IceSSL.VerifyPeer=0``), and a certificate is needed only because the client no longer
offers anonymous-DH ciphers.
"""

from __future__ import annotations

from pathlib import Path

#: PEM file with the certificate followed by its private key (IceSSL.CertFile takes both).
CERT_FILE = Path(__file__).with_name("testonly-localhost.pem")
