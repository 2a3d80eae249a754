"""Sender-domain preflight: the MX, SPF, DKIM and DMARC records an inbox's domain publishes, read from DNS.

Mailbox providers junk or reject mail from domains without them, so an inbox whose domain fails may not send
unless the operator overrides it. A lookup DNS does not answer (a timeout, no usable nameserver) is *unknown*,
reported apart from a failure: it says nothing about the domain, only about the network.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import dns.exception
import dns.resolver

from jengu_pipeline.domain.inboxes import InboxConfig

RecordKind = Literal["mx", "spf", "dkim", "dmarc"]
RecordState = Literal["ok", "weak", "unchecked", "missing", "invalid", "unknown"]
PreflightStatus = Literal["passed", "failed", "unknown"]

_FAILING: frozenset[RecordState] = frozenset({"missing", "invalid"})
_WARNING: frozenset[RecordState] = frozenset({"weak", "unchecked"})


@dataclass(frozen=True)
class RecordCheck:
    """One record as found: what was asked, the record (when one was found) and what it means for sending."""

    kind: RecordKind
    name: str
    state: RecordState
    value: str | None
    note: str


@dataclass(frozen=True)
class DomainCheck:
    """The preflight of one sender domain (and DKIM selector): failed if any record is missing or invalid,
    unknown if DNS left any lookup unanswered, else passed; weak records are warnings only."""

    domain: str
    dkim_selector: str | None
    records: tuple[RecordCheck, ...]

    def _lines(self, states: Iterable[RecordState]) -> list[str]:
        wanted = set(states)
        return [f"{record.kind}: {record.note}" for record in self.records if record.state in wanted]

    @property
    def problems(self) -> list[str]:
        return self._lines(_FAILING)

    @property
    def warnings(self) -> list[str]:
        return self._lines(_WARNING)

    @property
    def unknown(self) -> list[str]:
        return self._lines(["unknown"])

    @property
    def status(self) -> PreflightStatus:
        return "failed" if self.problems else "unknown" if self.unknown else "passed"

    def record(self, kind: RecordKind) -> RecordCheck:
        return next(record for record in self.records if record.kind == kind)

    @property
    def dmarc_policy(self) -> str | None:
        value = self.record("dmarc").value
        return None if value is None else tags(value).get("p")


class _Unanswered(Exception):
    """DNS gave no verdict on a name."""


def _lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str, lifetime: float) -> list[Any]:
    """The rdata of a name's records; [] when the name or the type does not exist; _Unanswered when DNS did not say."""
    try:
        return list(resolver.resolve(name, rdtype, lifetime=lifetime, search=False))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.Timeout as error:
        raise _Unanswered(f"no answer from DNS within {lifetime:g} s") from error
    except dns.exception.DNSException as error:
        raise _Unanswered(f"DNS did not answer ({type(error).__name__})") from error


def _texts(resolver: dns.resolver.Resolver, name: str, lifetime: float) -> list[str]:
    """TXT records as strings; a record published in several 255-byte pieces is joined, as receivers do."""
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in _lookup(resolver, name, "TXT", lifetime)]


def tags(record: str) -> dict[str, str]:
    """The ``tag=value`` pairs of a DKIM or DMARC record, names lower-cased."""
    pairs = (part.split("=", 1) for part in record.split(";") if "=" in part)
    return {name.strip().lower(): value.strip() for name, value in pairs}


def _mx(resolver: dns.resolver.Resolver, domain: str, lifetime: float) -> RecordCheck:
    found = partial(RecordCheck, "mx", domain)
    records = sorted(_lookup(resolver, domain, "MX", lifetime), key=lambda record: record.preference)
    hosts = [str(record.exchange).rstrip(".") for record in records]
    if not records:
        return found("missing", None, f"no MX record at {domain}: replies and bounces are lost")
    if not any(hosts):
        return found("invalid", ".", f"null MX at {domain}: it accepts no mail, so no replies")
    return found("ok", ", ".join(host for host in hosts if host), "mail is accepted")


def _spf(resolver: dns.resolver.Resolver, domain: str, lifetime: float) -> RecordCheck:
    found = partial(RecordCheck, "spf", domain)
    records = [text for text in _texts(resolver, domain, lifetime) if text.lower().split(" ", 1)[0] == "v=spf1"]
    if not records:
        return found("missing", None, f"no v=spf1 TXT record at {domain}: receivers cannot tell who may send for it")
    if len(records) > 1:
        return found(
            "invalid",
            " | ".join(records),
            f"{len(records)} SPF records: receivers treat more than one as an error (RFC 7208 3.2)",
        )
    record = records[0]
    terms = [term.lower() for term in record.split()[1:]]
    qualifier = next((term[0] if term[0] in "+-~?" else "+" for term in terms if term.lstrip("+-~?") == "all"), None)
    if qualifier == "+":
        return found("invalid", record, "+all lets any server on the internet send as this domain")
    if qualifier in {None, "?"} and not any(term.startswith("redirect=") for term in terms):
        return found("weak", record, "no -all or ~all: mail from any other server is neutral")
    return found("ok", record, "servers allowed to send are listed")


def _dkim(resolver: dns.resolver.Resolver, domain: str, selector: str | None, lifetime: float) -> RecordCheck:
    if selector is None:
        return RecordCheck("dkim", domain, "unchecked", None, "no dkim_selector configured, so DKIM was not looked up")
    name = f"{selector}._domainkey.{domain}"
    found = partial(RecordCheck, "dkim", name)
    keys = [text for text in _texts(resolver, name, lifetime) if "p" in tags(text)]
    if not keys:
        return found("missing", None, f"no DKIM key at {name}: signatures cannot be verified")
    if not tags(keys[0])["p"]:
        return found("invalid", keys[0], f"the key at {name} is revoked (empty p=)")
    return found("ok", keys[0], f"public key published for selector {selector}")


def _dmarc(resolver: dns.resolver.Resolver, domain: str, lifetime: float) -> RecordCheck:
    name = f"_dmarc.{domain}"
    found = partial(RecordCheck, "dmarc", name)
    records = [text for text in _texts(resolver, name, lifetime) if tags(text).get("v", "").upper() == "DMARC1"]
    if not records:
        return found("missing", None, f"no v=DMARC1 record at {name}: Gmail and Yahoo require one from bulk senders")
    if len(records) > 1:
        return found("invalid", " | ".join(records), f"{len(records)} DMARC records: receivers ignore them all")
    policy = tags(records[0]).get("p", "").lower()
    if policy not in {"none", "quarantine", "reject"}:
        return found("invalid", records[0], f"p={policy or '(missing)'}: must be none, quarantine or reject")
    if policy == "none":
        return found("weak", records[0], "p=none only monitors: mail forged in this domain's name is still delivered")
    return found("ok", records[0], f"policy p={policy}")


def _judged(kind: RecordKind, name: str, judge: Callable[[], RecordCheck]) -> RecordCheck:
    try:
        return judge()
    except _Unanswered as unanswered:
        return RecordCheck(kind, name, "unknown", None, f"{name}: {unanswered}")


def check_sender_domain(
    domain: str,
    *,
    dkim_selector: str | None,
    resolver: dns.resolver.Resolver | None = None,
    lifetime: float = 5.0,
) -> DomainCheck:
    """Look up and judge ``domain``'s MX, SPF, DKIM (when a selector is given) and DMARC records."""
    dns_resolver = resolver or dns.resolver.Resolver()
    domain = domain.strip().rstrip(".").lower()
    dkim_name = f"{dkim_selector}._domainkey.{domain}" if dkim_selector else domain
    records = (
        _judged("mx", domain, lambda: _mx(dns_resolver, domain, lifetime)),
        _judged("spf", domain, lambda: _spf(dns_resolver, domain, lifetime)),
        _judged("dkim", dkim_name, lambda: _dkim(dns_resolver, domain, dkim_selector, lifetime)),
        _judged("dmarc", f"_dmarc.{domain}", lambda: _dmarc(dns_resolver, domain, lifetime)),
    )
    return DomainCheck(domain, dkim_selector, records)


def check_inboxes(
    inboxes: Iterable[InboxConfig], *, resolver: dns.resolver.Resolver | None = None, lifetime: float = 5.0
) -> dict[str, DomainCheck]:
    """The preflight of each inbox by address; a domain and selector shared by several inboxes is asked once."""
    dns_resolver = resolver or dns.resolver.Resolver()
    checks: dict[tuple[str, str | None], DomainCheck] = {}
    result: dict[str, DomainCheck] = {}
    for inbox in inboxes:
        key = (inbox.domain, inbox.dkim_selector)
        if key not in checks:
            checks[key] = check_sender_domain(
                inbox.domain, dkim_selector=inbox.dkim_selector, resolver=dns_resolver, lifetime=lifetime
            )
        result[inbox.address] = checks[key]
    return result
