"""A real SMTP server (aiosmtpd) on 127.0.0.1 whose replies are scripted, to test SMTP clients against faults.

It runs on an event loop of its own in a background thread and records what a test needs to check: every
connection, every command verb, every message it stored (envelope and exact bytes). By default it accepts
everything; a script changes the next replies for one address at one stage:

    server.script("a@x.test", ["421 4.7.0 Try later", "451 4.3.0 Busy"])       # next two RCPT TO:<a@x.test>
    server.script("a@x.test", [DROP_IN_DATA], at="data")                       # next DATA for a@x.test
    server.script("a@x.test", [ACCEPT_THEN_DROP], at="end_of_data")

Each attempt consumes one item; an exhausted script means "accept". Items are a reply line ("250 ...",
"550 5.1.1 ...": a 421 also closes the connection, as RFC 5321 3.8 says) or a fault:

- DROP (any stage): close the connection instead of answering.
- DROP_IN_DATA (at "data"): answer 354, read the first bytes of the message, then reset the connection.
- ACCEPT_THEN_DROP (at "end_of_data"): store the message, then close without the 250.
- ACCEPT_THEN_STALL (at "end_of_data"): store the message and never answer.

"mail" scripts are keyed by the envelope sender, the others by the (first) recipient. AUTH PLAIN/LOGIN is
offered without TLS (loopback only) and accepts ``username``/``password`` (USERNAME/PASSWORD by default).
``tls="starttls"`` requires STARTTLS before anything else, ``tls="ssl"`` is implicit TLS; both need a server
``ssl_context`` (``server_context(*self_signed_certificate(folder))``).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
import threading
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["mail", "rcpt", "data", "end_of_data"]
DROP = "<drop>"
DROP_IN_DATA = "<drop in data>"
ACCEPT_THEN_DROP = "<accept then drop>"
ACCEPT_THEN_STALL = "<accept then stall>"
HOSTNAME = "mx.faults.test"
USERNAME = "outreach@jengu.example"
PASSWORD = "hunter2-smtp-Secret-9f3c"  # a loopback test credential
RECEIVE_BUFFER = 64 * 1024  # small, so that a large message cannot vanish into kernel buffers


@dataclass(frozen=True)
class Received:
    """A message the server stored: which connection brought it, its envelope and its exact bytes."""

    connection: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes


async def _never() -> None:
    """Wait until the connection is gone: aiosmtpd cancels its handler task on connection_lost."""
    await asyncio.Event().wait()


class _ScriptedSMTP(SMTP):
    """aiosmtpd's SMTP with a connection number, and a DATA command that can answer from a script."""

    def __init__(self, faults: FaultySmtpServer, **options: Any) -> None:
        super().__init__(faults, **options)
        self.faults = faults
        self.serial = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None  # STARTTLS calls this again for the same connection
        super().connection_made(transport)
        if first:
            self.serial = self.faults._opened(self)

    def connection_lost(self, error: Exception | None) -> None:
        self.faults._closed(self)
        super().connection_lost(error)

    async def smtp_DATA(self, arg: str) -> None:
        envelope = self.envelope
        item = self.faults._next("data", envelope.rcpt_tos[0]) if envelope and envelope.rcpt_tos else None
        self.faults._record(self, "DATA")
        if item is None:
            await super().smtp_DATA(arg)
        elif item == DROP_IN_DATA:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            await self._reader.read(1)
            self.abort()
            await _never()
        else:
            await self.push(await self.answer(item))

    async def answer(self, item: str) -> str:
        """The reply for a scripted item; DROP and 421 end the connection."""
        if item == DROP:
            self.abort()
            await _never()
        if item.startswith("421"):
            await self.push(item)
            assert self.transport is not None
            self.transport.close()
            await _never()
        return item

    def abort(self) -> None:
        assert isinstance(self.transport, asyncio.WriteTransport)
        self.transport.abort()


class FaultySmtpServer:
    """The server; a context manager that starts it on a free loopback port and stops it."""

    def __init__(
        self,
        *,
        username: str = USERNAME,
        password: str = PASSWORD,
        tls: Literal["none", "starttls", "ssl"] = "none",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if tls != "none" and ssl_context is None:
            raise ValueError("TLS needs a server ssl_context")
        self.host = "127.0.0.1"
        self.username, self.password = username, password
        self.tls, self.ssl_context = tls, ssl_context
        self._lock = threading.Lock()
        self._scripts: dict[tuple[Stage, str], deque[str]] = defaultdict(deque)
        self._messages: list[Received] = []
        self._commands: list[tuple[int, str]] = []
        self._connections = 0
        self._live: set[_ScriptedSMTP] = set()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)  # inherited by accepted sockets
        self._sock.bind((self.host, 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="smtp-faults", daemon=True)

    # ---------------------------------------------------------------- test side

    def script(self, address: str, replies: Iterable[str], *, at: Stage = "rcpt") -> None:
        """Queue replies (or faults) for the next attempts that reach ``at`` for ``address``."""
        with self._lock:
            self._scripts[(at, address.lower())].extend(replies)

    @property
    def messages(self) -> list[Received]:
        with self._lock:
            return list(self._messages)

    @property
    def commands(self) -> list[tuple[int, str]]:
        """(connection number, verb) of every MAIL, RCPT, DATA, RSET and NOOP, in order."""
        with self._lock:
            return list(self._commands)

    @property
    def connections(self) -> int:
        """How many connections were ever accepted."""
        with self._lock:
            return self._connections

    def drop_connections(self) -> None:
        """Close every open connection at once, as a server does with idle clients."""
        assert self._loop is not None

        async def drop() -> None:
            for protocol in list(self._live):
                protocol.abort()

        asyncio.run_coroutine_threadsafe(drop(), self._loop).result(timeout=5)

    def __enter__(self) -> FaultySmtpServer:
        self._thread.start()
        if not self._ready.wait(timeout=10) or self._error is not None:
            raise RuntimeError("the fault-injecting SMTP server did not start") from self._error
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)

    # ---------------------------------------------------------------- server side (event loop thread)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # surfaced to the starting thread
            self._error = error
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await self._loop.create_server(
            self._protocol, sock=self._sock, ssl=self.ssl_context if self.tls == "ssl" else None
        )
        self._ready.set()
        await self._stopping.wait()
        server.close()
        for protocol in list(self._live):
            protocol.abort()
        await server.wait_closed()

    def _protocol(self) -> _ScriptedSMTP:
        return _ScriptedSMTP(
            self,
            hostname=HOSTNAME,
            ident="Jengu test SMTP (fault injection)",
            tls_context=self.ssl_context if self.tls == "starttls" else None,
            require_starttls=self.tls == "starttls",
            authenticator=self._authenticate,
            auth_require_tls=False,
            timeout=30,
            loop=asyncio.get_running_loop(),
        )

    def _opened(self, protocol: _ScriptedSMTP) -> int:
        with self._lock:
            self._connections += 1
            self._live.add(protocol)
            return self._connections

    def _closed(self, protocol: _ScriptedSMTP) -> None:
        with self._lock:
            self._live.discard(protocol)

    def _next(self, stage: Stage, address: str) -> str | None:
        with self._lock:
            queue = self._scripts.get((stage, address.lower()))
            return queue.popleft() if queue else None

    def _record(self, protocol: _ScriptedSMTP, verb: str) -> None:
        with self._lock:
            self._commands.append((protocol.serial, verb))

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.username.encode()
            and auth_data.password == self.password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def _scripted(self, server: _ScriptedSMTP, stage: Stage, address: str, default: str) -> str:
        self._record(server, stage.upper())
        return await server.answer(self._next(stage, address) or default)

    # aiosmtpd handler hooks

    async def handle_MAIL(
        self, server: _ScriptedSMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = await self._scripted(server, "mail", address, "250 2.1.0 Ok")
        if reply.startswith("2"):
            envelope.mail_from = address
            envelope.mail_options.extend(options)
        return reply

    async def handle_RCPT(
        self, server: _ScriptedSMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = await self._scripted(server, "rcpt", address, "250 2.1.5 Ok")
        if reply.startswith("2"):
            envelope.rcpt_tos.append(address)
        return reply

    async def handle_DATA(self, server: _ScriptedSMTP, session: Session, envelope: Envelope) -> str:
        item = self._next("end_of_data", envelope.rcpt_tos[0]) or "250"
        if item in (ACCEPT_THEN_DROP, ACCEPT_THEN_STALL) or item.startswith("2"):
            with self._lock:
                content = bytes(envelope.original_content or b"")
                self._messages.append(
                    Received(server.serial, envelope.mail_from or "", tuple(envelope.rcpt_tos), content)
                )
                queue_id = f"{len(self._messages):08X}"
        if item == ACCEPT_THEN_DROP:
            server.abort()
            await _never()
        if item == ACCEPT_THEN_STALL:
            await _never()
        return await server.answer(f"250 2.0.0 Ok: queued as {queue_id}" if item == "250" else item)

    async def handle_RSET(self, server: _ScriptedSMTP, session: Session, envelope: Envelope) -> str:
        self._record(server, "RSET")
        return "250 2.0.0 Ok"

    async def handle_NOOP(self, server: _ScriptedSMTP, session: Session, envelope: Envelope, arg: str) -> str:
        self._record(server, "NOOP")
        return "250 2.0.0 Ok"


def self_signed_certificate(directory: Path) -> tuple[Path, Path] | None:
    """(certificate, key) for 127.0.0.1 and localhost, made by the openssl command; None without it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def client_context(cert: Path) -> ssl.SSLContext:
    """A client context that trusts only the test certificate (hostname checks stay on)."""
    return ssl.create_default_context(cafile=str(cert))
