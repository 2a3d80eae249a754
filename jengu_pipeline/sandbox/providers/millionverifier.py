"""SANDBOX: the MillionVerifier API emulator (``/api/v3/``): a verdict per mailbox of the world, and
the contract's trap of refusals answered with HTTP 200.
"""

from __future__ import annotations

import re
from typing import Any

from jengu_pipeline.sandbox.providers.emulator import (
    RETRY,
    Call,
    Provider,
    Reply,
    json_reply,
    text_reply,
)
from jengu_pipeline.sandbox.state import SandboxState
from jengu_pipeline.sandbox.world import Mailbox

MILLIONVERIFIER_CREDITS = 1_000_000
ROLE_LOCALS = frozenset({"info", "reservations", "sales", "contact", "booking", "office", "admin", "reception"})
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", re.IGNORECASE)

MvVerdict = tuple[str, int, str, str]  # result, resultcode, quality, subresult

_MV_VERDICTS: dict[Mailbox, MvVerdict] = {
    Mailbox.EXISTS: ("ok", 1, "good", "ok"),
    Mailbox.CATCH_ALL: ("catch_all", 2, "risky", "catch_all"),
    Mailbox.MISSING: ("invalid", 6, "bad", "mailbox_not_found"),
    Mailbox.DEAD_DOMAIN: ("invalid", 6, "bad", "no_mx_found"),
    Mailbox.FOREIGN: ("unknown", 3, "", "unknown"),
}


def _mv_body(email: str, verdict: MvVerdict, credits: int, error: str = "") -> dict[str, Any]:
    result, code, quality, subresult = verdict
    local = email.partition("@")[0].lower()
    return {
        "email": email,
        "quality": quality,
        "result": result,
        "resultcode": code,
        "subresult": subresult,
        "free": False,
        "role": local in ROLE_LOCALS,
        "didyoumean": "",
        "credits": credits,
        "executiontime": 1,
        "error": error,
        "livemode": True,
    }


def _mv_error(call: Call, message: str) -> Reply:
    """The contract's trap: a refused call is still HTTP 200, with ``result: error``."""
    return json_reply(200, _mv_body(call.query.get("email", ""), ("error", 4, "", "error"), 0, message))


def millionverifier_check(call: Call, state: SandboxState) -> Reply:
    email = call.query.get("email", "").strip()
    if not email:
        return _mv_error(call, "Missing email parameter")
    hotel = state.world.hotel(email.rpartition("@")[2])
    verdict: MvVerdict
    if not EMAIL.fullmatch(email):
        verdict = ("invalid", 6, "bad", "invalid_syntax")
    elif hotel is not None and hotel.greylisting and hotel.has_mx:
        verdict = ("unknown", 3, "", "greylisted")  # the provider cannot decide: a free answer
    else:
        verdict = _MV_VERDICTS[state.world.mailbox(email)]
    paid = verdict[0] != "unknown"
    left = state.remaining("millionverifier")
    credits = (MILLIONVERIFIER_CREDITS - state.used_today("millionverifier") if left is None else left) - paid
    return json_reply(200, _mv_body(email, verdict, credits), outcome=verdict[0], paid=paid)


MILLIONVERIFIER = Provider(
    name="millionverifier",
    routes={"/api/v3/": millionverifier_check, "/api/v3": millionverifier_check},
    methods=frozenset({"GET"}),
    key_from=lambda call: call.query.get("api"),
    refuse=lambda call, state: _mv_error(call, "Apikey not found"),
    rate_limited=lambda call, state: json_reply(429, {"error": "Too many requests"}, headers=RETRY),
    quota_exceeded=lambda call, state: _mv_error(call, "Insufficient credits"),
    server_error=lambda call, state: text_reply(503, "Service Unavailable"),
)
