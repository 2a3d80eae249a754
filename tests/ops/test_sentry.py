"""Sentry's scrubber as a pure function, and a real event sent to a loopback Sentry endpoint without a secret."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.instance import PROJECT_ROOT
from jengu_pipeline.observability.sentry import REDACTED, before_send, init_sentry, scrub, secret_values

ENV = {
    "JENGU_BRAVE_API_KEY": "brv-0123456789abcdef",
    "NORDLYS_SMTP_PASSWORD": "hunter2-smtp-pass",
    "JENGU_UNSUBSCRIBE_SECRET": "unsub-secret-value-42",
    "JENGU_ALERT_WEBHOOK_URL": "https://hooks.slack.test/services/T0/B0/XyZsecret",
    "JENGU_DATABASE_URL": "postgresql://jengu:pg-pass-9876@db.internal:5432/crm",
    "SOME_TOKEN": "tok",  # too short to be a secret worth shredding texts for
    "JENGU_HOME": "/srv/jengu",
    "INBOX_DKIM_KEY": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
}


def test_secret_values_come_from_secret_names_and_url_credentials() -> None:
    found = set(secret_values(ENV))
    assert {
        "brv-0123456789abcdef",
        "hunter2-smtp-pass",
        "unsub-secret-value-42",
        "https://hooks.slack.test/services/T0/B0/XyZsecret",
        "pg-pass-9876",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    } <= found
    assert "/srv/jengu" not in found
    assert "tok" not in found
    assert "postgresql://jengu:pg-pass-9876@db.internal:5432/crm" not in found  # only its password is secret


def test_before_send_scrubs_every_place_of_an_event() -> None:
    event = {
        "message": "login failed with hunter2-smtp-pass",
        "exception": {
            "values": [
                {
                    "type": "OperationalError",
                    "value": "could not connect to postgresql://jengu:pg-pass-9876@db.internal/crm",
                }
            ]
        },
        "breadcrumbs": {"values": [{"message": "GET https://api.test/?key=brv-0123456789abcdef"}]},
        "extra": {
            "password": "whatever-it-is",
            "nested": [("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", 3)],
            "url": "redis://user:other-pass@cache.test/0",
            "count": 5,
        },
    }
    cleaned = before_send(event, {}, ENV)
    text = repr(cleaned)
    for secret in (
        "hunter2-smtp-pass",
        "pg-pass-9876",
        "brv-0123456789abcdef",
        "whatever-it-is",
        "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        "other-pass",
    ):
        assert secret not in text
    assert cleaned["exception"]["values"][0]["value"] == (
        f"could not connect to postgresql://jengu:{REDACTED}@db.internal/crm"
    )
    assert cleaned["extra"]["count"] == 5
    assert cleaned["extra"]["nested"] == [(REDACTED, 3)]
    assert event["message"] == "login failed with hunter2-smtp-pass"  # the input is not modified


SEPARATORS = st.text(alphabet=" .,;!?\n\t()[]", max_size=30)
"""Text around a secret that cannot itself spell one (every secret here has letters or digits)."""


@given(SEPARATORS, SEPARATORS, st.sampled_from(sorted(secret_values(ENV))))
def test_no_secret_survives_anywhere_in_any_text(before: str, after: str, secret: str) -> None:
    event = {"message": before + secret + after, "extra": {"list": [before, secret, after], "n": (secret,)}}
    cleaned = scrub(event, secret_values(ENV))
    assert secret not in repr(cleaned)
    assert cleaned["message"].startswith(before)


def test_without_a_dsn_nothing_starts() -> None:
    assert init_sentry({"JENGU_HOME": "/x"}) is False


class _Sentry(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        elif encoding == "br":
            import brotli

            raw = brotli.decompress(raw)
        type(self).bodies.append(raw)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def sentry_endpoint() -> Iterator[tuple[str, list[bytes]]]:
    _Sentry.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sentry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://publickey@127.0.0.1:{server.server_address[1]}/1", _Sentry.bodies
    finally:
        server.shutdown()
        server.server_close()


REPORTER = """
import sentry_sdk
from jengu_pipeline.observability.sentry import init_sentry
assert init_sentry()
try:
    raise RuntimeError("SMTP AUTH failed for password hunter2-smtp-pass via postgresql://jengu:pg-pass-9876@db/crm")
except RuntimeError:
    sentry_sdk.capture_exception()
sentry_sdk.flush(10)
"""


def test_a_real_event_reaches_sentry_without_its_secrets(sentry_endpoint: tuple[str, list[bytes]]) -> None:
    dsn, bodies = sentry_endpoint
    env = {**os.environ, **ENV, "JENGU_SENTRY_DSN": dsn}
    done = subprocess.run(
        [sys.executable, "-c", REPORTER],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    sent = b"".join(bodies).decode("utf-8", "replace")
    assert "SMTP AUTH failed for password" in sent  # the event did arrive
    assert "hunter2-smtp-pass" not in sent
    assert "pg-pass-9876" not in sent
    assert REDACTED in sent
