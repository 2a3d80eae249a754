"""SANDBOX: the OpenAI-compatible chat completions emulator (``/v1/chat/completions``), which xAI and
local servers speak too.
"""

from __future__ import annotations

import time
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

OPENAI_MODELS = ("sandbox-llm", "grok-4-fast", "gpt-4o-mini")


def _openai_error(status: int, message: str, kind: str, code: str | None, headers: Headers = ()) -> Reply:
    error = {"message": message, "type": kind, "param": None, "code": code}
    return json_reply(status, {"error": error}, headers=headers)


def openai_chat(call: Call, state: SandboxState) -> Reply:
    try:
        data, prompt = read_chat_request(call, OPENAI_MODELS)
    except InvalidRequest as bad:
        code = "model_not_found" if bad.status == 404 else None
        return _openai_error(bad.status, bad.message, "invalid_request_error", code)
    max_tokens = data.get("max_completion_tokens") or data.get("max_tokens") or 1024
    as_json = (data.get("response_format") or {}).get("type") == "json_object"
    draft = state.writer.compose(prompt, max_tokens=int(max_tokens), as_json=as_json)
    body = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": data["model"],
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": draft.text},
                "finish_reason": "length" if draft.truncated else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": draft.prompt_tokens,
            "completion_tokens": draft.completion_tokens,
            "total_tokens": draft.prompt_tokens + draft.completion_tokens,
        },
    }
    return json_reply(200, body, outcome="length" if draft.truncated else "ok", paid=True)


def _openai_limits(state: SandboxState, name: str) -> Headers:
    per_second = state.faults[name].rate_limit_per_s or 1000
    left = state.remaining(name)
    remaining = str(per_second * 60 - 1 if left is None else left)
    return (
        ("x-ratelimit-limit-requests", str(per_second * 60)),
        ("x-ratelimit-remaining-requests", remaining),
        ("x-ratelimit-reset-requests", "1s"),
        ("x-ratelimit-limit-tokens", "2000000"),
        ("x-ratelimit-remaining-tokens", "1999000"),
        ("x-ratelimit-reset-tokens", "1s"),
    )


OPENAI = Provider(
    name="openai",
    routes={"/v1/chat/completions": openai_chat},
    methods=frozenset({"POST"}),
    key_from=lambda call: call.headers.get("authorization", "").removeprefix("Bearer ").strip() or None,
    refuse=lambda call, state: _openai_error(
        401,
        "Incorrect API key provided. You can find your API key in your account settings.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    forbidden=lambda call, state: _openai_error(
        403, "Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory"
    ),
    rate_limited=lambda call, state: _openai_error(
        429, "Rate limit reached for requests. Please try again in 1s.", "requests", "rate_limit_exceeded", RETRY
    ),
    quota_exceeded=lambda call, state: _openai_error(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        "insufficient_quota",
        "insufficient_quota",
    ),
    server_error=lambda call, state: _openai_error(
        503, "The server is overloaded or not ready yet.", "server_error", None
    ),
    limit_headers=_openai_limits,
)
