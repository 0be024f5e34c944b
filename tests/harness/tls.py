"""A private certificate authority for HTTPS servers on loopback (``trustme``).

``tls_ca`` (session fixture) is a fresh self-signed CA: ``tls_ca.pem`` is its
certificate as a PEM file a client can be told to trust, ``tls_ca.server_context()``
an ``ssl.SSLContext`` holding a certificate it issued for 127.0.0.1 and
localhost. ``serve_tls(server, ctx)`` turns a ``socketserver`` HTTP server into an
HTTPS one (the handshake happens on accept; a client that rejects the certificate
never gets a request through).
"""

from __future__ import annotations

import socketserver
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme


@dataclass
class PrivateCA:
    ca: trustme.CA
    pem: Path  # the CA certificate a client trusts

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
        return ctx


def serve_tls(server: socketserver.TCPServer, ctx: ssl.SSLContext) -> None:
    server.socket = ctx.wrap_socket(server.socket, server_side=True)


def make_ca(folder: Path) -> PrivateCA:
    ca = trustme.CA()
    pem = folder / "eafix-test-ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    return PrivateCA(ca, pem)


@pytest.fixture(scope="session")
def tls_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateCA]:
    yield make_ca(tmp_path_factory.mktemp("ca"))
