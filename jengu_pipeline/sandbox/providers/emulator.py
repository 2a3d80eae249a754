"""What every SANDBOX emulator is made of: the request it reads (`Call`), the answer it gives (`Reply`), and
the `Provider` record of its routes, key check and renderings of each injected failure; plus the keys the
sandbox expects of each provider.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sized
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from jengu_pipeline.sandbox.state import SandboxState

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
RETRY_AFTER_S = 1

SANDBOX_KEYS = {
    "brave": "sandbox-brave-key",
    "google_cse": "sandbox-google-cse-key",
    "millionverifier": "sandbox-millionverifier-key",
    "openai": "sandbox-llm-key",
    "anthropic": "sandbox-anthropic-key",
    "hunter": "sandbox-hunter-key",
    "webhook": "sandbox-webhook-token",
}

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Call:
    """One HTTP request, already read: what a provider handler sees."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""

    @property
    def host(self) -> str:
        return self.headers.get("host", "").split(":")[0].lower()

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode("utf-8", "replace"), keep_blank_values=True))


@dataclass(frozen=True)
class Reply:
    """One HTTP answer plus what the stats should record about it."""

    status: int
    body: bytes
    content_type: str = JSON
    headers: Headers = ()
    outcome: str = "ok"
    paid: bool = False


def json_reply(status: int, data: Any, *, outcome: str = "ok", paid: bool = False, headers: Headers = ()) -> Reply:
    body = json.dumps(data, ensure_ascii=False).encode()
    return Reply(status, body, JSON, headers, outcome, paid)


def text_reply(
    status: int, text: str, content_type: str = TEXT, *, outcome: str = "ok", headers: Headers = ()
) -> Reply:
    return Reply(status, text.encode(), content_type, headers, outcome)


RETRY: Headers = (("retry-after", str(RETRY_AFTER_S)),)

Handler = Callable[[Call, SandboxState], Reply]
Renderer = Handler  # an injected failure, rendered in the provider's own shape
LimitHeaders = Callable[[SandboxState, str], Headers]


@dataclass(frozen=True)
class Provider:
    """A provider's routes, key check and its own rendering of each injected failure.

    ``refuse`` answers a wrong or missing key (for a keyless provider: any refusal);
    ``forbidden``, when the provider documents a distinct answer, the ``forbidden`` fault.
    A provider that is not ``billed`` spends its quota on every answer instead of paid ones.
    """

    name: str
    routes: dict[str, Handler]
    methods: frozenset[str]
    refuse: Renderer
    rate_limited: Renderer
    quota_exceeded: Renderer
    server_error: Renderer
    forbidden: Renderer | None = None
    key_from: Callable[[Call], str | None] | None = None
    limit_headers: LimitHeaders | None = None
    billed: bool = True

    @property
    def expected_key(self) -> str | None:
        return SANDBOX_KEYS.get(self.name)

    def authorized(self, call: Call) -> bool:
        return self.key_from is None or self.key_from(call) == self.expected_key


def query_int(value: str | None, default: int) -> int | None:
    """A query integer, the default when absent, None when not a number."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return None


def found_outcome(items: Sized) -> str:
    """The outcome the stats record for a search: ``ok``, or ``no_results`` when nothing was found."""
    return "ok" if items else "no_results"
