"""SANDBOX: the Anthropic Messages emulator (``/v1/messages``)."""

from __future__ import annotations

import uuid

from jengu_pipeline.sandbox.providers.chat_request import InvalidRequest, read_chat_request
from jengu_pipeline.sandbox.providers.emulator import (
    RETRY,
    Call,
    Headers,
    Provider,
    Reply,
    json_reply,
)
from jengu_pipeline.sandbox.state import SandboxState

ANTHROPIC_MODELS = ("sandbox-claude", "claude-haiku-4-5")


def _anthropic_error(status: int, kind: str, message: str, headers: Headers = ()) -> Reply:
    body = {"type": "error", "error": {"type": kind, "message": message}, "request_id": f"req_{uuid.uuid4().hex[:24]}"}
    return json_reply(status, body, headers=headers)


def anthropic_messages(call: Call, state: SandboxState) -> Reply:
    if not call.headers.get("anthropic-version"):
        return _anthropic_error(400, "invalid_request_error", "anthropic-version: header is required")
    try:
        data, prompt = read_chat_request(call, ANTHROPIC_MODELS)
    except InvalidRequest as bad:
        kind = "not_found_error" if bad.status == 404 else "invalid_request_error"
        return _anthropic_error(bad.status, kind, bad.message)
    max_tokens = data.get("max_tokens")
    if not isinstance(max_tokens, int) or max_tokens < 1:
        return _anthropic_error(400, "invalid_request_error", "max_tokens: Field required")
    draft = state.writer.compose(prompt, max_tokens=max_tokens, as_json="json" in prompt.lower())
    body = {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": data["model"],
        "content": [{"type": "text", "text": draft.text}],
        "stop_reason": "max_tokens" if draft.truncated else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": draft.prompt_tokens, "output_tokens": draft.completion_tokens},
    }
    return json_reply(200, body, outcome="max_tokens" if draft.truncated else "ok", paid=True)


ANTHROPIC = Provider(
    name="anthropic",
    routes={"/v1/messages": anthropic_messages},
    methods=frozenset({"POST"}),
    key_from=lambda call: call.headers.get("x-api-key"),
    refuse=lambda call, state: _anthropic_error(401, "authentication_error", "invalid x-api-key"),
    forbidden=lambda call, state: _anthropic_error(
        403, "permission_error", "Your API key does not have permission to use the specified resource."
    ),
    rate_limited=lambda call, state: _anthropic_error(
        429, "rate_limit_error", "Number of requests has exceeded your rate limit.", RETRY
    ),
    quota_exceeded=lambda call, state: _anthropic_error(
        400,
        "invalid_request_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade.",
    ),
    server_error=lambda call, state: _anthropic_error(529, "overloaded_error", "Overloaded"),
)
