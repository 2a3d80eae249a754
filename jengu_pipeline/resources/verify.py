"""Email verification: MillionVerifier (paid API), an SMTP probe, and syntax + MX only.

All three answer with one `Verification`. A provider failure (wrong key, no credits, outage) is
an error, never a verdict: MillionVerifier answers those with HTTP 200 and ``"result": "error"``,
which is read as such. Syntax is checked locally first, so a malformed address costs nothing.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import smtplib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import dns.exception
import dns.resolver
import httpx
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, Field, PrivateAttr

from jengu_pipeline.domain.emails import DomainFacts, FinderReport, Person
from jengu_pipeline.resources.call_ledger import CallStore, Outcome
from jengu_pipeline.resources.call_policy import ProviderLimits
from jengu_pipeline.resources.calls import (
    Pending,
    ProviderCaller,
    ProviderConfigError,
    ProviderError,
    QuotaExhausted,
    run_batch,
)
from jengu_pipeline.resources.email_finder import EmailFinder
from jengu_pipeline.resources.http_provider import HttpProvider, HttpRequest
from jengu_pipeline.resources.redaction import redact
from jengu_pipeline.resources.runtime import ProviderResource
from jengu_pipeline.resources.verification import EmailVerifier, MxLookup, Verification, VerificationResult

MILLIONVERIFIER_BASE_URL = "https://api.millionverifier.com"
SMTP_PORT = 25

Connect = Callable[[str], tuple[str, int]]
"""MX host name -> (address, port) to open; the sandbox maps its reserved host names to loopback."""


def _decided(row: dict[str, Any]) -> bool:
    """Only decided verdicts are cached: `unknown` is worth asking again later."""
    return row["result"] != "unknown"


def _verdict_price(row: dict[str, Any]) -> int:
    """MillionVerifier charges a credit for a decided verdict only; `unknown` is free."""
    return int(_decided(row))


def checked_address(email: str) -> str | Verification:
    """The lower-cased address if its syntax is valid, else an `invalid` verdict (no provider asked)."""
    address = email.strip().lower()
    try:
        # test_environment admits the reserved .test names the sandbox uses; no DNS here.
        validate_email(address, check_deliverability=False, test_environment=True)
    except EmailNotValidError as error:
        return Verification(address, "invalid", "syntax", redact(str(error)))
    return address


def dns_mx_lookup(resolver: dns.resolver.Resolver | None = None, lifetime: float = 5.0) -> MxLookup:
    """MX hosts from DNS, by preference; a null MX means none, and no MX record falls back to the domain."""
    dns_resolver = resolver or dns.resolver.Resolver()

    def lookup(domain: str) -> list[str]:
        try:
            answer = dns_resolver.resolve(domain, "MX", lifetime=lifetime)
        except dns.resolver.NXDOMAIN:
            return []
        except dns.resolver.NoAnswer:  # RFC 5321 5.1: the domain's own address is its implicit MX
            try:
                dns_resolver.resolve(domain, "A", lifetime=lifetime)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                return []
            return [domain]
        records = sorted(answer, key=lambda record: record.preference)
        hosts = [str(record.exchange).rstrip(".") for record in records]
        return [host for host in hosts if host]  # a null MX (".") accepts no mail (RFC 7505)

    return lookup


def table_mx_lookup(table: Mapping[str, Sequence[str]]) -> MxLookup:
    """MX hosts from a fixed table (a synthetic world); a domain absent from it takes no mail."""
    return lambda domain: list(table.get(domain, ()))


# --------------------------------------------------------------------------------------------
# MillionVerifier


class _MillionVerifierAnswer(BaseModel):
    result: str
    subresult: str = ""
    quality: str = ""
    role: bool = False
    free: bool = False
    didyoumean: str = ""
    error: str = ""


_MILLIONVERIFIER_RESULTS: dict[str, VerificationResult] = {
    "ok": "valid",
    "catch_all": "catch_all",
    "unknown": "unknown",
    "invalid": "invalid",
    "disposable": "invalid",  # a throwaway mailbox is no hotel contact
}


class MillionVerifier(HttpProvider):
    """Single-email API v3: one credit a verification; ``result: error`` (HTTP 200) is a failure."""

    def __init__(
        self, caller: ProviderCaller, *, api_key: str, base_url: str = MILLIONVERIFIER_BASE_URL, timeout: int = 20
    ) -> None:
        super().__init__(caller, base_url, secrets=[api_key])
        self._key = api_key
        self.timeout = max(2, min(60, timeout))

    async def verify(self, email: str, *, batch_id: str | None = None) -> Verification:
        address = checked_address(email)
        if isinstance(address, Verification):
            return address
        params: dict[str, str | int] = {"api": self._key, "email": address, "timeout": self.timeout}
        row = await self.request(
            "verify",
            HttpRequest("GET", "/api/v3/", params=params),
            lambda response: self._parse(response, address),
            cache_params={"email": address},
            batch_id=batch_id,
            cacheable=_decided,
            cost_of=_verdict_price,
        )
        return Verification(**row)

    def _parse(self, response: httpx.Response, address: str) -> dict[str, Any]:
        answer = _MillionVerifierAnswer.model_validate_json(response.content)
        if answer.result == "error":
            message = answer.error or "result error without a message"
            if "credit" in message.lower():
                raise QuotaExhausted(self.provider, "verify", message)
            if "key" in message.lower():
                raise ProviderConfigError(self.provider, "verify", message)
            raise ProviderError(self.provider, "verify", Outcome.CLIENT_ERROR, message)
        result = _MILLIONVERIFIER_RESULTS.get(answer.result)
        if result is None:
            raise ValueError(f"unknown result {answer.result!r}")
        flags = [f"subresult={answer.subresult}", f"quality={answer.quality}"]
        flags += [name for name, on in (("role", answer.role), ("free", answer.free)) if on]
        if answer.didyoumean:
            flags.append(f"didyoumean={answer.didyoumean}")
        return asdict(Verification(address, result, self.provider, redact(" ".join(flags))))


# --------------------------------------------------------------------------------------------
# SMTP probe


def _text(reply: bytes) -> str:
    return " ".join(reply.decode(errors="replace").split())[:160]


def _rcpt_verdict(code: int, message: str) -> VerificationResult | None:
    """A RCPT answer as a verdict; None for a policy refusal (5.7.x: blocked, relay denied), which says
    nothing about the mailbox."""
    if code in (250, 251):
        return "valid"
    if 500 <= code < 600:
        return None if message.split(" ", 1)[0].startswith("5.7.") else "invalid"
    return "unknown"  # 4xx: greylisting or a temporary refusal


class SmtpProbeVerifier:
    """Asks the domain's MX with RCPT TO (never DATA), and a random address to detect catch-all domains.

    Blocking smtplib runs in a worker thread under the caller's limits. A refused connection or a
    timeout is a transient failure (retried); a 4xx answer is an honest `unknown`; a policy refusal
    (5.7.x, a blocklisted IP) is no verdict at all and counts against the provider's breaker.
    """

    def __init__(
        self,
        caller: ProviderCaller,
        *,
        mx_lookup: MxLookup,
        helo_name: str,
        mail_from: str,
        connect: Connect = lambda host: (host, SMTP_PORT),
        timeout: float = 10.0,
    ) -> None:
        self.caller = caller
        self.mx_lookup = mx_lookup
        self.helo_name = helo_name
        self.mail_from = mail_from
        self.connect = connect
        self.timeout = timeout

    @property
    def provider(self) -> str:
        return self.caller.name

    async def verify(self, email: str, *, batch_id: str | None = None) -> Verification:
        address = checked_address(email)
        if isinstance(address, Verification):
            return address
        row = await self.caller.execute(
            "probe",
            lambda: asyncio.to_thread(self._probe, address),
            cache_params={"email": address},
            batch_id=batch_id,
            cacheable=_decided,
        )
        return Verification(**row)

    async def aclose(self) -> None:
        """Every probe opens and quits its own SMTP session; only unused quota is given back."""
        await self.caller.aclose()

    def _probe(self, address: str) -> dict[str, Any]:
        domain = address.rsplit("@", 1)[1]
        try:
            hosts = list(self.mx_lookup(domain))
        except dns.exception.DNSException as error:
            raise ProviderError(
                self.provider, "probe", Outcome.TRANSPORT_ERROR, f"MX lookup: {type(error).__name__}", retryable=True
            ) from None
        if not hosts:
            return asdict(Verification(address, "invalid", self.provider, "domain has no MX"))
        failures: list[ProviderError] = []
        for host in hosts[:2]:
            try:
                return self._ask(host, address, domain)
            except TimeoutError:
                failures.append(ProviderError(self.provider, "probe", Outcome.TIMEOUT, host, retryable=True))
            except (OSError, smtplib.SMTPException) as error:
                detail = f"{host}: {type(error).__name__}"
                failures.append(ProviderError(self.provider, "probe", Outcome.TRANSPORT_ERROR, detail, retryable=True))
        raise failures[-1]

    def _refused(self, stage: str, code: int, message: str) -> ProviderError:
        """The server refused us, not the mailbox (blocklisted IP, policy): no verdict, and a breaker fault."""
        return ProviderError(self.provider, "probe", Outcome.UNAVAILABLE, f"{stage} refused: {code} {message}")

    def _ask(self, host: str, address: str, domain: str) -> dict[str, Any]:
        server, port = self.connect(host)
        with smtplib.SMTP(server, port, local_hostname=self.helo_name, timeout=self.timeout) as smtp:
            smtp.ehlo_or_helo_if_needed()
            code, reply = smtp.mail(self.mail_from)
            if code != 250:
                raise self._refused("MAIL FROM", code, _text(reply))
            code, reply = smtp.rcpt(address)
            message = _text(reply)
            result = _rcpt_verdict(code, message)
            if result is None:
                raise self._refused("RCPT", code, message)
            if result == "valid":
                probe_code, probe_reply = smtp.rcpt(f"jengu-probe-{secrets.token_hex(6)}@{domain}")
                if _rcpt_verdict(probe_code, _text(probe_reply)) == "valid":
                    result = "catch_all"
            return asdict(Verification(address, result, self.provider, redact(f"RCPT {code} {message}")))


# --------------------------------------------------------------------------------------------
# Syntax + MX


class SyntaxMxVerifier:
    """The offline fallback: valid syntax and a domain that takes mail make an address `risky`, no more."""

    provider = "syntax_mx"

    def __init__(self, *, mx_lookup: MxLookup) -> None:
        self.mx_lookup = mx_lookup

    async def verify(self, email: str, *, batch_id: str | None = None) -> Verification:
        address = checked_address(email)
        if isinstance(address, Verification):
            return address
        try:
            hosts = await asyncio.to_thread(self.mx_lookup, address.rsplit("@", 1)[1])
        except dns.exception.DNSException as error:
            return Verification(address, "unknown", self.provider, f"MX lookup: {type(error).__name__}")
        if not hosts:
            return Verification(address, "invalid", self.provider, "domain has no MX")
        return Verification(address, "risky", self.provider, "MX found; mailbox not checked")

    async def aclose(self) -> None:
        """Nothing to close."""


# --------------------------------------------------------------------------------------------
# Batches and resource


async def verify_many(
    verifier: EmailVerifier, emails: Sequence[str], *, batch_id: str | None = None, workers: int = 8
) -> tuple[list[Verification], list[Pending]]:
    """Verdicts for what could be verified, and the rest pending with the reason (quota, outage...).

    Each verdict is in the store's cache as soon as it is paid for, so a batch stopped here and
    resumed later never pays for an address twice.
    """
    return await run_batch(emails, lambda email: verifier.verify(email, batch_id=batch_id), workers=workers)


class VerifierResource(ProviderResource):
    """The ``verifier`` resource: MillionVerifier when a key is set, else the SMTP probe or syntax + MX."""

    provider: Literal["auto", "millionverifier", "smtp_probe", "syntax_mx"] = Field(
        default="auto", description="auto = millionverifier if a key is set, else syntax_mx."
    )
    millionverifier_api_key: str = Field(default="", description="MillionVerifier key (secret, EnvVar).")
    millionverifier_base_url: str = MILLIONVERIFIER_BASE_URL
    millionverifier_limits: ProviderLimits = ProviderLimits(concurrency=4, rate_per_second=5.0, burst=5)
    smtp_helo_name: str = Field(default="", description="EHLO name for probes: a host name you own.")
    smtp_mail_from: str = Field(default="", description="MAIL FROM for probes: an address you own.")
    smtp_limits: ProviderLimits = ProviderLimits(
        concurrency=2, rate_per_second=1.0, max_attempts=2, timeout_seconds=15.0
    )
    dns_lifetime_seconds: float = 5.0
    mx_table_path: str = Field(
        default="", description="JSON {domain: [mx hosts]} used instead of DNS (the sandbox's world)."
    )
    smtp_connect_host: str = Field(default="", description="Connect here instead of the MX host (sandbox).")
    smtp_port: int = SMTP_PORT

    max_guesses: int = Field(default=8, ge=1, description="Paid guesses at most per prospect.")
    domain_workers: int = Field(default=32, ge=1, description="Mail domains worked on at once.")

    _verifier: EmailVerifier = PrivateAttr()
    _mx_lookup: MxLookup = PrivateAttr()

    @property
    def selected(self) -> str:
        if self.provider != "auto":
            return self.provider
        return "millionverifier" if self.millionverifier_api_key else "syntax_mx"

    def build_mx_lookup(self) -> MxLookup:
        if self.mx_table_path:
            return table_mx_lookup(json.loads(Path(self.mx_table_path).read_text()))
        return dns_mx_lookup(lifetime=self.dns_lifetime_seconds)

    def build_verifier(self, store: CallStore, mx_lookup: MxLookup) -> EmailVerifier:
        match self.selected:
            case "millionverifier":
                if not self.millionverifier_api_key:
                    raise ProviderConfigError("millionverifier", "verify", "no API key configured")
                caller = ProviderCaller("millionverifier", store, self.millionverifier_limits)
                return MillionVerifier(
                    caller, api_key=self.millionverifier_api_key, base_url=self.millionverifier_base_url
                )
            case "smtp_probe":
                if not (self.smtp_helo_name and self.smtp_mail_from):
                    raise ProviderConfigError("smtp_probe", "probe", "smtp_helo_name and smtp_mail_from are required")
                return SmtpProbeVerifier(
                    ProviderCaller("smtp_probe", store, self.smtp_limits),
                    mx_lookup=mx_lookup,
                    helo_name=self.smtp_helo_name,
                    mail_from=self.smtp_mail_from,
                    connect=lambda host: (self.smtp_connect_host or host, self.smtp_port),
                    timeout=self.smtp_limits.timeout_seconds,
                )
            case _:
                return SyntaxMxVerifier(mx_lookup=mx_lookup)

    def _open(self, store: CallStore) -> None:
        self._mx_lookup = self.build_mx_lookup()
        self._verifier = self.build_verifier(store, self._mx_lookup)
        self._closers.append(self._verifier.aclose)

    def find_emails(
        self,
        people: Sequence[Person],
        *,
        learned: dict[str, Counter[str]],
        global_counts: Counter[str],
        facts: dict[str, DomainFacts],
        batch_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> FinderReport:
        """Each person's address (see `EmailFinder`), given what the store already knows."""
        finder = EmailFinder(
            self._verifier,
            self._mx_lookup,
            learned=learned,
            global_counts=global_counts,
            facts=facts,
            max_guesses=self.max_guesses,
            batch_id=batch_id,
            progress=progress,
        )
        return self._run(finder.run(people, workers=self.domain_workers))

    def verify(self, email: str, *, batch_id: str | None = None) -> Verification:
        return self._run(self._verifier.verify(email, batch_id=batch_id))

    def verify_many(
        self, emails: Sequence[str], *, batch_id: str | None = None, workers: int = 8
    ) -> tuple[list[Verification], list[Pending]]:
        """See the module-level `verify_many`: done verdicts, and the rest pending with the reason."""
        return self._run(verify_many(self._verifier, emails, batch_id=batch_id, workers=workers))
