"""Raw inbound bytes to a :class:`ParsedReply`: decoded once, bounded, and never trusting what a stranger wrote.

Headers may be 8-bit in any charset, Message-IDs may be missing or malformed, the MIME tree may be broken or
huge: every accessor here degrades to "absent" instead of raising, and only the first ``MAX_PARSED_BYTES``
of a message are parsed (a 5 MB attachment says nothing about the reply).
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Final

from jengu_pipeline.domain.replies.model import NEW_TEXT_LIMIT, DeliveryStatus, ParsedReply

MAX_PARSED_BYTES: Final = 2 * 1024 * 1024
MAX_PARTS: Final = 200
"""MIME parts walked at most: a message of ten thousand parts is an attack, not a reply."""
TEXT_LIMIT: Final = 20 * NEW_TEXT_LIMIT
_MESSAGE_ID: Final = re.compile(r"<[^<>\s]{1,500}>")
_KEPT_HEADERS: Final = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "x-failed-recipients",
    "x-precedence",
    "list-id",
    "return-path",
    "x-mailer",
    "content-type",
)
_PARSER: Final = BytesParser(policy=policy.compat32)


def _chunk(data: bytes | str, charset: str | None) -> str:
    if isinstance(data, str):
        return data
    if charset and charset != "unknown-8bit":
        try:
            return data.decode(charset, "replace")
        except LookupError:
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _decode(value: object) -> str:
    """A header as text: RFC 2047 words decoded, raw 8-bit bytes read as UTF-8 or else Windows-1252."""
    if value is None:
        return ""
    if isinstance(value, str) and any("\udc80" <= char <= "\udcff" for char in value):
        value = _chunk(value.encode("utf-8", "surrogateescape"), None)
    try:
        chunks = decode_header(value)  # type: ignore[arg-type]
        text = "".join(_chunk(data, charset) for data, charset in chunks)
    except Exception:  # a broken encoded word keeps its undecoded text
        text = str(value)
    return " ".join(text.split())


def header(message: Message, name: str) -> str:
    """One header's decoded text, or ``""`` when absent or unreadable."""
    try:
        return _decode(message.get(name))
    except Exception:
        return ""


def message_ids(value: str) -> tuple[str, ...]:
    """The ``<id@host>`` tokens of a Message-ID, In-Reply-To or References header, in order."""
    return tuple(dict.fromkeys(_MESSAGE_ID.findall(value)))


def addresses(value: str) -> tuple[tuple[str, str], ...]:
    """(name, lower-cased address) pairs with an ``@``, from an address header."""
    try:
        pairs = getaddresses([value])
    except Exception:
        return ()
    return tuple((name, address.strip().lower()) for name, address in pairs if "@" in address)


class _TextOfHtml(HTMLParser):
    """HTML to the text a reader sees: block elements break lines, scripts and styles vanish."""

    BLOCKS: Final = frozenset({"p", "div", "br", "tr", "li", "blockquote", "h1", "h2", "h3", "table", "hr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.quoted = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head", "title"):
            self.hidden += 1
        if tag == "blockquote" or (tag == "div" and any(v and "quote" in v for _, v in attrs)):
            self.quoted += 1 if tag == "blockquote" else 0
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head", "title"):
            self.hidden = max(0, self.hidden - 1)
        if tag == "blockquote":
            self.quoted = max(0, self.quoted - 1)
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            if self.quoted:
                data = "\n".join("> " + line for line in data.splitlines())
            self.parts.append(data)


def html_to_text(document: str) -> str:
    """Readable text from an HTML body (blockquoted text keeps a ``>`` prefix, as a plain-text client quotes)."""
    reader = _TextOfHtml()
    with contextlib.suppress(Exception):  # a broken document yields what was read so far
        reader.feed(document[: TEXT_LIMIT * 4])
        reader.close()
    text = "".join(reader.parts).replace("\xa0", " ")
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _payload_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, "replace")
    except LookupError:
        return data.decode("utf-8", "replace")


def _parts(message: Message) -> list[Message]:
    found: list[Message] = []
    for part in message.walk():
        found.append(part)
        if len(found) >= MAX_PARTS:
            break
    return found


def _inside_attached_message(message: Message, target: Message) -> bool:
    """True when ``target`` sits inside a message/rfc822 part (the returned original of a DSN, a forward)."""
    stack: list[tuple[Message, bool]] = [(message, False)]
    seen = 0
    while stack and seen < MAX_PARTS:
        part, inside = stack.pop()
        seen += 1
        if part is target:
            return inside
        children = part.get_payload()
        if isinstance(children, list):
            nested = inside or part.get_content_type() in ("message/rfc822", "message/global")
            stack.extend((child, nested) for child in children if isinstance(child, Message))
    return False


def _body(message: Message, parts: list[Message]) -> tuple[str, bool]:
    """The message's own text: its first text/plain part outside any attached message, else its HTML as text."""
    plain = html = None
    for part in parts:
        if part.get_content_maintype() != "text" or part.get_filename():
            continue
        if _inside_attached_message(message, part):
            continue
        subtype = part.get_content_subtype()
        if subtype == "plain" and plain is None:
            plain = part
        elif subtype == "html" and html is None:
            html = part
        elif subtype == "rfc822-headers":
            continue
    if plain is not None:
        return _payload_text(plain)[:TEXT_LIMIT], False
    if html is not None:
        return html_to_text(_payload_text(html))[:TEXT_LIMIT], True
    return "", False


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The header blocks of a message/delivery-status part (one per message, then one per recipient)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [{k.lower(): _decode(v) for k, v in block.items()} for block in payload if isinstance(block, Message)]
    text = _payload_text(part) if isinstance(payload, str) else ""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
        elif line[:1] in " \t" and last:
            current[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            current[last] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def _address_of(field: str | None) -> str | None:
    """``rfc822; user@host`` -> ``user@host`` (lower-cased), None when there is no address."""
    if not field:
        return None
    value = field.split(";", 1)[1] if ";" in field else field
    value = value.strip().strip("<>").strip().lower()
    return value if "@" in value else None


def _delivery_status(parts: list[Message]) -> tuple[DeliveryStatus, ...]:
    statuses: list[DeliveryStatus] = []
    for part in parts:
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        for block in _status_blocks(part):
            final = _address_of(block.get("final-recipient"))
            original = _address_of(block.get("original-recipient"))
            if final is None and original is None:
                continue  # the per-message block (Reporting-MTA, Arrival-Date)
            statuses.append(
                DeliveryStatus(
                    final_recipient=final,
                    original_recipient=original,
                    action=(block.get("action") or "").strip().lower() or None,
                    status=(block.get("status") or "").strip().split(" ")[0] or None,
                    diagnostic=block.get("diagnostic-code") or None,
                )
            )
    return tuple(statuses)


def _original(parts: list[Message]) -> tuple[str | None, tuple[str, ...]]:
    """The Message-ID and recipients of the message a report returns (message/rfc822 or text/rfc822-headers)."""
    for part in parts:
        content_type = part.get_content_type()
        inner: object = None
        if content_type in ("message/rfc822", "message/global", "message/global-headers"):
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
        elif content_type == "text/rfc822-headers":
            data = part.get_payload(decode=True)
            inner = _PARSER.parsebytes(data if isinstance(data, bytes) else b"")
        if isinstance(inner, Message):
            ids = message_ids(header(inner, "Message-ID"))
            recipients = tuple(a for _, a in addresses(header(inner, "To")))
            if ids or recipients:
                return (ids[0] if ids else None), recipients
    return None, ()


def _date(message: Message) -> datetime | None:
    try:
        value = parsedate_to_datetime(header(message, "Date"))
    except (TypeError, ValueError, IndexError):
        return None
    return value if value.tzinfo is not None else None


def parse_reply(raw: bytes) -> ParsedReply:
    """Parse one inbound message (any bytes: the worst a stranger can send parses to something empty)."""
    truncated = len(raw) > MAX_PARSED_BYTES
    message = _PARSER.parsebytes(raw[:MAX_PARSED_BYTES] if truncated else raw)
    parts = _parts(message)
    text, from_html = _body(message, parts)
    sender = addresses(header(message, "From"))
    ids = message_ids(header(message, "Message-ID"))
    in_reply_to = message_ids(header(message, "In-Reply-To"))
    original_id, original_recipients = _original(parts)
    content_type = message.get_content_type()
    return ParsedReply(
        message_id=ids[0] if ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=message_ids(header(message, "References")),
        from_address=sender[0][1] if sender else None,
        from_name=sender[0][0] if sender else "",
        to_addresses=tuple(a for _, a in addresses(", ".join((header(message, "To"), header(message, "Cc"))))),
        subject=header(message, "Subject")[:998],
        date=_date(message),
        original_message_id=original_id,
        original_recipients=original_recipients,
        text=text,
        headers={name: value for name in _KEPT_HEADERS if (value := header(message, name))},
        content_type=content_type,
        report_type=(message.get_param("report-type") or None) if content_type == "multipart/report" else None,  # type: ignore[arg-type]
        delivery_status=_delivery_status(parts),
        text_from_html=from_html,
        truncated=truncated,
        message=message,
    )
