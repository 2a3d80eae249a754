"""Delivery failures: which recipients failed, for good or for now, and why.

RFC 3464 delivery status first (Status, Action, Diagnostic-Code per recipient), then flufl.bounce's detectors
for MTAs that write no standard report, then the ``X-Failed-Recipients`` header. Hard versus soft is decided
by the reason before the code: a full mailbox or a delayed delivery is soft whatever code an MTA chose, and an
unknown user, a missing domain or a disabled account is hard.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from flufl.bounce import all_failures

from jengu_pipeline.domain.replies.model import FailedRecipient, ParsedReply

_BOUNCE_SENDER: Final = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounces?)@", re.IGNORECASE)
_BOUNCE_SUBJECT: Final = re.compile(
    r"undeliver|delivery status notification|delivery (has )?failed|failure notice|returned mail|"
    r"mail delivery (failed|failure|system)|delivery failure|nondeliverable|non[- ]?remis|unzustellbar|"
    r"non recapitabile|no se puede entregar|onbestelbaar|não entregue|delivery delayed|warning: could not send",
    re.IGNORECASE,
)
_STATUS: Final = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_ADDRESS: Final = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")

# (detail, hard, pattern) in order: the first reason a diagnostic names wins.
_REASONS: Final[tuple[tuple[str, bool, re.Pattern[str]], ...]] = (
    (
        "mailbox_full",
        False,
        re.compile(
            r"mailbox (is )?full|over ?quota|quota (exceeded|full)|exceeded (the |its )?(storage|quota)|"
            r"insufficient (system )?storage|mailbox size limit|\b[45]\.2\.2\b",
            re.IGNORECASE,
        ),
    ),
    (
        "no_such_domain",
        True,
        re.compile(
            r"host (or domain name )?not found|domain (name )?not found|no such domain|nxdomain|name service error|"
            r"unrouteable (mail )?domain|domain does not exist|dns (error|lookup)|\b5\.1\.2\b|\b5\.4\.4\b",
            re.IGNORECASE,
        ),
    ),
    (
        "mailbox_disabled",
        True,
        re.compile(
            r"disabled|deactivated|inactive|suspended|account (has been )?(closed|terminated|blocked)|"
            r"\b5\.2\.1\b",
            re.IGNORECASE,
        ),
    ),
    (
        "user_unknown",
        True,
        re.compile(
            r"user unknown|unknown user|no such user|does not exist|doesn't exist|not exist|unknown recipient|"
            r"recipient (address )?rejected|address rejected|invalid (recipient|mailbox|address)|no mailbox|"
            r"mailbox (unavailable|not found)|no such (mailbox|recipient|address)|couldn't be found|"
            r"resolver\.adr\.recipnotfound|recipnotfound|not our customer|\b5\.1\.1\b|\b5\.1\.10\b|\b5\.4\.1\b",
            re.IGNORECASE,
        ),
    ),
    (
        "delivery_expired",
        False,
        re.compile(
            r"\b4\.4\.7\b|retry time(out)? (not reached|exceeded)|message expired|expired after|"
            r"could not be delivered (for|within) \d+|has been delayed for",
            re.IGNORECASE,
        ),
    ),
)


@dataclass(frozen=True)
class BounceFinding:
    """The failed recipients a message reports and the reason of the first, when it is a bounce."""

    failed: tuple[FailedRecipient, ...]
    detail: str | None
    signals: tuple[str, ...]

    @property
    def hard(self) -> bool:
        return any(f.hard for f in self.failed)


def looks_like_bounce(parsed: ParsedReply) -> bool:
    """A delivery report, or mail from a mailer daemon about an undelivered message."""
    if parsed.report_type and parsed.report_type.lower() == "delivery-status":
        return True
    if "x-failed-recipients" in parsed.headers:
        return True
    sender = parsed.from_address or ""
    return bool(_BOUNCE_SENDER.match(sender)) and bool(_BOUNCE_SUBJECT.search(parsed.subject) or parsed.delivery_status)


def reason(text: str, status: str | None, action: str | None) -> tuple[str, bool]:
    """(detail, hard) for one failed recipient from its diagnostic text, status code and action."""
    for detail, hard, pattern in _REASONS:
        if pattern.search(text):
            return detail, hard and action != "delayed" and not (status or "").startswith("4")
    if action == "delayed":
        return "delayed", False
    if status and status.startswith("4"):
        return "deferral", False
    if status and status.startswith("5"):
        return "rejected", True
    return "unknown", True


def _from_delivery_status(parsed: ParsedReply) -> list[FailedRecipient]:
    failed: dict[str, FailedRecipient] = {}
    for block in parsed.delivery_status:
        if block.action not in ("failed", "delayed", None):
            continue
        address = block.original_recipient or block.final_recipient
        if not address:
            continue
        status = block.status if block.status and _STATUS.fullmatch(block.status) else None
        if status and status.startswith("2"):
            continue
        _, hard = reason(f"{block.diagnostic or ''} {status or ''}", status, block.action)
        failed.setdefault(address, FailedRecipient(address, hard, status, block.action, block.diagnostic))
    return list(failed.values())


def _text_near(text: str, address: str) -> str:
    """The diagnostic words around one address in a human-readable bounce."""
    at = text.lower().find(address)
    return text[max(0, at - 300) : at + 600] if at >= 0 else text[:2000]


def _from_detectors(parsed: ParsedReply) -> list[FailedRecipient]:
    """flufl.bounce's detectors (Exim, qmail, Postfix's plain text, Exchange, ...), then X-Failed-Recipients."""
    temporary: set[str] = set()
    permanent: set[str] = set()
    if parsed.message is not None:
        try:
            soft_found, hard_found = all_failures(parsed.message)
        except Exception:
            soft_found, hard_found = frozenset(), frozenset()
        temporary = {_text(a) for a in soft_found}
        permanent = {_text(a) for a in hard_found}
    header = parsed.headers.get("x-failed-recipients", "")
    permanent |= {a.lower() for a in _ADDRESS.findall(header)} - temporary
    failed = []
    for address in sorted(a for a in temporary | permanent if "@" in a):
        context = _text_near(parsed.text, address)
        codes = _STATUS.findall(context)
        status = ".".join(codes[0]) if codes else None
        _, hard = reason(context, status, None)
        hard = hard and address not in temporary
        failed.append(FailedRecipient(address, hard, status, None, " ".join(context.split())[:300] or None))
    return failed


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip().strip("<>").lower()


def find_bounce(parsed: ParsedReply) -> BounceFinding | None:
    """The message's failed recipients, or None when it reports no failure (not a bounce, or a success DSN)."""
    failed = _from_delivery_status(parsed)
    signals = ["rfc3464"] if failed else []
    if not failed:
        failed = _from_detectors(parsed)
        signals = ["detectors"] if failed else []
    if not failed and not parsed.delivery_status and looks_like_bounce(parsed):
        failed = [
            FailedRecipient(address, *_hard_and_status(parsed.text)) for address in parsed.original_recipients[:1]
        ]
        signals = ["original_recipient"] if failed else []
    if not failed:
        return None
    first = failed[0]
    detail, _ = reason(f"{first.diagnostic or ''} {_text_near(parsed.text, first.email)}", first.status, first.action)
    return BounceFinding(tuple(failed), detail, tuple(signals))


def _hard_and_status(text: str) -> tuple[bool, str | None]:
    codes = _STATUS.findall(text)
    status = ".".join(codes[0]) if codes else None
    return reason(text[:3000], status, None)[1], status
