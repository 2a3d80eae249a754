"""SANDBOX: what both LLM emulators read from a chat request, and the requests both endpoints reject."""

from __future__ import annotations

from typing import Any

from jengu_pipeline.sandbox.providers.emulator import (
    Call,
)


def text_of(content: Any) -> str:
    """Message content as text: a string, or the text parts of a content-block list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


class InvalidRequest(Exception):
    """An LLM request the real endpoints reject: 400, or 404 for an unknown model."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def read_chat_request(call: Call, models: tuple[str, ...]) -> tuple[dict[str, Any], str]:
    """The parsed body and the whole prompt text (system + every message)."""
    try:
        data = call.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise InvalidRequest(400, "We could not parse the JSON body of your request.")
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise InvalidRequest(400, "'messages' is a required property and must be a non-empty array of objects.")
    if data.get("model") not in models:
        raise InvalidRequest(404, f"The model `{data.get('model')}` does not exist or you do not have access to it.")
    system = text_of(data.get("system", ""))
    prompt = "\n".join([system, *(text_of(m.get("content")) for m in messages)])
    return data, prompt
