"""The sandbox's one HTTP server: every provider's API, the hotels' websites and the control routes.

A plain ASGI app (no framework routing: it must serve thousands of requests a second on a
small machine) run by uvicorn with httptools. Layout, all on one loopback port:

==============================  =====================================================
``/res/v1/web/search``          Brave Search (``X-Subscription-Token``)
``/customsearch/v1``            Google Programmable Search (``key``, ``cx``)
``/html/``                      DuckDuckGo HTML (no key; GET ``q`` or POST form)
``/search?format=json``         SearXNG (no key)
``/api/v3/``                    MillionVerifier (``api``)
``/v1/chat/completions``        OpenAI-compatible chat (``Authorization: Bearer``)
``/v1/messages``                Anthropic Messages (``x-api-key``, ``anthropic-version``)
``/v2/domain-search``           Hunter domain search (``api_key``)
``/v2/email-finder``            Hunter email finder (``api_key``)
``/webhook/<token>``            Slack-compatible alert webhook; alerts are recorded
``/site/<host>/<path>``         a website from the world (hotel, aggregator, parked page);
                                also served for any request whose ``Host`` is that site,
                                so the sandbox works as a plain-HTTP proxy for them
``/_sandbox/stats``             GET: calls per provider and outcome, paid calls, quota use
``/_sandbox/config``            GET the faults; POST ``{"brave": {"daily_quota": 5}}`` to change them
``/_sandbox/alerts``            GET the alerts the webhook received
``/_sandbox/reset``             POST: forget counters, quota use and alerts (``?faults=1``: faults too)
==============================  =====================================================
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl

from jengu_pipeline.sandbox.providers import ALL_PROVIDERS
from jengu_pipeline.sandbox.providers.emulator import Call, Handler, Provider, Reply, json_reply, text_reply
from jengu_pipeline.sandbox.providers.site import SITE, SITE_PREFIX, site_page
from jengu_pipeline.sandbox.providers.webhook import WEBHOOK, WEBHOOK_PREFIX, webhook_post
from jengu_pipeline.sandbox.state import SandboxState

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def _read_call(scope: Scope, receive: Receive) -> Call:
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    return Call(scope["method"], scope["path"], query, headers, body)


def malformed(reply: Reply) -> Reply:
    """What a flaky proxy or a half-written answer looks like: the body cut in half, status 200 kept."""
    return replace(reply, body=reply.body[: len(reply.body) // 2], outcome="malformed")


class SandboxApp:
    """ASGI app routing each request to a provider through the one fault-injection wrapper."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self._routes: dict[str, tuple[Provider, Handler]] = {
            path: (provider, handler) for provider in ALL_PROVIDERS for path, handler in provider.routes.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        reply = await self._dispatch(await _read_call(scope, receive))
        headers = [
            (b"content-type", reply.content_type.encode()),
            (b"content-length", str(len(reply.body)).encode()),
            (b"x-jengu-sandbox", b"1"),
            *((name.encode(), value.encode()) for name, value in reply.headers),
        ]
        await send({"type": "http.response.start", "status": reply.status, "headers": headers})
        await send({"type": "http.response.body", "body": reply.body})

    async def _dispatch(self, call: Call) -> Reply:
        path = call.path
        if self.state.sites.serves(call.host):
            return await self.serve(SITE, site_page, replace(call, path=f"{SITE_PREFIX}{call.host}{path}"))
        route = self._routes.get(path)
        if route is not None:
            return await self.serve(*route, call)
        if path.startswith(SITE_PREFIX):
            return await self.serve(SITE, site_page, call)
        if path.startswith(WEBHOOK_PREFIX):
            return await self.serve(WEBHOOK, webhook_post, call)
        if path.startswith("/_sandbox/"):
            return self._control(call)
        return text_reply(404, "Not Found (Jengu SANDBOX)", outcome="not_found")

    async def serve(self, provider: Provider, handler: Handler, call: Call) -> Reply:
        """Answer one call as the provider would, injecting the configured faults in a fixed order.

        Order: latency, key check, ``forbidden``, per-second rate limit (429 + Retry-After),
        random 5xx, daily quota, then the real answer, possibly malformed. Quota is spent by
        paid answers, as the real providers bill, and by every answer of a free provider.
        """
        state = self.state
        faults = state.faults[provider.name]
        if call.method not in provider.methods:
            return text_reply(405, "Method Not Allowed", outcome="method_not_allowed")
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if not provider.authorized(call):
            reply = replace(provider.refuse(call, state), outcome="unauthorized")
        elif faults.forbidden:
            reply = replace((provider.forbidden or provider.refuse)(call, state), outcome="forbidden")
        elif state.throttled(provider.name):
            reply = replace(provider.rate_limited(call, state), outcome="rate_limited")
        elif state.chance(faults.error_rate):
            reply = replace(provider.server_error(call, state), outcome="server_error")
        elif state.remaining(provider.name) == 0:
            reply = replace(provider.quota_exceeded(call, state), outcome="quota_exceeded")
        else:
            reply = handler(call, state)
            if reply.status < 300 and state.chance(faults.malformed_rate):
                reply = malformed(reply)
        free_answer = not provider.billed and reply.status < 400
        state.record(provider.name, reply.outcome, paid=reply.paid, quota_use=reply.paid or free_answer)
        if provider.limit_headers is not None:
            reply = replace(reply, headers=reply.headers + provider.limit_headers(state, provider.name))
        return reply

    def _control(self, call: Call) -> Reply:
        """The ``/_sandbox/*`` routes tests and tools use to watch and steer the sandbox."""
        state = self.state
        action = f"{call.method} {call.path.rstrip('/')}"
        if action == "POST /_sandbox/config":
            try:
                options = call.json()
                if not isinstance(options, dict):
                    raise ValueError("the body must be a JSON object")
                state.configure(options)
            except ValueError as error:
                return json_reply(400, {"error": str(error)})
        elif action == "POST /_sandbox/reset":
            state.reset(faults=call.query.get("faults") == "1")
        views: dict[str, Callable[[], Any]] = {
            "GET /_sandbox/stats": state.stats,
            "POST /_sandbox/reset": state.stats,
            "GET /_sandbox/alerts": state.alerts,
            "GET /_sandbox/config": state.config,
            "POST /_sandbox/config": state.config,
        }
        view = views.get(action)
        if view is None:
            return json_reply(404, {"error": "unknown sandbox control route", "routes": sorted(views)})
        return json_reply(200, view())
