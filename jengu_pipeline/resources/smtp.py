"""SMTP transport: one connection per sending tick, and every attempt classified.

What matters to the send ledger is not only "did it work" but "can the server have accepted it". smtplib's
``sendmail`` cannot say that, so the transaction is driven step by step: MAIL, RCPT and DATA with their own
replies, then the dot-stuffed message written with ``sendall``, then the final reply read on its own. A
connection lost before the last byte of the terminating ``<CRLF>.<CRLF>`` was written leaves the server with
an incomplete message, which RFC 5321 (4.1.1.4) makes it discard: safe to retry. Lost after it, the server may
have queued the message: the outcome is UNKNOWN and the caller must reconcile, never resend blindly.

Outcomes:

- SENT: 2xx after the end of data; the server took responsibility for the message.
- DEFERRED: a 4xx reply (MAIL, RCPT, DATA or end of data): nothing delivered, retry later.
- HARD_BOUNCE: a 5xx about the recipient: at RCPT (except 5.7.x), or after DATA unless its enhanced code is
  5.3.x, 5.5.x, 5.6.x or 5.7.x. Suppress the address.
- BLOCKED: a 5xx about the sender, the message or its reputation: any 5xx to MAIL FROM, any 5.7.x, and
  5.3.x/5.5.x/5.6.x after DATA. The recipient is not at fault and is not suppressed; the inbox needs attention
  and nothing should be retried automatically.
- AUTH_FAILED: the server refused the credentials (5xx to AUTH) or offers no way to use them. Nothing sent.
- CONNECTION_FAILED: nothing can have been accepted: refused or timed-out connections, TLS failures, a
  refused greeting, EHLO or STARTTLS, a 4xx to AUTH, a connection lost before the message was complete.
- UNKNOWN: the whole message was written but no sensible reply came back. Maybe delivered.

After DEFERRED, HARD_BOUNCE or BLOCKED the session sends RSET and stays usable; after a lost connection or a
421 it is closed and reopened by the next ``send``. A session is for one thread.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Literal

from jengu_pipeline.domain.inboxes import TlsMode, is_loopback_host
from jengu_pipeline.domain.outbound import check_header_value
from jengu_pipeline.resources.redaction import redacting_logger, register_secret

log = redacting_logger(__name__)

Stage = Literal["connect", "auth", "mail", "rcpt", "data", "end_of_data"]
TransactionStage = Literal["mail", "rcpt", "data", "end_of_data"]

_ENHANCED_STATUS = re.compile(r"\s*5\.(\d{1,3})\.\d{1,3}\b")
_SENDER_OR_MESSAGE = frozenset({3, 5, 6, 7})  # 5.3 mail system, 5.5 protocol, 5.6 content, 5.7 policy
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


class Outcome(StrEnum):
    """What one attempt means for the message and its recipient (see the module docstring)."""

    SENT = "sent"
    DEFERRED = "deferred"
    HARD_BOUNCE = "hard_bounce"
    BLOCKED = "blocked"
    AUTH_FAILED = "auth_failed"
    CONNECTION_FAILED = "connection_failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where an inbox submits mail. The password never appears in repr and is masked in every log line."""

    host: str
    port: int
    tls: TlsMode
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if (self.username is None) != (self.password is None):
            raise ValueError("SMTP username and password go together")
        if self.password is not None:
            register_secret(self.password)
            if self.tls == "none" and not is_loopback_host(self.host):
                raise ValueError(f"refusing to send an SMTP password in clear text to {self.host}; use TLS")


@dataclass(frozen=True)
class SmtpResult:
    """One attempt: its outcome, the server's last reply ("250 2.0.0 Ok: queued as X", or the error met)."""

    outcome: Outcome
    code: int | None
    reply: str
    stage: Stage


def classify_reply(stage: TransactionStage, code: int, text: str) -> Outcome:
    """The outcome of a reply that ends the transaction at ``stage`` (anything but 2xx/354 before end of data)."""
    if stage == "end_of_data" and 200 <= code < 300:
        return Outcome.SENT
    if 400 <= code < 500:
        return Outcome.DEFERRED
    if 500 <= code < 600:
        enhanced = _ENHANCED_STATUS.match(text)
        subject = int(enhanced.group(1)) if enhanced else None
        if stage == "mail" or subject == 7:
            return Outcome.BLOCKED
        if stage in ("data", "end_of_data") and subject in _SENDER_OR_MESSAGE:
            return Outcome.BLOCKED
        return Outcome.HARD_BOUNCE
    # A reply no server should give: before the end of data nothing was sent; after it, anything may be true.
    return Outcome.UNKNOWN if stage == "end_of_data" else Outcome.CONNECTION_FAILED


def data_payload(raw: bytes) -> bytes:
    """``raw`` as DATA carries it: CRLF line ends, a leading dot doubled (RFC 5321 4.5.2), then ``.<CRLF>``."""
    lines = _LEADING_DOT.sub(b"..", _LINE_ENDS.sub(b"\r\n", raw))
    if not lines.endswith(b"\r\n"):
        lines += b"\r\n"
    return lines + b".\r\n"


class SmtpSession:
    """One SMTP connection (TLS and login included) reused for every message of a tick; opened lazily."""

    def __init__(
        self, endpoint: SmtpEndpoint, *, local_hostname: str | None = None, ssl_context: ssl.SSLContext | None = None
    ) -> None:
        self.endpoint = endpoint
        self._local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._client: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        return f"SmtpSession({self.endpoint!r}, connected={self._client is not None})"

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """QUIT politely; a connection that is already gone is just dropped."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def send(self, envelope_from: str, recipient: str, raw: bytes) -> SmtpResult:
        """Submit ``raw`` (7-bit, as ``build_message`` makes it) for one recipient; never raises for SMTP trouble.

        A line break in an envelope address raises HeaderInjectionError, a non-ASCII message ValueError.
        """
        check_header_value("envelope_from", envelope_from)  # a line break would smuggle in SMTP commands
        check_header_value("recipient", recipient)
        if not raw.isascii():
            raise ValueError("the message must be 7-bit ASCII (build_message encodes non-ASCII text)")
        connected = self._connection()
        if isinstance(connected, SmtpResult):
            result = connected
        else:
            result = self._transaction(connected, envelope_from, recipient, raw)
        log.info(
            "smtp %s:%s %s -> %s: %s at %s (%s)",
            self.endpoint.host,
            self.endpoint.port,
            envelope_from,
            recipient,
            result.outcome,
            result.stage,
            result.reply,
        )
        return result

    def _connection(self) -> smtplib.SMTP | SmtpResult:
        """The open connection if it still answers NOOP (servers drop idle ones), else a new one."""
        if self._client is not None:
            try:
                if self._client.noop()[0] == 250:
                    return self._client
            except (smtplib.SMTPException, OSError):
                pass
            self._drop()
        client: smtplib.SMTP | None = None
        stage: Stage = "connect"
        try:
            client = self._new_client()
            client.ehlo_or_helo_if_needed()
            if self.endpoint.tls == "starttls":
                client.starttls(context=self._context())  # never falls back to clear text
                client.ehlo()
            if self.endpoint.username is not None and self.endpoint.password is not None:
                stage = "auth"
                client.login(self.endpoint.username, self.endpoint.password)
        except (smtplib.SMTPException, OSError) as error:
            if client is not None:
                client.close()
            return _setup_failure(stage, error)
        log.debug("smtp %s:%s connected (%s)", self.endpoint.host, self.endpoint.port, self.endpoint.tls)
        self._client = client
        return client

    def _new_client(self) -> smtplib.SMTP:
        """Connected and greeted (SMTPConnectError otherwise); the host given here is the one TLS verifies."""
        endpoint = self.endpoint
        if endpoint.tls == "ssl":
            return smtplib.SMTP_SSL(
                endpoint.host,
                endpoint.port,
                local_hostname=self._local_hostname,
                timeout=endpoint.timeout_s,
                context=self._context(),
            )
        return smtplib.SMTP(
            endpoint.host, endpoint.port, local_hostname=self._local_hostname, timeout=endpoint.timeout_s
        )

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def _transaction(self, client: smtplib.SMTP, envelope_from: str, recipient: str, raw: bytes) -> SmtpResult:
        commands: tuple[tuple[TransactionStage, Callable[[], tuple[int, bytes]]], ...] = (
            ("mail", lambda: client.mail(envelope_from)),
            ("rcpt", lambda: client.rcpt(recipient)),
            ("data", lambda: client.docmd("data")),
        )
        for stage, command in commands:
            try:
                code, text = command()
            except (smtplib.SMTPException, OSError) as error:
                return self._lost(Outcome.CONNECTION_FAILED, stage, error)
            if not (code == 354 if stage == "data" else 200 <= code < 300):
                return self._refused(client, stage, code, text)
        try:
            assert client.sock is not None  # docmd just used it
            client.sock.sendall(data_payload(raw))
        except OSError as error:
            return self._lost(Outcome.CONNECTION_FAILED, "data", error)
        try:
            code, text = client.getreply()
        except (smtplib.SMTPException, OSError) as error:
            return self._lost(Outcome.UNKNOWN, "end_of_data", error)
        result = _result(classify_reply("end_of_data", code, _text(text)), "end_of_data", code, text)
        if result.outcome is Outcome.UNKNOWN or code == 421:
            self._drop()
        return result

    def _refused(self, client: smtplib.SMTP, stage: TransactionStage, code: int, text: bytes) -> SmtpResult:
        """The server said no before the message: RSET for the next one, or drop the connection after 421."""
        result = _result(classify_reply(stage, code, _text(text)), stage, code, text)
        if code == 421 or result.outcome is Outcome.CONNECTION_FAILED:
            self._drop()
            return result
        try:
            if client.rset()[0] != 250:
                self._drop()
        except (smtplib.SMTPException, OSError):
            self._drop()
        return result

    def _lost(self, outcome: Outcome, stage: TransactionStage, error: BaseException) -> SmtpResult:
        self._drop()
        return SmtpResult(outcome, None, _describe(error), stage)

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def _setup_failure(stage: Stage, error: smtplib.SMTPException | OSError) -> SmtpResult:
    """Only a permanent refusal of the credentials, or a server with no way to take them, is AUTH_FAILED."""
    if isinstance(error, smtplib.SMTPResponseException):
        refused = stage == "auth" and error.smtp_code >= 500
        outcome = Outcome.AUTH_FAILED if refused else Outcome.CONNECTION_FAILED
        return _result(outcome, stage, error.smtp_code, error.smtp_error)
    unusable = stage == "auth" and not isinstance(error, smtplib.SMTPServerDisconnected | OSError)
    return SmtpResult(Outcome.AUTH_FAILED if unusable else Outcome.CONNECTION_FAILED, None, _describe(error), stage)


def _result(outcome: Outcome, stage: Stage, code: int, text: bytes | str) -> SmtpResult:
    return SmtpResult(outcome, code, f"{code} {_text(text)}".rstrip(), stage)


def _text(text: bytes | str) -> str:
    """One line of reply text: smtplib joins a multiline reply with newlines and drops the codes."""
    decoded = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    return " ".join(decoded.split())


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".rstrip(": ")
