"""The RFC 8058 one-click unsubscribe receiver: the URL every message's ``List-Unsubscribe`` header points at.

Two ways in, one rule: only a genuine signed token (``?t=``) can change anything.

- ``POST`` with the form field ``List-Unsubscribe=One-Click`` is the mailbox provider's one-click request. It
  carries no cookie and no CSRF value by design (RFC 8058 forbids context); the signed token is its
  authorisation. It suppresses at once and answers 200, again and again (idempotent).
- ``GET`` is what a person (or a mail scanner prefetching links) gets: a small page with a button, and it
  NEVER unsubscribes by itself. The button POSTs a form carrying a CSRF value bound to the token and to that
  page's nonce; a form without a valid one is refused.

Everything from outside is hostile: the body is read up to a small limit, only the two form encodings are
parsed, every value shown is escaped (Jinja2 autoescaping), every response carries strict security headers,
and a bad token gets a 4xx before the store is touched. Tokens are never logged (no access log: the query
string is an authorisation).
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import datetime
from typing import Any, Final

from jinja2 import DictLoader, Environment, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jengu_pipeline.clock import now as product_now
from jengu_pipeline.domain.unsubscribe import TOKEN_PARAMETER, TokenSigner
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore
from jengu_pipeline.store.suppressions import UnsubscribeMethod, unsubscribe_send

log = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 4096
"""A one-click body is 26 bytes, a multipart one a few hundred; nothing legitimate comes near this."""
ONE_CLICK: Final = ("List-Unsubscribe", "One-Click")
FORM_TYPES: Final = ("application/x-www-form-urlencoded", "multipart/form-data")

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}"
    "button{font-size:1rem;padding:.6rem 1.2rem}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
SECURITY_HEADERS: Final = (
    (
        b"content-security-policy",
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'".encode(),
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),  # the URL holds the token: never hand it to another site
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"strict-transport-security", b"max-age=31536000"),
    (b"x-robots-tag", b"noindex, nofollow"),
)

_PAGES = Environment(
    loader=DictLoader(
        {
            "page.html": (
                '<!doctype html><html lang="en"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                "<title>{{ title }}</title><style>{{ style }}</style></head><body><h1>{{ title }}</h1>"
                "<p>{{ text }}</p>{% if form %}"
                '<form method="post" action="?{{ form.query }}">'
                '<input type="hidden" name="nonce" value="{{ form.nonce }}">'
                '<input type="hidden" name="csrf" value="{{ form.csrf }}">'
                '<button type="submit">Unsubscribe</button></form>{% endif %}</body></html>'
            ),
        }
    ),
    autoescape=select_autoescape(default=True),
)


class SecurityHeaders:
    """Adds the security headers to every HTTP response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(Exception):
    pass


def _page(title: str, text: str, status: int, form: dict[str, str] | None = None) -> HTMLResponse:
    html = _PAGES.get_template("page.html").render(title=title, text=text, style=_STYLE, form=form)
    return HTMLResponse(html, status_code=status)


def _masked(email: str) -> str:
    """``a***@hotel.test``: enough for the person to recognise, little for anyone who got the link forwarded."""
    local, _, domain = email.rpartition("@")
    return f"{local[:1]}***@{domain}" if local else "your address"


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def _form(headers: Headers, body: bytes) -> dict[str, list[str]] | None:
    """The submitted fields of a form-encoded or multipart body; None for another type or a broken body."""

    async def stream() -> AsyncGenerator[bytes]:
        yield body

    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    try:
        if content_type == FORM_TYPES[0]:
            form = await FormParser(headers, stream()).parse()
        elif content_type == FORM_TYPES[1]:
            form = await MultiPartParser(
                headers, stream(), max_files=0, max_fields=10, max_part_size=MAX_BODY_BYTES
            ).parse()
        else:
            return None
    except (MultiPartException, ValueError, UnicodeDecodeError):
        return None
    fields: dict[str, list[str]] = {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
    return fields


def create_app(
    store: CrmStore,
    secret: str | None,
    *,
    previous_secrets: Sequence[str] = (),
    path: str = "/u",
    clock: Callable[[], datetime] = product_now,
) -> ASGIApp:
    """The receiver for tokens signed with ``secret``; raises UnsubscribeSecretError when it is unusable."""
    signer = TokenSigner(secret, previous_secrets)

    def token_of(request: Request) -> tuple[str, str] | None:
        values = request.query_params.getlist(TOKEN_PARAMETER)
        send_id = signer.send_id(values[0]) if len(values) == 1 else None
        return (values[0], send_id) if send_id else None

    def recipient(send_id: str) -> tuple[str, bool] | None:
        def read(tx: Tx) -> tuple[str, bool] | None:
            row = tx.fetch_one("SELECT recipient FROM sends WHERE send_id = ?", [send_id])
            if row is None:
                return None
            done = tx.fetch_value(
                "SELECT count(*) FROM suppressions WHERE email = lower(?) AND reason = 'unsubscribe'", [row[0]]
            )
            return str(row[0]), bool(done)

        return store.engine.run(read, read_only=True)

    def unsubscribe(send_id: str, method: UnsubscribeMethod) -> bool:
        done = store.run(lambda tx: unsubscribe_send(tx, send_id, method, clock()))
        log.info(
            "unsubscribe %s for send %s: %s",
            method,
            send_id,
            "unknown send" if done is None else "suppressed" if done.new else "already suppressed",
        )
        return done is not None

    async def confirm_page(request: Request) -> Response:
        found = token_of(request)
        if found is None:
            return _page(
                "Link not valid",
                'This unsubscribe link is not valid. Reply to the email with "unsubscribe" and we will remove you.',
                400,
            )
        token, send_id = found
        known = await run_in_threadpool(recipient, send_id)
        if known is None:
            return _page("Link not found", "We cannot find the email this link came from.", 404)
        email, done = known
        if done:
            return _page("Unsubscribed", f"{_masked(email)} is unsubscribed: we will not write again.", 200)
        nonce = signer.new_nonce(clock())
        form = {"query": f"{TOKEN_PARAMETER}={token}", "nonce": nonce, "csrf": signer.csrf(token, nonce)}
        return _page("Unsubscribe?", f"Stop all further emails from us to {_masked(email)}?", 200, form)

    async def receive_post(request: Request) -> Response:  # noqa: PLR0911 - one answer per refusal
        found = token_of(request)
        if found is None:
            return PlainTextResponse("invalid unsubscribe token\n", status_code=400)
        token, send_id = found
        try:
            fields = await _form(request.headers, await _body(request))
        except BodyTooLarge:
            return PlainTextResponse("request body too large\n", status_code=413)
        if fields is None:
            return PlainTextResponse("expected a form body (List-Unsubscribe=One-Click)\n", status_code=415)
        method: UnsubscribeMethod
        if fields.get(ONE_CLICK[0]) == [ONE_CLICK[1]]:
            method = "one_click"
        elif signer.csrf_valid(token, _one(fields, "nonce"), _one(fields, "csrf"), clock()):
            method = "confirm_page"
        else:
            return PlainTextResponse("not a one-click request, and no valid confirmation form\n", status_code=403)
        if not await run_in_threadpool(unsubscribe, send_id, method):
            return PlainTextResponse("unknown send\n", status_code=404)
        if method == "one_click":
            return PlainTextResponse("unsubscribed\n")
        return _page("Unsubscribed", "You are unsubscribed: we will not write again.", 200)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    app = Starlette(
        routes=[
            Route(path, confirm_page, methods=["GET"]),
            Route(path, receive_post, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )
    return SecurityHeaders(app)


def _one(fields: dict[str, list[str]], name: str) -> Any:
    values = fields.get(name, [])
    return values[0] if len(values) == 1 else None
