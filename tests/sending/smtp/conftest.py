"""Fixtures of the outbound-mail tests: a fault-injecting SMTP server on loopback, keys and certificates.

Keys and certificates come from the openssl command (the ``cryptography`` package is not installed); the
tests that need one skip, saying so, where it is missing. ``tests/support`` goes on ``sys.path`` for
``smtp_faults`` because the suite imports test files in importlib mode.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "support"))

from smtp_faults import PASSWORD, USERNAME, FaultySmtpServer, self_signed_certificate

from jengu_pipeline.resources.smtp import SmtpEndpoint
from tests.conftest import missing_service  # skip loudly; a failure under JENGU_REQUIRE_SERVICES=1


@pytest.fixture
def smtp_server() -> Iterator[FaultySmtpServer]:
    with FaultySmtpServer() as server:
        yield server


@pytest.fixture
def endpoint(smtp_server: FaultySmtpServer) -> SmtpEndpoint:
    return SmtpEndpoint(smtp_server.host, smtp_server.port, "none", username=USERNAME, password=PASSWORD, timeout_s=5)


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    made = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    if made is None:
        missing_service("no openssl command to make a test certificate (Debian: apt-get install openssl)")
    return made


@pytest.fixture(scope="session")
def rsa_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    """(private key PEM, public key DER) of a fresh 2048-bit RSA key."""
    openssl = shutil.which("openssl")
    if openssl is None:
        missing_service("no openssl command to make a DKIM key (Debian: apt-get install openssl)")
    path = tmp_path_factory.mktemp("dkim") / "private.pem"
    subprocess.run([openssl, "genrsa", "-out", str(path), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        [openssl, "rsa", "-in", str(path), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return path.read_bytes(), public
