"""The message that hands a human reply to a person: a short summary, our message it answers, the reply attached.

Pure, so that what an operator receives can be tested without a mail server. The reply travels as an attachment
exactly as it arrived (never re-rendered: it is a stranger's content), so the forward stays 7-bit whatever the
reply's encoding.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid

from jengu_pipeline.domain.outbound import POLICY, UNSAFE_HEADER_CATEGORIES

SUBJECT_LIMIT = 150
QUOTE_LIMIT = 4000


@dataclass(frozen=True)
class ForwardedReply:
    """What the forward says about one reply."""

    reply_id: str
    category: str
    detail: str | None
    from_address: str | None
    subject: str | None
    new_text: str | None
    prospect_id: str | None
    prospect_url: str | None
    sent_subject: str | None
    sent_body: str | None
    raw: bytes


def forward_message(reply: ForwardedReply, *, sender: str, to: str, at: datetime) -> bytes:
    """The forward as bytes ready for SMTP (7-bit, CRLF)."""
    subject = _safe_subject(reply.subject)
    message = EmailMessage(policy=POLICY)
    message["From"] = Address("Jengu replies", addr_spec=sender)
    message["To"] = to
    message["Subject"] = f"[{reply.category}] Fwd: {subject}"
    message["Date"] = at
    message["Message-ID"] = make_msgid("fwd", domain=sender.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"
    message["X-Jengu-Reply-Id"] = reply.reply_id
    message.set_content(_summary(reply), charset="utf-8", cte="quoted-printable")
    message.add_attachment(reply.raw, maintype="application", subtype="octet-stream", filename="reply.eml")
    return message.as_bytes()


def _safe_subject(subject: str | None) -> str:
    """The stranger's subject with nothing that could end a header line or start an encoded word."""
    kept = "".join(" " if unicodedata.category(c) in UNSAFE_HEADER_CATEGORIES else c for c in subject or "")
    return " ".join(kept.replace("=?", "= ?").split())[:SUBJECT_LIMIT] or "(no subject)"


def _summary(reply: ForwardedReply) -> str:
    lines = [
        f"A reply classified as {reply.category}" + (f" ({reply.detail})" if reply.detail else "") + ".",
        f"From: {reply.from_address or 'unknown sender'}",
        f"Prospect: {reply.prospect_url or reply.prospect_id or 'not matched to a prospect'}",
        "",
        "What they wrote (new text only; the whole message is attached as reply.eml):",
        "",
        *_quoted(reply.new_text or "(empty)"),
    ]
    if reply.sent_body:
        lines += ["", f"Our message it answers ({reply.sent_subject or 'no subject'}):", "", *_quoted(reply.sent_body)]
    return "\n".join(lines) + "\n"


def _quoted(text: str) -> list[str]:
    return [f"> {line}" for line in text[:QUOTE_LIMIT].splitlines()]
