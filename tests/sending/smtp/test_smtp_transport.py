"""The SMTP transport against a real server on loopback with injected faults: every outcome, classified."""

from __future__ import annotations

import base64
import dataclasses
import email
import logging
import socket
import ssl
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import dkim
import pytest
from smtp_faults import (
    ACCEPT_THEN_DROP,
    ACCEPT_THEN_STALL,
    DROP,
    DROP_IN_DATA,
    PASSWORD,
    USERNAME,
    FaultySmtpServer,
    client_context,
    server_context,
)

from jengu_pipeline.domain.outbound import HeaderInjectionError, OutboundEmail, build_message, sign_dkim
from jengu_pipeline.resources.smtp import (
    Outcome,
    SmtpEndpoint,
    SmtpSession,
    classify_reply,
    data_payload,
)

SENDER = "zoe@jengu.example"
RAW = b"From: zoe@jengu.example\r\nTo: anna@hotel.test\r\nSubject: Hi\r\n\r\nHello Anna,\r\n.a line with a dot\r\n"


def session(endpoint: SmtpEndpoint, ssl_context: ssl.SSLContext | None = None) -> SmtpSession:
    return SmtpSession(endpoint, local_hostname="outreach.jengu.example", ssl_context=ssl_context)


def larger_than_socket_buffers() -> int:
    """More bytes than the kernel can hold for a peer that stopped reading, so that the writer is still
    writing when the server resets the connection (sending buffers grow up to tcp_wmem's maximum)."""
    wmem = Path("/proc/sys/net/ipv4/tcp_wmem")
    most = int(wmem.read_text().split()[2]) if wmem.exists() else 4 * 1024 * 1024
    return 2 * most + 1024 * 1024


def test_421_then_451_then_success(smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint) -> None:
    smtp_server.script("anna@hotel.test", ["421 4.7.0 Try again later, closing connection", "451 4.3.0 Busy"])
    with session(endpoint) as smtp:
        results = [smtp.send(SENDER, "anna@hotel.test", RAW) for _ in range(3)]
    assert [(r.outcome, r.code, r.stage) for r in results] == [
        (Outcome.DEFERRED, 421, "rcpt"),
        (Outcome.DEFERRED, 451, "rcpt"),
        (Outcome.SENT, 250, "end_of_data"),
    ]
    assert results[0].reply == "421 4.7.0 Try again later, closing connection"
    assert results[2].reply == "250 2.0.0 Ok: queued as 00000001"
    (stored,) = smtp_server.messages
    assert (stored.mail_from, stored.rcpt_tos, stored.raw) == (SENDER, ("anna@hotel.test",), RAW)
    # 421 closes the connection (the client reconnects); after 451 it resets and goes on with the same one.
    assert smtp_server.connections == 2
    assert smtp_server.commands == [
        (1, "MAIL"), (1, "RCPT"),
        (2, "MAIL"), (2, "RCPT"), (2, "RSET"),
        (2, "NOOP"), (2, "MAIL"), (2, "RCPT"), (2, "DATA"),
    ]  # fmt: skip


def test_user_unknown_is_a_hard_bounce_and_the_session_goes_on(
    smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint
) -> None:
    smtp_server.script("gone@hotel.test", ["550 5.1.1 <gone@hotel.test>: Recipient address rejected: User unknown"])
    with session(endpoint) as smtp:
        bounced = smtp.send(SENDER, "gone@hotel.test", RAW)
        sent = smtp.send(SENDER, "anna@hotel.test", RAW)
    assert (bounced.outcome, bounced.code, bounced.stage) == (Outcome.HARD_BOUNCE, 550, "rcpt")
    assert "User unknown" in bounced.reply
    assert sent.outcome is Outcome.SENT
    assert [m.rcpt_tos for m in smtp_server.messages] == [("anna@hotel.test",)]
    assert smtp_server.connections == 1
    assert (1, "RSET") in smtp_server.commands


@pytest.mark.parametrize(
    ("stage", "reply", "outcome"),
    [
        ("mail", "550 5.7.1 Sender address rejected: not owned by user", Outcome.BLOCKED),
        ("mail", "451 4.3.2 System not accepting network messages", Outcome.DEFERRED),
        ("rcpt", "550 5.7.1 <anna@hotel.test>: Relay access denied", Outcome.BLOCKED),
        ("rcpt", "552 5.2.2 Mailbox full", Outcome.HARD_BOUNCE),
        ("data", "451 4.7.1 Please try again later", Outcome.DEFERRED),
        ("data", "554 5.5.1 Error: no valid recipients", Outcome.BLOCKED),
        ("end_of_data", "550 5.1.1 The email account that you tried to reach does not exist", Outcome.HARD_BOUNCE),
        ("end_of_data", "554 5.7.1 Message rejected as spam", Outcome.BLOCKED),
        ("end_of_data", "552 5.3.4 Message size exceeds fixed limit", Outcome.BLOCKED),
        ("end_of_data", "452 4.2.2 Mailbox temporarily full", Outcome.DEFERRED),
        ("end_of_data", "554 Transaction failed", Outcome.HARD_BOUNCE),
    ],
)
def test_refusals_at_each_stage(
    smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint, stage: str, reply: str, outcome: Outcome
) -> None:
    smtp_server.script(SENDER if stage == "mail" else "anna@hotel.test", [reply], at=stage)  # type: ignore[arg-type]
    with session(endpoint) as smtp:
        refused = smtp.send(SENDER, "anna@hotel.test", RAW)
        again = smtp.send(SENDER, "anna@hotel.test", RAW)
    assert (refused.outcome, refused.code, refused.stage, refused.reply) == (outcome, int(reply[:3]), stage, reply)
    assert again.outcome is Outcome.SENT, "the session is usable after a refusal"
    assert len(smtp_server.messages) == 1
    assert smtp_server.connections == 1


@pytest.mark.parametrize(
    ("code", "text", "stage", "outcome"),
    [
        (250, "2.0.0 Ok: queued", "end_of_data", Outcome.SENT),
        (421, "4.7.0 closing", "rcpt", Outcome.DEFERRED),
        (550, "5.1.1 user unknown", "rcpt", Outcome.HARD_BOUNCE),
        (550, "user unknown", "rcpt", Outcome.HARD_BOUNCE),
        (550, "5.4.1 Recipient address rejected: Access denied", "rcpt", Outcome.HARD_BOUNCE),
        (553, "5.1.3 bad address syntax", "rcpt", Outcome.HARD_BOUNCE),
        (554, "5.7.1 Service unavailable; client host blocked", "rcpt", Outcome.BLOCKED),
        (550, "5.7.26 Unauthenticated email is not accepted (DMARC)", "end_of_data", Outcome.BLOCKED),
        (550, "5.1.8 Sender domain does not exist", "mail", Outcome.BLOCKED),
        (553, "5.1.1 mailbox unavailable", "end_of_data", Outcome.HARD_BOUNCE),
        (552, "5.2.2 over quota", "end_of_data", Outcome.HARD_BOUNCE),
        (554, "5.6.0 Message contains invalid header", "end_of_data", Outcome.BLOCKED),
        (354, "go ahead", "end_of_data", Outcome.UNKNOWN),
        (250, "ok", "data", Outcome.CONNECTION_FAILED),
    ],
)
def test_classification_table(code: int, text: str, stage: str, outcome: Outcome) -> None:
    assert classify_reply(stage, code, text) is outcome  # type: ignore[arg-type]


def test_disconnect_in_the_middle_of_data_is_a_connection_failure_and_nothing_is_stored(
    smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint
) -> None:
    big = RAW + b"x" * 70 + b"\r\n"
    big *= larger_than_socket_buffers() // len(big) + 1
    smtp_server.script("anna@hotel.test", [DROP_IN_DATA], at="data")
    with session(endpoint) as smtp:
        lost = smtp.send(SENDER, "anna@hotel.test", big)
        assert (lost.outcome, lost.code, lost.stage) == (Outcome.CONNECTION_FAILED, None, "data")
        assert smtp_server.messages == []
        retried = smtp.send(SENDER, "anna@hotel.test", RAW)  # safe: the server discarded the incomplete message
    assert retried.outcome is Outcome.SENT
    assert smtp_server.connections == 2


@pytest.mark.parametrize("fault", [ACCEPT_THEN_DROP, ACCEPT_THEN_STALL])
def test_no_reply_after_the_whole_message_is_unknown(
    smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint, fault: str
) -> None:
    smtp_server.script("anna@hotel.test", [fault], at="end_of_data")
    short = dataclasses.replace(endpoint, timeout_s=0.5)
    with session(short) as smtp:
        result = smtp.send(SENDER, "anna@hotel.test", RAW)
        assert (result.outcome, result.code, result.stage) == (Outcome.UNKNOWN, None, "end_of_data")
        (stored,) = smtp_server.messages
        assert stored.raw == RAW, "the server did take it: resending would deliver it twice"
        assert smtp.send(SENDER, "bob@hotel.test", RAW).outcome is Outcome.SENT, "a new connection for the next"
    assert smtp_server.connections == 2


def test_a_crash_before_storing_is_unknown_too(smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint) -> None:
    """The client cannot tell this from accept-then-drop: only reconciliation can."""
    smtp_server.script("anna@hotel.test", [DROP], at="end_of_data")
    with session(endpoint) as smtp:
        assert smtp.send(SENDER, "anna@hotel.test", RAW).outcome is Outcome.UNKNOWN
    assert smtp_server.messages == []


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
def test_a_drop_before_the_message_is_a_connection_failure(
    smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint, stage: str
) -> None:
    smtp_server.script(SENDER if stage == "mail" else "anna@hotel.test", [DROP], at=stage)  # type: ignore[arg-type]
    with session(endpoint) as smtp:
        result = smtp.send(SENDER, "anna@hotel.test", RAW)
    assert (result.outcome, result.stage) == (Outcome.CONNECTION_FAILED, stage)
    assert smtp_server.messages == []


def test_wrong_password_is_an_auth_failure(smtp_server: FaultySmtpServer) -> None:
    wrong = SmtpEndpoint(smtp_server.host, smtp_server.port, "none", USERNAME, "not-the-password", timeout_s=5)
    with session(wrong) as smtp:
        result = smtp.send(SENDER, "anna@hotel.test", RAW)
    assert (result.outcome, result.code, result.stage) == (Outcome.AUTH_FAILED, 535, "auth")
    assert not [verb for _, verb in smtp_server.commands if verb == "MAIL"], "nothing was attempted"


def test_a_server_that_refuses_auth_in_clear_text_is_an_auth_failure(certificate: tuple[Path, Path]) -> None:
    """It wants STARTTLS first (530): a configuration to fix, not a message to retry."""
    with FaultySmtpServer(tls="starttls", ssl_context=server_context(*certificate)) as tls_server:
        plain = SmtpEndpoint(tls_server.host, tls_server.port, "none", USERNAME, PASSWORD, timeout_s=5)
        with session(plain) as smtp:
            result = smtp.send(SENDER, "anna@hotel.test", RAW)
    assert (result.outcome, result.code, result.stage) == (Outcome.AUTH_FAILED, 530, "auth")
    assert tls_server.commands == []


def test_connection_refused_is_a_connection_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    endpoint = SmtpEndpoint("127.0.0.1", closed_port, "none", timeout_s=2)
    with session(endpoint) as smtp:
        result = smtp.send(SENDER, "anna@hotel.test", RAW)
    assert (result.outcome, result.code, result.stage) == (Outcome.CONNECTION_FAILED, None, "connect")
    assert "ConnectionRefusedError" in result.reply


def test_one_connection_carries_every_message_of_a_tick(smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint) -> None:
    recipients = [f"guest{n}@hotel.test" for n in range(5)]
    with session(endpoint) as smtp:
        results = [smtp.send(SENDER, rcpt, RAW) for rcpt in recipients]
    assert [r.outcome for r in results] == [Outcome.SENT] * 5
    assert len({r.reply for r in results}) == 5, "five queue ids"
    assert smtp_server.connections == 1
    assert [(m.connection, m.rcpt_tos) for m in smtp_server.messages] == [(1, (r,)) for r in recipients]


def test_a_connection_the_server_dropped_while_idle_is_replaced(
    smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint
) -> None:
    with session(endpoint) as smtp:
        assert smtp.send(SENDER, "anna@hotel.test", RAW).outcome is Outcome.SENT
        smtp_server.drop_connections()
        assert smtp.send(SENDER, "bob@hotel.test", RAW).outcome is Outcome.SENT
    assert [m.connection for m in smtp_server.messages] == [1, 2]


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_tls_modes(certificate: tuple[Path, Path], tls: str) -> None:
    with FaultySmtpServer(tls=tls, ssl_context=server_context(*certificate)) as server:  # type: ignore[arg-type]
        endpoint = SmtpEndpoint(server.host, server.port, tls, USERNAME, PASSWORD, timeout_s=5)  # type: ignore[arg-type]
        with session(endpoint, ssl_context=client_context(certificate[0])) as smtp:
            results = [smtp.send(SENDER, rcpt, RAW) for rcpt in ("anna@hotel.test", "bob@hotel.test")]
        with session(endpoint) as untrusting:  # the system's CAs do not know the test certificate
            refused = untrusting.send(SENDER, "carl@hotel.test", RAW)
    assert [r.outcome for r in results] == [Outcome.SENT, Outcome.SENT]
    assert [(m.connection, m.raw) for m in server.messages] == [(1, RAW), (1, RAW)], "both over one connection"
    assert (refused.outcome, refused.stage) == (Outcome.CONNECTION_FAILED, "connect")
    assert "CERTIFICATE_VERIFY_FAILED" in refused.reply


def test_starttls_is_never_skipped(smtp_server: FaultySmtpServer, certificate: tuple[Path, Path]) -> None:
    """A server that offers no STARTTLS (or a man in the middle that strips it) gets no password."""
    endpoint = SmtpEndpoint(smtp_server.host, smtp_server.port, "starttls", USERNAME, PASSWORD, timeout_s=5)
    with session(endpoint, ssl_context=client_context(certificate[0])) as smtp:
        result = smtp.send(SENDER, "anna@hotel.test", RAW)
    assert (result.outcome, result.stage) == (Outcome.CONNECTION_FAILED, "connect")
    assert "STARTTLS" in result.reply
    assert smtp_server.commands == []


def test_the_password_never_shows(
    smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    wrong_password = "Wrong-smtp-password-77"
    wrong = SmtpEndpoint(smtp_server.host, smtp_server.port, "none", USERNAME, wrong_password, timeout_s=5)
    with caplog.at_level(logging.DEBUG):
        with session(endpoint) as smtp:
            sent = smtp.send(SENDER, "anna@hotel.test", RAW)
            shown = [repr(endpoint), str(endpoint), repr(smtp), repr(sent)]
        with session(wrong) as smtp:
            refused = smtp.send(SENDER, "anna@hotel.test", RAW)
            shown += [repr(wrong), repr(smtp), repr(refused)]
    assert (sent.outcome, refused.outcome) == (Outcome.SENT, Outcome.AUTH_FAILED)
    assert any("auth_failed" in record.getMessage() for record in caplog.records), "the failure was logged"
    for text in [*shown, caplog.text]:
        assert PASSWORD not in text
        assert wrong_password not in text
    assert USERNAME in repr(endpoint)


def test_endpoints_refuse_clear_text_passwords_off_loopback() -> None:
    with pytest.raises(ValueError, match="clear text"):
        SmtpEndpoint("smtp.example.com", 25, "none", USERNAME, PASSWORD)
    with pytest.raises(ValueError, match="go together"):
        SmtpEndpoint("smtp.example.com", 587, "starttls", USERNAME, None)
    SmtpEndpoint("localhost", 25, "none", USERNAME, PASSWORD)
    SmtpEndpoint("smtp.example.com", 465, "ssl", USERNAME, PASSWORD)


def test_envelope_addresses_cannot_carry_commands(smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint) -> None:
    with session(endpoint) as smtp, pytest.raises(HeaderInjectionError):
        smtp.send(SENDER, "anna@hotel.test>\r\nRCPT TO:<x@evil.test", RAW)
    assert smtp_server.commands == []


def test_data_payload_normalises_line_ends_and_stuffs_dots() -> None:
    assert data_payload(b"a\nb\r\n.c\r..\r\n.") == b"a\r\nb\r\n..c\r\n...\r\n..\r\n.\r\n"
    assert data_payload(b"") == b"\r\n.\r\n"


def test_a_built_and_signed_message_arrives_byte_for_byte_and_still_verifies(
    smtp_server: FaultySmtpServer, endpoint: SmtpEndpoint, rsa_key: tuple[bytes, bytes]
) -> None:
    private_pem, public_der = rsa_key
    message = build_message(
        OutboundEmail(
            from_address=SENDER,
            from_name="Zoë Müller",
            to_address="anna@hotel.test",
            to_name="Anna",
            reply_to=None,
            subject="Une idée rapide",
            body_text="Bonjour Anna,\n.point\n" + "é" * 2000,
            body_html="<p>Bonjour</p>",
            message_id="<m1@jengu.example>",
            unsubscribe_mailto="mailto:unsubscribe@jengu.example?subject=unsubscribe%20t1",
            unsubscribe_url="https://jengu.example/u/t1",
            date=datetime(2026, 3, 10, 8, 30, tzinfo=UTC),
        )
    )
    signed = sign_dkim(message.as_bytes(), domain="jengu.example", selector="s1", private_key_pem=private_pem)
    with session(endpoint) as smtp:
        assert smtp.send(SENDER, "anna@hotel.test", signed).outcome is Outcome.SENT
    (stored,) = smtp_server.messages
    assert stored.raw == signed
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)
    assert dkim.verify(stored.raw, dnsfunc=lambda name, timeout=5: record)
    assert email.message_from_bytes(stored.raw, policy=policy.default)["Subject"] == "Une idée rapide"
