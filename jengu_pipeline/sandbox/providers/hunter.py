"""SANDBOX: the Hunter emulator (``/v2/domain-search``, ``/v2/email-finder``)."""

from __future__ import annotations

from typing import Any

from jengu_pipeline.sandbox.providers.emulator import (
    RETRY,
    Call,
    Headers,
    Provider,
    Reply,
    found_outcome,
    json_reply,
    query_int,
)
from jengu_pipeline.sandbox.state import SandboxState
from jengu_pipeline.sandbox.world import Mailbox


def _hunter_error(status: int, error_id: str, details: str, headers: Headers = ()) -> Reply:
    return json_reply(status, {"errors": [{"id": error_id, "code": status, "details": details}]}, headers=headers)


def _hunter_verification(verdict: Mailbox) -> str:
    return {Mailbox.EXISTS: "valid", Mailbox.CATCH_ALL: "accept_all", Mailbox.MISSING: "invalid"}.get(
        verdict, "unknown"
    )


def hunter_domain_search(call: Call, state: SandboxState) -> Reply:
    domain = call.query.get("domain", "").strip().lower()
    limit, offset = query_int(call.query.get("limit"), 10), query_int(call.query.get("offset"), 0)
    if not domain or limit is None or offset is None:
        return _hunter_error(400, "wrong_params", "You are missing the domain or company parameter")
    hotel = state.world.hotel(domain)
    live = hotel is not None and hotel.has_mx
    emails: list[dict[str, Any]] = []
    if hotel is not None and live:
        emails = [
            {
                "value": address,
                "type": "generic",
                "confidence": 91,
                "first_name": None,
                "last_name": None,
                "position": None,
                "verification": {"status": _hunter_verification(state.world.mailbox(address))},
            }
            for address in hotel.role_addresses[:2]
        ]
        emails += [
            {
                "value": p.email,
                "type": "personal",
                "confidence": 94 if p.mailbox_exists else 71,
                "first_name": p.first,
                "last_name": p.last,
                "position": p.title,
                "linkedin": p.linkedin_url,
                "verification": {"status": _hunter_verification(state.world.mailbox(p.email))},
            }
            for p in hotel.staff
            if p.public and not p.objected
        ]
    page = emails[offset : offset + limit]
    data = {
        "domain": domain,
        "disposable": False,
        "webmail": False,
        "accept_all": bool(hotel and hotel.catch_all),
        "pattern": hotel.pattern if hotel is not None and live else None,
        "organization": hotel.name if hotel else None,
        "country": hotel.country if hotel else None,
        "emails": page,
    }
    meta = {"results": len(emails), "limit": limit, "offset": offset, "params": {"domain": domain}}
    return json_reply(200, {"data": data, "meta": meta}, outcome=found_outcome(page), paid=bool(emails))


def hunter_email_finder(call: Call, state: SandboxState) -> Reply:
    domain = call.query.get("domain", "").strip().lower()
    first, last = call.query.get("first_name", "").strip(), call.query.get("last_name", "").strip()
    if not domain or not first or not last:
        return _hunter_error(400, "wrong_params", "You are missing the domain, first_name or last_name parameter")
    hotel = state.world.hotel(domain)
    if hotel is None or not hotel.has_mx:
        data: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "email": None,
            "score": None,
            "domain": domain,
            "accept_all": False,
            "verification": {"status": None},
        }
        return json_reply(200, {"data": data, "meta": {"params": dict(call.query)}}, outcome="no_results")
    email = hotel.address_for(first, last)
    found = state.world.person(email)
    if found and found[1].objected:
        return _hunter_error(451, "claimed_email", "This person asked not to be processed.")
    verdict = state.world.mailbox(email)
    data = {
        "first_name": first,
        "last_name": last,
        "email": email,
        "score": 96 if found else (70 if hotel.catch_all else 84),
        "domain": domain,
        "accept_all": hotel.catch_all,
        "position": found[1].title if found else None,
        "verification": {"status": _hunter_verification(verdict)},
    }
    return json_reply(200, {"data": data, "meta": {"params": dict(call.query)}}, paid=True)


HUNTER = Provider(
    name="hunter",
    routes={"/v2/domain-search": hunter_domain_search, "/v2/email-finder": hunter_email_finder},
    methods=frozenset({"GET"}),
    key_from=lambda call: call.query.get("api_key") or call.headers.get("x-api-key"),
    refuse=lambda call, state: _hunter_error(401, "authentication_failed", "No user found for the API key supplied"),
    rate_limited=lambda call, state: _hunter_error(
        403, "too_many_requests", "You have reached the rate limit of requests per second.", RETRY
    ),
    quota_exceeded=lambda call, state: _hunter_error(429, "too_many_requests", "You have reached your monthly quota."),
    server_error=lambda call, state: _hunter_error(500, "server_error", "Something went wrong on our side."),
)
