"""The Sent-folder client against a real Dovecot: exact Message-ID lookups, appends, TLS, and its errors."""

from __future__ import annotations

import imaplib
import time
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP

import pytest
from dovecot import Dovecot
from imap_tools import MailBoxUnencrypted

from jengu_pipeline.resources.imap import ImapEndpoint, TlsMode
from jengu_pipeline.resources.sent_folder import (
    SentFolderError,
    append_sent,
    find_sent,
    sent_folder_name,
)


def _message(message_id: str, subject: str = "Your stay at the Grand") -> bytes:
    message = EmailMessage()
    message["From"] = "Ana <sender@jengu.example>"
    message["To"] = "manager@grand-hotel.example"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content("Hello,\n\nA short note about your guests.\n")
    return message.as_bytes(policy=SMTP)


def test_an_appended_message_is_found_by_its_exact_id_only(dovecot: Dovecot, endpoint: ImapEndpoint) -> None:
    append_sent(endpoint, _message("<Q7xK-1@jengu.example>"))
    lookalikes = {
        "<q7xk-1@jengu.example>",
        "<Q7xK-1@jengu.exampl>",
        "<Q7xK-1@jengu.example.org>",
        "<7xK-1@jengu.example>",
    }
    with MailBoxUnencrypted(dovecot.host, dovecot.port).login(endpoint.username, endpoint.password, "Sent") as box:
        # IMAP SEARCH is a case-insensitive substring match: the server itself takes the first lookalike for a hit.
        assert box.uids('HEADER Message-ID "<q7xk-1@jengu.example>"')

    assert find_sent(endpoint, {"<Q7xK-1@jengu.example>", *lookalikes}) == {"<Q7xK-1@jengu.example>"}
    assert find_sent(endpoint, lookalikes) == set()


def test_one_call_reports_the_sent_ones_among_many(dovecot: Dovecot, endpoint: ImapEndpoint) -> None:
    for n in (1, 2, 3):
        append_sent(endpoint, _message(f"<m{n}@jengu.example>"))
    other = replace(endpoint, username="other@jengu.example", password=dovecot.users["other@jengu.example"])
    append_sent(other, _message("<m4@jengu.example>"))  # another inbox's Sent is not this one's

    asked = {f"<m{n}@jengu.example>" for n in range(1, 6)}
    assert find_sent(endpoint, asked) == {"<m1@jengu.example>", "<m2@jengu.example>", "<m3@jengu.example>"}
    assert find_sent(other, asked) == {"<m4@jengu.example>"}
    assert find_sent(endpoint, []) == set()


def test_append_stores_the_message_seen_and_dated(dovecot: Dovecot, endpoint: ImapEndpoint) -> None:
    subject = "Réservation à l'hôtel « Étoile » — 東京の客室 🏨"
    raw = _message("<unicode-1@jengu.example>", subject)
    sent_at = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
    append_sent(endpoint, raw, when=sent_at)

    assert find_sent(endpoint, ["<unicode-1@jengu.example>"]) == {"<unicode-1@jengu.example>"}
    with MailBoxUnencrypted(dovecot.host, dovecot.port).login(endpoint.username, endpoint.password, "Sent") as box:
        (uid,) = box.uids()
        _, fetched = box.client.uid("FETCH", uid, "(FLAGS INTERNALDATE BODY.PEEK[])")
    meta, stored = fetched[0]
    assert stored == raw
    assert rb"\Seen" in imaplib.ParseFlags(meta)
    stored_files = dovecot.maildir(endpoint.username).glob(".Sent/cur/*")
    assert [path.name.rsplit(":2,", 1)[1] for path in stored_files] == ["S"]  # Maildir's own record of \Seen
    internal_date = imaplib.Internaldate2tuple(meta)
    assert internal_date is not None
    assert time.mktime(internal_date) == sent_at.timestamp()


def test_one_connection_for_two_hundred_ids(dovecot: Dovecot, endpoint: ImapEndpoint) -> None:
    present = [f"<batch-{n:03d}.{n * 7919 % 1000:03d}@jengu.example>" for n in range(100)]
    absent = [f"<batch-{n:03d}.missing@jengu.example>" for n in range(100)]
    with MailBoxUnencrypted(dovecot.host, dovecot.port).login(endpoint.username, endpoint.password, "Sent") as box:
        for message_id in present:
            box.append(_message(message_id), "Sent")
    logins = dovecot.logins()

    started = time.perf_counter()
    found = find_sent(endpoint, absent + present)
    elapsed = time.perf_counter() - started

    assert found == set(present)
    deadline = time.monotonic() + 5
    while dovecot.logins() == logins and time.monotonic() < deadline:  # Dovecot's log process writes a bit later
        time.sleep(0.02)
    assert dovecot.logins() == logins + 1
    print(f"\nfind_sent: 200 ids (100 present) in {elapsed * 1000:.0f} ms over one IMAP connection")


def test_a_wrong_password_is_an_error_that_does_not_repeat_it(endpoint: ImapEndpoint) -> None:
    wrong = replace(endpoint, password="Hunter2-not-the-password")
    with pytest.raises(SentFolderError) as raised:
        find_sent(wrong, ["<a@jengu.example>"])
    text = str(raised.value)
    assert "logging in failed" in text
    assert "AUTHENTICATIONFAILED" in text
    assert "Hunter2-not-the-password" not in text
    assert "Hunter2-not-the-password" not in repr(wrong)


def test_an_unreachable_server_is_an_error(endpoint: ImapEndpoint) -> None:
    closed = replace(endpoint, port=1, timeout_s=2)  # nothing listens on port 1 here
    with pytest.raises(SentFolderError, match="connecting failed: ConnectionRefusedError"):
        append_sent(closed, _message("<x@jengu.example>"))


def test_a_missing_folder_falls_back_to_the_one_flagged_sent(endpoint: ImapEndpoint) -> None:
    renamed = replace(endpoint, sent_folder="Sent Items")
    assert sent_folder_name(renamed) == "Sent"
    append_sent(renamed, _message("<fallback@jengu.example>"))
    assert find_sent(endpoint, ["<fallback@jengu.example>"]) == {"<fallback@jengu.example>"}


def test_no_sent_folder_at_all_is_a_clear_error(dovecot_without_sent: Dovecot) -> None:
    user = "sender@jengu.example"
    endpoint = ImapEndpoint(
        dovecot_without_sent.host, dovecot_without_sent.port, "none", user, dovecot_without_sent.users[user]
    )
    with pytest.raises(SentFolderError, match=r"no folder 'Sent' and none flagged \\Sent; folders: INBOX"):
        find_sent(endpoint, ["<a@jengu.example>"])


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_tls_verifies_the_server_certificate(dovecot: Dovecot, endpoint: ImapEndpoint, tls: TlsMode) -> None:
    port = dovecot.ssl_port if tls == "ssl" else dovecot.port
    secured = replace(endpoint, tls=tls, port=port, ca_file=str(dovecot.ca_file))
    append_sent(secured, _message(f"<{tls}@jengu.example>"))
    assert find_sent(secured, [f"<{tls}@jengu.example>"]) == {f"<{tls}@jengu.example>"}

    with pytest.raises(SentFolderError, match="CERTIFICATE_VERIFY_FAILED"):
        find_sent(replace(secured, ca_file=None), [f"<{tls}@jengu.example>"])


def test_ids_without_brackets_are_refused_before_any_connection() -> None:
    nowhere = ImapEndpoint("127.0.0.1", 1, "none", "sender@jengu.example", "secret-password")
    with pytest.raises(ValueError, match="not Message-IDs"):
        find_sent(nowhere, ["abc@jengu.example"])  # would never match, so it would read as "not sent"


def test_a_password_never_travels_in_clear_text_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="clear text"):
        ImapEndpoint("imap.example.com", 143, "none", "sender@jengu.example", "secret-password")
