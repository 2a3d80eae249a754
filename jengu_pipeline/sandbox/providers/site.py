"""SANDBOX: hotel websites, aggregators and parked pages (``/site/<host>/<path>``), as the sandbox's web serves them."""

from __future__ import annotations

from jengu_pipeline.sandbox.providers.emulator import (
    HTML,
    RETRY,
    Call,
    Headers,
    Provider,
    Reply,
    text_reply,
)
from jengu_pipeline.sandbox.state import SandboxState

SITE_PREFIX = "/site/"


def _html_status(status: int, reason: str, headers: Headers = (), outcome: str = "ok") -> Reply:
    body = f"<html><body><h1>{status} {reason}</h1></body></html>"
    return text_reply(status, body, HTML, headers=headers, outcome=outcome)


def site_page(call: Call, state: SandboxState) -> Reply:
    host, _, path = call.path.removeprefix(SITE_PREFIX).partition("/")
    page = state.sites.page(host, path)
    if page is None:
        return _html_status(404, "Not Found", outcome="not_found")
    return Reply(200, page, HTML)


SITE = Provider(
    name="site",
    routes={},
    methods=frozenset({"GET", "HEAD"}),
    refuse=lambda call, state: _html_status(403, "Forbidden"),
    rate_limited=lambda call, state: _html_status(429, "Too Many Requests", RETRY),
    quota_exceeded=lambda call, state: _html_status(429, "Too Many Requests", RETRY),
    server_error=lambda call, state: _html_status(503, "Service Unavailable"),
    billed=False,
)
