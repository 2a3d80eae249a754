"""Outbound email: one message built with the stdlib email package, headers safe by construction, DKIM-signed.

Every header-bound value (names, addresses, subject, unsubscribe URIs, extra headers) comes from prospect data,
LLM output or configuration, so a line break in one would let it add headers of its own (a Bcc, a second From).
Such values are refused, naming the field, before the email package sees them; the policy encodes the rest
(RFC 2047 words for non-ASCII names and subjects, folding at 78 columns, quoted-printable bodies).

The message is 7-bit clean (``cte_type="7bit"``): a relay without 8BITMIME would re-encode an 8bit body on the
way and break the DKIM body hash. Every message carries the RFC 2369 / RFC 8058 one-click unsubscribe headers;
nothing is added to the body (no tracking pixel, no rewritten links).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

import dkim
from email_validator import EmailNotValidError, validate_email

from jengu_pipeline.domain.compose import resignable
from jengu_pipeline.domain.senders import SendingIdentity

# refold_source="none": List-Unsubscribe is stored pre-folded (one URI a line) because the policy would turn
# a URI longer than a line into RFC 2047 encoded words, which no mail client reads as a URI.
POLICY = SMTP.clone(cte_type="7bit", refold_source="none")

# A header line may hold 998 octets (RFC 5322 2.1.1); "List-Unsubscribe: <" and ">," take the rest.
MAX_URI_LENGTH = 900
UNSAFE_HEADER_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Cs"})
_EXTRA_HEADER_NAME = re.compile(r"X-[A-Za-z0-9][A-Za-z0-9-]*\Z")
_URI_FORBIDDEN = re.compile(r"[\s<>\"]")
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+@([A-Za-z0-9.-]+)>\Z")  # printable ASCII, no < >, one @ before the domain
# Signed once more than they occur (oversigning): no relay can add a second From, Subject or List-Unsubscribe
# without breaking the signature.
DKIM_SIGNED_HEADERS = (
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
)


class OutboundEmailError(ValueError):
    """A value that cannot go into the message; ``field`` names the OutboundEmail field."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name


class HeaderInjectionError(OutboundEmailError):
    """A header-bound value with a line break or another control character: it could add headers."""


@dataclass(frozen=True)
class OutboundEmail:
    """Everything one message says; ``headers`` are extra ``X-`` headers such as X-Jengu-Send-Id; a follow-up's
    ``thread`` is the Message-IDs of the earlier messages it answers, oldest first (``In-Reply-To`` names the
    last, ``References`` all)."""

    from_address: str
    from_name: str
    to_address: str
    to_name: str | None
    reply_to: str | None
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    unsubscribe_mailto: str
    unsubscribe_url: str
    date: datetime
    headers: Mapping[str, str] = field(default_factory=dict)
    reply_to_name: str | None = None
    thread: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboxChoice:
    """Which inboxes may send a message so that its signature names the inbox's owner.

    ``allowed`` False: no configured inbox can (the body is signed by someone without an inbox here);
    ``inbox``: the one inbox it must go from (its thread's, or its signer's); None: any.
    """

    allowed: bool
    inbox: str | None = None


def choose_inbox(
    body: str, sender: SendingIdentity | None, inboxes: Sequence[tuple[str, str]], thread_inbox: str | None
) -> InboxChoice:
    """Where a message may go from: ``inboxes`` are (address, display name); a follow-up stays in its thread.

    A body compose signed can be re-signed by any inbox's owner (``compose.signed_as``), so it may go from any
    inbox, or its thread's. Any other body only from an inbox whose owner is the campaign's sender (the inbox
    of ``sender_email`` first), so the From name always matches the name the text is signed with.
    """
    if sender is None or resignable(body, sender):
        return InboxChoice(True, thread_inbox)
    signers = sorted(
        (address for address, name in inboxes if name == sender.sender_name),
        key=lambda address: address != sender.sender_email,
    )
    if thread_inbox is not None:
        return InboxChoice(thread_inbox in signers, thread_inbox)
    return InboxChoice(bool(signers), signers[0] if signers else None)


def reply_to_for(reply_to: str | None, from_address: str, sending_addresses: Collection[str]) -> str | None:
    """The Reply-To of a message from ``from_address``: replies must reach the person who signed it.

    A campaign's ``reply_to`` that is a shared reply mailbox stays (named after the signer, see
    ``OutboundEmail.reply_to_name``); one that is another sending inbox would hand the reply to a different
    person than the one who wrote, so the message has none and replies go to its From.
    """
    if reply_to is None:
        return None
    others = {address.lower() for address in sending_addresses} | {from_address.lower()}
    return None if reply_to.lower() in others else reply_to


def check_header_value(field_name: str, value: str) -> None:
    """Refuses what could end a header line or start a new one.

    Control characters (CR, LF, NUL, NEL...), Unicode line/paragraph separators and lone surrogates:
    str.splitlines, and with it parts of the email package, breaks lines at several of them. And ``=?``, the
    start of an RFC 2047 encoded word: the email package decodes encoded words in assigned values, so
    ``=?utf-8?q?=0D=0ABcc:_x?=`` as a subject would be written out as a line break and a Bcc header.
    """
    for index, char in enumerate(value):
        if unicodedata.category(char) in UNSAFE_HEADER_CATEGORIES:
            raise HeaderInjectionError(field_name, f"control character U+{ord(char):04X} at position {index}")
    if "=?" in value:
        raise HeaderInjectionError(field_name, f"'=?' (an RFC 2047 encoded word) at position {value.index('=?')}")


def new_message_id(sender_address: str) -> str:
    """A random ``<hex@sender-domain>``: unique without revealing host, process or time, on the sender's domain
    so that it aligns with From (a foreign Message-ID domain is a spam signal)."""
    return f"<{uuid.uuid4().hex}@{_address('from_address', sender_address).domain}>"


def build_message(email: OutboundEmail) -> EmailMessage:
    """The message exactly as it will be sent (``as_bytes()`` gives CRLF lines); raises OutboundEmailError."""
    for field_name, value in _header_bound_values(email):
        check_header_value(field_name, value)
    sender = _address("from_address", email.from_address)
    recipient = _address("to_address", email.to_address)
    if email.date.utcoffset() is None:
        raise OutboundEmailError("date", "must be timezone-aware")
    message = EmailMessage(policy=POLICY)
    message["From"] = Address(email.from_name, addr_spec=sender.addr_spec)
    message["To"] = Address(email.to_name or "", addr_spec=recipient.addr_spec)
    if email.reply_to is not None:
        reply_to = _address("reply_to", email.reply_to)
        message["Reply-To"] = Address(email.reply_to_name or "", addr_spec=reply_to.addr_spec)
    message["Subject"] = email.subject
    message["Date"] = email.date
    message["Message-ID"] = _message_id(email.message_id, sender.domain)
    if email.thread:
        earlier = [_thread_id(message_id) for message_id in email.thread]
        message["In-Reply-To"] = earlier[-1]
        message["References"] = " ".join(earlier)
    https = _uri("unsubscribe_url", email.unsubscribe_url, "https://")
    mailto = _uri("unsubscribe_mailto", email.unsubscribe_mailto, "mailto:")
    message.set_raw("List-Unsubscribe", f"<{https}>,\n <{mailto}>")
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in email.headers.items():
        if not _EXTRA_HEADER_NAME.match(name):
            raise OutboundEmailError("headers", f"{name!r} is not an X- header name")
        message[name] = value
    message["MIME-Version"] = "1.0"
    if email.body_html is None:
        message.set_content(email.body_text)
    else:
        message.make_alternative()
        message.attach(_text_part(email.body_text, "plain"))
        message.attach(_text_part(email.body_html, "html"))
    return message


def sign_dkim(raw: bytes, *, domain: str, selector: str, private_key_pem: bytes) -> bytes:
    """``raw`` with a DKIM-Signature (rsa-sha256, relaxed/relaxed) in front, covering DKIM_SIGNED_HEADERS.

    Relaxed header canonicalisation survives the refolding some relays do; ``raw`` must be the exact bytes
    that will be sent. An unusable key raises ``dkim.DKIMException``.
    """
    check_header_value("selector", selector)
    check_header_value("domain", domain)
    signed = [name.encode() for name in DKIM_SIGNED_HEADERS] * 2
    signature = dkim.sign(
        raw,
        selector.encode(),
        domain.encode(),
        private_key_pem,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=signed,
    )
    return bytes(signature) + raw


def _header_bound_values(email: OutboundEmail) -> Iterator[tuple[str, str]]:
    yield from (
        ("from_address", email.from_address),
        ("from_name", email.from_name),
        ("to_address", email.to_address),
        ("subject", email.subject),
        ("message_id", email.message_id),
        ("unsubscribe_mailto", email.unsubscribe_mailto),
        ("unsubscribe_url", email.unsubscribe_url),
    )
    optional = (("to_name", email.to_name), ("reply_to", email.reply_to), ("reply_to_name", email.reply_to_name))
    for name, value in optional:
        if value is not None:
            yield name, value
    for name, value in email.headers.items():
        yield "headers", name
        yield f"headers[{name!r}]", value
    for index, message_id in enumerate(email.thread):
        yield f"thread[{index}]", message_id


def _address(field_name: str, value: str) -> Address:
    """A plain ASCII address (IDNA domain): SMTPUTF8 local parts are refused, few servers would carry them."""
    try:
        checked = validate_email(value, check_deliverability=False, test_environment=True, allow_smtputf8=False)
    except EmailNotValidError as error:
        raise OutboundEmailError(field_name, str(error)) from None
    return Address(addr_spec=checked.ascii_email or checked.normalized)


def _message_id(value: str, sender_domain: str) -> str:
    match = _MESSAGE_ID.match(value)
    if match is None:
        raise OutboundEmailError("message_id", f"{value!r} is not of the form <id@domain>")
    if match.group(1).lower() != sender_domain.lower():
        raise OutboundEmailError("message_id", f"must be on the sender's domain {sender_domain}")
    return value


def _thread_id(value: str) -> str:
    if _MESSAGE_ID.match(value) is None:
        raise OutboundEmailError("thread", f"{value!r} is not a Message-ID of the form <id@domain>")
    return value


def _uri(field_name: str, value: str, scheme: str) -> str:
    if not value.lower().startswith(scheme):
        raise OutboundEmailError(field_name, f"must start with {scheme}")
    if not value.isascii() or _URI_FORBIDDEN.search(value) or len(value) > MAX_URI_LENGTH:
        raise OutboundEmailError(
            field_name, f"must be a percent-encoded ASCII URI of at most {MAX_URI_LENGTH} characters"
        )
    return value


def _text_part(body: str, subtype: str) -> EmailMessage:
    part = EmailMessage(policy=POLICY)
    part.set_content(body, subtype=subtype)
    del part["MIME-Version"]  # set_content adds it; it belongs to the top level only
    return part
