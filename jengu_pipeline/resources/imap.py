"""An IMAP account and a logged-in connection to it (imap-tools), shared by the Sent-folder witness and the
reply reader.

The password is registered for redaction when the endpoint is made, never appears in its repr, and is masked
in every error; a password only travels in clear text to loopback.
"""

from __future__ import annotations

import imaplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, UnexpectedCommandStatusError

from jengu_pipeline.domain.inboxes import is_loopback_host
from jengu_pipeline.resources.redaction import redact, register_secret

TlsMode = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class ImapEndpoint:
    """An inbox's IMAP account. The password never appears in repr and is masked in every log line."""

    host: str
    port: int
    tls: TlsMode
    username: str
    password: str = field(repr=False)
    sent_folder: str = "Sent"
    timeout_s: float = 30.0
    ca_file: str | None = None  # PEM file of CAs to trust instead of the system's (a private CA, a test server)

    def __post_init__(self) -> None:
        register_secret(self.password)
        if self.tls == "none" and not is_loopback_host(self.host):
            raise ValueError(f"refusing to send an IMAP password in clear text to {self.host}; use TLS")

    @property
    def where(self) -> str:
        return f"IMAP {self.host}:{self.port} ({self.tls}) as {self.username}"


class ImapError(Exception):
    """The account could not be reached or used: connection, TLS, login or command trouble."""


def _mailbox(endpoint: ImapEndpoint) -> BaseMailBox:
    if endpoint.tls == "none":
        return MailBoxUnencrypted(endpoint.host, endpoint.port, timeout=endpoint.timeout_s)
    context = ssl.create_default_context(cafile=endpoint.ca_file)
    if endpoint.tls == "starttls":
        return MailBoxStartTls(endpoint.host, endpoint.port, timeout=endpoint.timeout_s, ssl_context=context)
    if endpoint.tls == "ssl":
        return MailBox(endpoint.host, endpoint.port, timeout=endpoint.timeout_s, ssl_context=context)
    raise ValueError(f"unknown IMAP TLS mode {endpoint.tls!r}")


class Session:
    """A logged-in connection; ``step`` names what it is doing, for the error when something fails."""

    def __init__(self, mailbox: BaseMailBox) -> None:
        self.mailbox = mailbox
        self.step = "logging in"


@contextmanager
def logged_in(endpoint: ImapEndpoint, error: type[ImapError] = ImapError) -> Iterator[Session]:
    """A logged-in session; every network or IMAP failure inside the block is raised as ``error``."""
    session: Session | None = None
    try:
        with _mailbox(endpoint) as mailbox:
            session = Session(mailbox)
            mailbox.login(endpoint.username, endpoint.password, initial_folder=None)
            session.step = "working"
            yield session
    except (OSError, imaplib.IMAP4.error, ImapToolsError) as failure:
        detail = describe(failure)
        if endpoint.password:
            detail = detail.replace(endpoint.password, "***")
        step = session.step if session else "connecting"
        raise error(redact(f"{endpoint.where}: {step} failed: {detail}")) from failure


def describe(error: Exception) -> str:
    """The server's own words for a refused command, else the exception's."""
    if isinstance(error, UnexpectedCommandStatusError):  # imap-tools' text wraps the server's answer in noise
        status, data = error.command_result
        said = b" ".join(item for item in data if isinstance(item, bytes)).decode(errors="replace")
        return f"server answered {status}: {said}".strip()
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
