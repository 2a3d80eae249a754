"""Outbound messages: every header parsed back, bodies intact, header injection impossible, DKIM verified."""

from __future__ import annotations

import base64
import dataclasses
import email
import unicodedata
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage, MIMEPart

import dkim
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jengu_pipeline.domain.outbound import (
    DKIM_SIGNED_HEADERS,
    HeaderInjectionError,
    OutboundEmail,
    OutboundEmailError,
    build_message,
    new_message_id,
    sign_dkim,
)

SENT_AT = datetime(2026, 3, 10, 9, 30, tzinfo=timezone(timedelta(hours=1)))
UNSUBSCRIBE_URL = "https://jengu.example/u/tok-3f9a?one-click=1"
UNSUBSCRIBE_MAILTO = "mailto:unsubscribe@jengu.example?subject=unsubscribe%20tok-3f9a"
SUBJECT = "Une idée pour l'Hôtel du Lac — 2 minutes ?"
TEXT = "Bonjour Anna,\n\nUne idée rapide pour vos clients.\n.Une ligne qui commence par un point\nFrom the team\n\nZoë"
HTML = "<p>Bonjour Anna,</p><p>Une idée rapide.</p>"


def outbound(**changes: object) -> OutboundEmail:
    email_ = OutboundEmail(
        from_address="zoe@jengu.example",
        from_name="Zoë Müller",
        to_address="anna.keller@hotel-du-lac.test",
        to_name="Anna Keller",
        reply_to="replies@jengu.example",
        subject=SUBJECT,
        body_text=TEXT,
        body_html=HTML,
        message_id="<5e0c1d8f2b7a4c1e9d3f6a2b8c4e7d10@jengu.example>",
        unsubscribe_mailto=UNSUBSCRIBE_MAILTO,
        unsubscribe_url=UNSUBSCRIBE_URL,
        date=SENT_AT,
        headers={"X-Jengu-Send-Id": "send-42"},
    )
    return dataclasses.replace(email_, **changes)  # type: ignore[arg-type]


def parsed(email_: OutboundEmail) -> tuple[bytes, EmailMessage]:
    raw = build_message(email_).as_bytes()
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return raw, message


def content(part: MIMEPart) -> str:
    """A part's text with the line ends of the code that wrote it (the bytes on the wire have CRLF)."""
    return str(part.get_content()).replace("\r\n", "\n")


def test_every_header_reads_back() -> None:
    raw, message = parsed(outbound())
    assert list(message.keys()) == [
        "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
        "X-Jengu-Send-Id", "MIME-Version", "Content-Type",
    ]  # fmt: skip
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Zoë Müller", "zoe@jengu.example")
    assert b"Zo=C3=AB" in raw, "a non-ASCII display name travels as an RFC 2047 encoded word"
    (recipient,) = message["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == ("Anna Keller", "anna.keller@hotel-du-lac.test")
    assert message["Reply-To"].addresses[0].addr_spec == "replies@jengu.example"
    assert message["Subject"] == SUBJECT
    assert message["Date"].datetime == SENT_AT
    assert message["Message-ID"] == "<5e0c1d8f2b7a4c1e9d3f6a2b8c4e7d10@jengu.example>"
    assert message["List-Unsubscribe"] == f"<{UNSUBSCRIBE_URL}>, <{UNSUBSCRIBE_MAILTO}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Jengu-Send-Id"] == "send-42"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert (plain.get_content_type(), content(plain)) == ("text/plain", TEXT + "\n")
    assert (html.get_content_type(), content(html)) == ("text/html", HTML + "\n")
    assert "MIME-Version" not in plain
    assert "MIME-Version" not in html
    assert raw.isascii(), "7-bit clean: no relay has to re-encode it (which would break DKIM)"
    lines = raw.split(b"\r\n")
    assert b"\n" not in b"".join(lines), "CRLF line ends only"
    assert max(len(line) for line in lines) <= 78


def test_text_only_message_without_optional_headers() -> None:
    _, message = parsed(outbound(body_html=None, to_name=None, reply_to=None, headers={}))
    assert "Reply-To" not in message
    assert "X-Jengu-Send-Id" not in message
    assert str(message["To"]) == "anna.keller@hotel-du-lac.test"
    assert message.get_content_type() == "text/plain"
    assert content(message) == TEXT + "\n"
    assert "<img" not in message.as_string(), "nothing is added to the body (no tracking pixel)"


def test_long_lines_and_long_unsubscribe_urls_stay_intact() -> None:
    body = "x" * 5000 + "\n" + "é" * 1200 + "\n..two dots\n.\n"
    url = "https://jengu.example/unsubscribe/" + "a" * 700
    raw, message = parsed(outbound(body_text=body, body_html=None, unsubscribe_url=url))
    assert max(len(line) for line in raw.split(b"\r\n")) < 998
    assert content(message) == body
    assert message["List-Unsubscribe"] == f"<{url}>, <{UNSUBSCRIBE_MAILTO}>"
    assert b"=?" not in raw.split(b"List-Unsubscribe:")[1].split(b"List-Unsubscribe-Post")[0], "not an encoded word"


@pytest.mark.parametrize(
    "field",
    ["from_address", "from_name", "to_address", "to_name", "reply_to", "subject", "message_id",
     "unsubscribe_mailto", "unsubscribe_url"],
)  # fmt: skip
@pytest.mark.parametrize(
    "payload", ["\r\nBcc: x@evil.test", "\nBcc: x@evil.test", "\u2028Bcc: x@evil.test", "\x85", "\x00", "\t"]
)
def test_line_breaks_and_control_characters_are_refused(field: str, payload: str) -> None:
    value = getattr(outbound(), field) + payload
    with pytest.raises(HeaderInjectionError) as refused:
        build_message(outbound(**{field: value}))
    assert refused.value.field == field
    assert field in str(refused.value)


def test_an_encoded_word_cannot_smuggle_a_line_break() -> None:
    """The email package decodes =?..?= in assigned values: this subject would become a Bcc header."""
    with pytest.raises(HeaderInjectionError) as refused:
        build_message(outbound(subject="=?utf-8?q?Hi=0D=0ABcc:_x@evil.test?="))
    assert refused.value.field == "subject"


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Jengu-Send-Id": "42\r\nBcc: x@evil.test"},
        {"X-Jengu\r\nBcc": "x"},
        {"Bcc": "x@evil.test"},
        {"X-Bad Name": "1"},
    ],
)
def test_extra_headers_are_x_headers_without_line_breaks(headers: dict[str, str]) -> None:
    with pytest.raises(OutboundEmailError) as refused:
        build_message(outbound(headers=headers))
    assert refused.value.field.startswith("headers")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"to_address": "anna.keller@"}, "to_address"),
        ({"to_address": "Anna <anna@hotel.test>"}, "to_address"),
        ({"from_address": "zoe@@jengu.example"}, "from_address"),
        ({"reply_to": "replies"}, "reply_to"),
        ({"to_address": "zoë@hotel.test"}, "to_address"),  # would need SMTPUTF8
        ({"message_id": "<abc@elsewhere.example>"}, "message_id"),
        ({"message_id": "abc@jengu.example"}, "message_id"),
        ({"unsubscribe_url": "http://jengu.example/u/1"}, "unsubscribe_url"),
        ({"unsubscribe_url": "https://jengu.example/u/a b"}, "unsubscribe_url"),
        ({"unsubscribe_url": "https://jengu.example/u/>"}, "unsubscribe_url"),
        ({"unsubscribe_mailto": "unsubscribe@jengu.example"}, "unsubscribe_mailto"),
        ({"date": datetime(2026, 3, 10, 9, 30)}, "date"),  # naive
    ],
)
def test_invalid_values_name_their_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(OutboundEmailError) as refused:
        build_message(outbound(**changes))
    assert refused.value.field == field


def test_an_internationalised_domain_is_sent_in_its_ascii_form() -> None:
    _, message = parsed(outbound(to_address="anna@hôtel-du-lac.test"))
    local, _, domain = message["To"].addresses[0].addr_spec.partition("@")
    assert (local, domain.startswith("xn--"), domain.encode().decode("idna")) == ("anna", True, "hôtel-du-lac.test")


def test_new_message_ids_are_unique_and_on_the_sender_domain() -> None:
    ids = {new_message_id("Zoe@Jengu.Example") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("<") and i.endswith("@jengu.example>") for i in ids)
    build_message(outbound(message_id=ids.pop()))


UNSAFE = frozenset({"Cc", "Zl", "Zp", "Cs"})
TRICKY = st.lists(
    st.one_of(
        st.sampled_from(['"', "\\", "<", ">", ",", ";", ":", "@", "(", ")", " ", "\t", "\r\n", "\n", "\u2028", "\x85",
                         "Bcc: x@evil.test", "=?utf-8?q?", "=?utf-8?b?", "?=", "=0D=0A", "é", "—"]),
        st.text(max_size=12),
    ),
    max_size=12,
).map("".join)  # fmt: skip


def squashed(text: str) -> str:
    """Text without white space: folding may move it (and the stdlib parser leaves a space between two
    encoded words of a display name, where RFC 2047 6.2 says to drop it)."""
    return "".join(text.split())


@settings(max_examples=300, deadline=None)
@given(subject=TRICKY, from_name=TRICKY, to_name=TRICKY, send_id=TRICKY)
def test_no_text_in_a_header_value_ever_adds_a_header(subject: str, from_name: str, to_name: str, send_id: str) -> None:
    email_ = outbound(
        subject=subject, from_name=from_name, to_name=to_name, headers={"X-Jengu-Send-Id": send_id}, body_html=None
    )
    text = subject + from_name + to_name + send_id
    try:
        raw, message = parsed(email_)
    except HeaderInjectionError:
        assert "=?" in text or any(unicodedata.category(char) in UNSAFE for char in text)
        return
    assert list(message.keys()) == [
        "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
        "X-Jengu-Send-Id", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
    ]  # fmt: skip
    assert [a.addr_spec for a in message["From"].addresses] == ["zoe@jengu.example"]
    assert [a.addr_spec for a in message["To"].addresses] == ["anna.keller@hotel-du-lac.test"]
    assert squashed(message["Subject"]) == squashed(subject)
    assert squashed(message["From"].addresses[0].display_name) == squashed(from_name)
    assert squashed(message["To"].addresses[0].display_name) == squashed(to_name)
    assert squashed(message["X-Jengu-Send-Id"]) == squashed(send_id)
    assert raw.isascii()


def test_dkim_signature_verifies_and_covers_the_unsubscribe_headers(rsa_key: tuple[bytes, bytes]) -> None:
    private_pem, public_der = rsa_key
    raw = build_message(outbound()).as_bytes()
    signed = sign_dkim(raw, domain="jengu.example", selector="s2026", private_key_pem=private_pem)
    records = {b"s2026._domainkey.jengu.example.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)}
    lookups: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        lookups.append(name)
        return records.get(name)

    assert signed.endswith(raw)
    assert dkim.verify(signed, dnsfunc=dns)
    assert lookups == [b"s2026._domainkey.jengu.example."], "the signature was checked against our key"
    header = email.message_from_bytes(signed, policy=policy.default)["DKIM-Signature"]
    tags = dict(tag.strip().split("=", 1) for tag in "".join(str(header).split()).split(";") if tag.strip())
    signed_headers = tags["h"].split(":")
    assert {"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"} <= set(
        signed_headers
    )
    assert signed_headers == list(DKIM_SIGNED_HEADERS) * 2, "oversigned: no header can be added later"
    assert (tags["d"], tags["s"], tags["c"], tags["a"]) == ("jengu.example", "s2026", "relaxed/relaxed", "rsa-sha256")

    # Any change to a covered header, an added one, or the body, breaks it.
    tampered_url = signed.replace(b"/u/tok-3f9a", b"/u/tok-0000")
    added_header = signed.replace(
        b"List-Unsubscribe-Post:", b"List-Unsubscribe: <https://evil.test/>\r\nList-Unsubscribe-Post:"
    )
    tampered_body = signed.replace(b"Bonjour Anna", b"Bonjour Eve!")
    for tampered in (tampered_url, added_header, tampered_body):
        assert tampered != signed
        assert not dkim.verify(tampered, dnsfunc=dns)
    wrong_key = {b"s2026._domainkey.jengu.example.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(b"\x00" * 10)}
    assert not dkim.verify(signed, dnsfunc=lambda name, timeout=5: wrong_key.get(name))


def test_dkim_refuses_line_breaks_in_its_parameters(rsa_key: tuple[bytes, bytes]) -> None:
    raw = build_message(outbound()).as_bytes()
    with pytest.raises(HeaderInjectionError):
        sign_dkim(raw, domain="jengu.example", selector="s1\r\nBcc: x", private_key_pem=rsa_key[0])
