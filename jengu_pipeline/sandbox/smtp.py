"""The sandbox's SMTP server: one loopback MX for every domain of the world, which never relays.

RCPT TO is answered from the world's truth: 250 for a real mailbox and for anything at a
catch-all domain, ``550 5.1.1`` for an unknown user, ``550 5.1.2`` at a dead domain,
``550 5.7.1`` (relaying denied) for any domain outside the world, ``451 4.7.1`` the first time
a greylisting domain sees an address. Faults (``smtp`` in the sandbox config): ``latency_ms``
delays RCPT, ``error_rate`` answers ``451 4.3.0``, ``forbidden`` answers ``554 5.7.1`` as if the
sending IP were blocklisted. A probe may stop after RCPT and QUIT without DATA.

Every accepted message is stored, one ``.eml`` per accepted recipient, under the spool
directory with the trace headers a delivering MTA adds (Return-Path, Delivered-To,
X-Original-To, Received). AUTH (PLAIN/LOGIN, without TLS, loopback only) is optional; when a
client authenticates, the password must be ``SMTP_PASSWORD``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from jengu_pipeline import clock
from jengu_pipeline.sandbox.state import SandboxState
from jengu_pipeline.sandbox.world import Mailbox

SMTP_HOSTNAME = "mx.sandbox.test"
SMTP_USERNAME = "sandbox"
SMTP_PASSWORD = "sandbox-smtp-password"  # noqa: S105 - the sandbox's documented, loopback-only credential


class _WithoutLoginDataNotice(logging.Filter):
    """aiosmtpd 1.4 logs, on every successful AUTH, that a field it sets itself is deprecated: noise, not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


logging.getLogger("mail.log").addFilter(_WithoutLoginDataNotice())

_USER_UNKNOWN = "550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"
_RCPT_REPLIES = {
    Mailbox.EXISTS: ("accepted", "250 2.1.5 Ok"),
    Mailbox.CATCH_ALL: ("accepted", "250 2.1.5 Ok"),
    Mailbox.MISSING: ("refused", _USER_UNKNOWN),
    Mailbox.DEAD_DOMAIN: ("refused", "550 5.1.2 <{address}>: Recipient address rejected: Domain not found"),
    Mailbox.FOREIGN: ("relay_denied", "550 5.7.1 <{address}>: Relay access denied"),
}


class SandboxMailHandler:
    """aiosmtpd handler: RCPT verdicts from the world, DATA stored to the spool, never relayed."""

    def __init__(self, state: SandboxState, spool: Path) -> None:
        self.state = state
        self.spool = spool
        self._greylist_seen: set[str] = set()
        self._queue_ids = itertools.count(1)

    def verdict(self, address: str) -> tuple[str, str]:
        """The outcome name for the stats and the SMTP reply for one recipient."""
        faults = self.state.faults["smtp"]
        if faults.forbidden:
            return "blocked", "554 5.7.1 Service unavailable; client host blocked (sandbox fault)"
        if self.state.chance(faults.error_rate):
            return "deferred", "451 4.3.0 Temporary failure, please try again later (sandbox fault)"
        hotel = self.state.world.hotel(address.rpartition("@")[2])
        key = address.lower()
        if hotel is not None and hotel.greylisting and key not in self._greylist_seen:
            self._greylist_seen.add(key)
            return "greylisted", "451 4.7.1 Greylisted, please try again later"
        outcome, reply = _RCPT_REPLIES[self.state.world.mailbox(address)]
        return outcome, reply.format(address=address)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        latency = self.state.faults["smtp"].latency_ms
        if latency:
            await asyncio.sleep(latency / 1000)
        outcome, reply = self.verdict(address)
        self.state.record("smtp", f"rcpt_{outcome}")
        if outcome == "accepted":
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        data = content if isinstance(content, bytes) else content.encode()
        queue_id = f"{next(self._queue_ids):08X}"
        now = clock.now()
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        for index, rcpt in enumerate(envelope.rcpt_tos):
            trace = (
                f"Return-Path: <{envelope.mail_from}>\r\nDelivered-To: {rcpt}\r\nX-Original-To: {rcpt}\r\n"
                f"Received: from {session.host_name} ([{peer}]) by {SMTP_HOSTNAME} (Jengu SANDBOX) "
                f"with ESMTP id {queue_id} for <{rcpt}>; {format_datetime(now)}\r\n"
            ).encode()
            name = f"{now:%Y%m%dT%H%M%S}-{queue_id}-{index}.eml"
            partial = self.spool / f".{name}.part"
            partial.write_bytes(trace + data)
            partial.replace(self.spool / name)
        self.state.record("smtp", "message_stored")
        return f"250 2.0.0 Ok: queued as {queue_id}"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == SMTP_PASSWORD.encode()
        self.state.record("smtp", "auth_ok" if ok else "auth_failed")
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def smtp_factory(state: SandboxState, spool: Path) -> Callable[[], SMTP]:
    """A protocol factory for ``loop.create_server``: one handler, one SMTP session per connection."""
    spool.mkdir(parents=True, exist_ok=True)
    handler = SandboxMailHandler(state, spool)

    def session() -> SMTP:
        return SMTP(
            handler,
            hostname=SMTP_HOSTNAME,
            ident="Jengu SANDBOX ESMTP",
            enable_SMTPUTF8=True,
            authenticator=handler.authenticate,
            auth_require_tls=False,
            timeout=60,
            loop=asyncio.get_running_loop(),
        )

    return session
