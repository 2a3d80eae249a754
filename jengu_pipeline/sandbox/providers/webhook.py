"""SANDBOX: the Slack-compatible incoming webhook emulator (``/webhook/<token>``): it keeps each alert."""

from __future__ import annotations

from datetime import UTC, datetime

from jengu_pipeline.sandbox.providers.emulator import (
    RETRY,
    Call,
    Provider,
    Reply,
    text_reply,
)
from jengu_pipeline.sandbox.state import SandboxState

WEBHOOK_PREFIX = "/webhook/"


def webhook_post(call: Call, state: SandboxState) -> Reply:
    try:
        payload = call.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or not (payload.get("text") or payload.get("blocks")):
        return text_reply(400, "invalid_payload", outcome="invalid_payload")
    state.add_alert({"received_at": datetime.now(UTC).isoformat(), "payload": payload})
    return text_reply(200, "ok")


WEBHOOK = Provider(
    name="webhook",
    routes={},
    methods=frozenset({"POST"}),
    key_from=lambda call: call.path.removeprefix(WEBHOOK_PREFIX),
    refuse=lambda call, state: text_reply(404, "no_service"),
    forbidden=lambda call, state: text_reply(410, "channel_is_archived"),
    rate_limited=lambda call, state: text_reply(429, "rate_limited", headers=RETRY),
    quota_exceeded=lambda call, state: text_reply(429, "rate_limited", headers=RETRY),
    server_error=lambda call, state: text_reply(500, "internal_error"),
    billed=False,
)
