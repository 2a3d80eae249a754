"""Start and stop the sandbox: HTTP and SMTP servers on loopback, in one background thread.

``start_sandbox`` builds the world, exports its ground truth, binds free loopback ports and
returns a ``Sandbox`` handle (a context manager) that knows every URL, the environment that
points the pipeline at it, the counters, and how to deliver simulated replies.

Environment written by ``Sandbox.env`` (and ``jengu sandbox`` into ``<home>/sandbox.env``):

- ``JENGU_SANDBOX=1``, ``JENGU_HOME``, ``JENGU_SANDBOX_URL`` (the control routes' origin)
- ``JENGU_BRAVE_BASE_URL`` + ``JENGU_BRAVE_API_KEY``
- ``JENGU_GOOGLE_CSE_BASE_URL`` + ``JENGU_GOOGLE_CSE_API_KEY`` + ``JENGU_GOOGLE_CSE_CX``
- ``JENGU_DUCKDUCKGO_BASE_URL``, ``JENGU_SEARXNG_BASE_URL`` (keyless)
- ``JENGU_MILLIONVERIFIER_BASE_URL`` + ``JENGU_MILLIONVERIFIER_API_KEY``
- ``JENGU_LLM_BASE_URL`` (ends in ``/v1``, the OpenAI convention) + ``JENGU_LLM_API_KEY`` + ``JENGU_LLM_MODEL``
- ``JENGU_ANTHROPIC_BASE_URL`` + ``JENGU_ANTHROPIC_API_KEY`` + ``JENGU_ANTHROPIC_MODEL``
- ``JENGU_HUNTER_BASE_URL`` + ``JENGU_HUNTER_API_KEY``
- ``JENGU_ALERT_WEBHOOK_URL`` (the full webhook URL, token included)
- ``JENGU_SITE_BASE_URL`` (``.../site/``: fetch ``https://www.<d>/<p>`` as ``<SITE_BASE_URL><d>/<p>``)
- ``JENGU_SMTP_HOST`` + ``JENGU_SMTP_PORT`` + ``JENGU_SMTP_USERNAME`` + ``JENGU_SMTP_PASSWORD``
- ``JENGU_MAILDIR`` (the Maildir the simulated replies land in)
- ``JENGU_MX_TABLE`` (the world's MX records as JSON: reserved names are not in DNS)
- ``JENGU_UNSUBSCRIBE_SECRET`` (signs the one-click unsubscribe links; generated once per home and kept in
  ``<home>/sandbox/unsubscribe.secret``, so links from an earlier demo run still verify)

Every ``*_BASE_URL`` except the LLM's is the bare origin (``http://127.0.0.1:<port>``): the
client appends the provider's documented path, exactly as it does for the real host.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import shlex
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import uvicorn

from jengu_pipeline.sandbox.http import SandboxApp
from jengu_pipeline.sandbox.providers.anthropic_messages import ANTHROPIC_MODELS
from jengu_pipeline.sandbox.providers.emulator import SANDBOX_KEYS
from jengu_pipeline.sandbox.providers.google_cse import GOOGLE_CSE_CX
from jengu_pipeline.sandbox.providers.openai_chat import OPENAI_MODELS
from jengu_pipeline.sandbox.providers.site import SITE_PREFIX
from jengu_pipeline.sandbox.replies import deliver_replies
from jengu_pipeline.sandbox.smtp import SMTP_PASSWORD, SMTP_USERNAME, smtp_factory
from jengu_pipeline.sandbox.state import SandboxState
from jengu_pipeline.sandbox.world import World, build_world

SANDBOX_ENV_VARS = (
    "JENGU_SANDBOX",
    "JENGU_HOME",
    "JENGU_SANDBOX_URL",
    "JENGU_BRAVE_BASE_URL",
    "JENGU_BRAVE_API_KEY",
    "JENGU_GOOGLE_CSE_BASE_URL",
    "JENGU_GOOGLE_CSE_API_KEY",
    "JENGU_GOOGLE_CSE_CX",
    "JENGU_DUCKDUCKGO_BASE_URL",
    "JENGU_SEARXNG_BASE_URL",
    "JENGU_MILLIONVERIFIER_BASE_URL",
    "JENGU_MILLIONVERIFIER_API_KEY",
    "JENGU_LLM_BASE_URL",
    "JENGU_LLM_API_KEY",
    "JENGU_LLM_MODEL",
    "JENGU_ANTHROPIC_BASE_URL",
    "JENGU_ANTHROPIC_API_KEY",
    "JENGU_ANTHROPIC_MODEL",
    "JENGU_HUNTER_BASE_URL",
    "JENGU_HUNTER_API_KEY",
    "JENGU_ALERT_WEBHOOK_URL",
    "JENGU_SITE_BASE_URL",
    "JENGU_SMTP_HOST",
    "JENGU_SMTP_PORT",
    "JENGU_SMTP_USERNAME",
    "JENGU_SMTP_PASSWORD",
    "JENGU_MAILDIR",
    "JENGU_MX_TABLE",
    "JENGU_UNSUBSCRIBE_SECRET",
)


def _loop_factory() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def _unsubscribe_secret(path: Path) -> str:
    """This home's generated unsubscribe signing secret: made once (owner-only file), then reused."""
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value + "\n")
    return value


class _ServerThread(threading.Thread):
    """Runs uvicorn and the SMTP server on one event loop of its own."""

    def __init__(self, state: SandboxState, spool: Path, http_sock: socket.socket, smtp_sock: socket.socket) -> None:
        super().__init__(name="jengu-sandbox", daemon=True)
        self._state, self._spool = state, spool
        self._http_sock, self._smtp_sock = http_sock, smtp_sock
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.server: uvicorn.Server | None = None

    def run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory) as runner:
                runner.run(self._main())
        except BaseException as error:  # surfaced to the starting thread, never swallowed
            self.error = error
        finally:
            self.ready.set()

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        smtp = await loop.create_server(smtp_factory(self._state, self._spool), sock=self._smtp_sock)
        config = uvicorn.Config(
            SandboxApp(self._state),
            http="httptools",
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            backlog=2048,
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        serving = asyncio.create_task(self.server.serve(sockets=[self._http_sock]))
        while not self.server.started:
            if serving.done():
                await serving  # raises the startup error, if it has one
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.005)
        self.ready.set()
        try:
            await serving
        finally:
            smtp.close()
            await smtp.wait_closed()


class Sandbox:
    """A running sandbox: its world, addresses, environment, counters and controls."""

    def __init__(
        self, home: Path, state: SandboxState, *, host: str, http_port: int, smtp_port: int, thread: _ServerThread
    ) -> None:
        self.home = home
        self.state = state
        self.world: World = state.world
        self.host = host
        self.http_port = http_port
        self.smtp_host = host
        self.smtp_port = smtp_port
        self.sandbox_dir = home / "sandbox"
        self.smtp_dir = self.sandbox_dir / "smtp"
        self.maildir = self.sandbox_dir / "maildir"
        self.ground_truth_path = self.sandbox_dir / "ground_truth.json"
        self.mx_table_path = self.sandbox_dir / "mx.json"
        self.unsubscribe_secret = _unsubscribe_secret(self.sandbox_dir / "unsubscribe.secret")
        self._thread = thread

    @property
    def base_url(self) -> str:
        """Origin of every HTTP provider, e.g. ``http://127.0.0.1:43117``."""
        netloc = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{netloc}:{self.http_port}"

    @property
    def env(self) -> dict[str, str]:
        """The JENGU_* variables that point every resource at this sandbox (see module docstring)."""
        base = self.base_url
        values = {
            "JENGU_SANDBOX": "1",
            "JENGU_HOME": str(self.home),
            "JENGU_SANDBOX_URL": base,
            "JENGU_BRAVE_BASE_URL": base,
            "JENGU_BRAVE_API_KEY": SANDBOX_KEYS["brave"],
            "JENGU_GOOGLE_CSE_BASE_URL": base,
            "JENGU_GOOGLE_CSE_API_KEY": SANDBOX_KEYS["google_cse"],
            "JENGU_GOOGLE_CSE_CX": GOOGLE_CSE_CX,
            "JENGU_DUCKDUCKGO_BASE_URL": base,
            "JENGU_SEARXNG_BASE_URL": base,
            "JENGU_MILLIONVERIFIER_BASE_URL": base,
            "JENGU_MILLIONVERIFIER_API_KEY": SANDBOX_KEYS["millionverifier"],
            "JENGU_LLM_BASE_URL": f"{base}/v1",
            "JENGU_LLM_API_KEY": SANDBOX_KEYS["openai"],
            "JENGU_LLM_MODEL": OPENAI_MODELS[0],
            "JENGU_ANTHROPIC_BASE_URL": base,
            "JENGU_ANTHROPIC_API_KEY": SANDBOX_KEYS["anthropic"],
            "JENGU_ANTHROPIC_MODEL": ANTHROPIC_MODELS[0],
            "JENGU_HUNTER_BASE_URL": base,
            "JENGU_HUNTER_API_KEY": SANDBOX_KEYS["hunter"],
            "JENGU_ALERT_WEBHOOK_URL": f"{base}/webhook/{SANDBOX_KEYS['webhook']}",
            "JENGU_SITE_BASE_URL": f"{base}{SITE_PREFIX}",
            "JENGU_SMTP_HOST": self.smtp_host,
            "JENGU_SMTP_PORT": str(self.smtp_port),
            "JENGU_SMTP_USERNAME": SMTP_USERNAME,
            "JENGU_SMTP_PASSWORD": SMTP_PASSWORD,
            "JENGU_MAILDIR": str(self.maildir),
            "JENGU_MX_TABLE": str(self.mx_table_path),
            "JENGU_UNSUBSCRIBE_SECRET": self.unsubscribe_secret,
        }
        return {name: values[name] for name in SANDBOX_ENV_VARS}

    def write_env(self, path: Path | None = None) -> Path:
        """Write ``env`` as a sourceable file (default ``<home>/sandbox.env``)."""
        path = path or self.home / "sandbox.env"
        lines = ["# Jengu SANDBOX: every provider below is a loopback emulator, not the real service."]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in self.env.items()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def site_url(self, url: str) -> str:
        """Where the sandbox serves a world URL: ``https://www.<d>/contact`` -> ``<base>/site/<d>/contact``."""
        parts = urlsplit(url)
        host = (parts.hostname or "").removeprefix("www.")
        return f"{self.base_url}{SITE_PREFIX}{host}{parts.path or '/'}"

    def stats(self) -> dict[str, Any]:
        return self.state.stats()

    def alerts(self) -> list[dict[str, Any]]:
        return self.state.alerts()

    def configure(self, provider: str | None = None, **faults: Any) -> None:
        """Change faults at run time: ``configure("brave", daily_quota=3)``; no provider means all."""
        self.state.configure({provider: faults} if provider else faults)

    def reset(self, *, faults: bool = False) -> None:
        """Forget counters, quota use and alerts; with ``faults=True`` also restore a perfect provider."""
        self.state.reset(faults=faults)

    def deliver_replies(self) -> list[Path]:
        """Write the world's replies to every message sent so far into the Maildir."""
        return deliver_replies(self.world, self.smtp_dir, self.maildir)

    def stop(self) -> None:
        server = self._thread.server
        if server is not None:
            server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_sandbox(
    home: Path,
    seed: int = 7,
    *,
    hotels: int = 200,
    host: str = "127.0.0.1",
    http_port: int = 0,
    smtp_port: int = 0,
    **fault_options: Any,
) -> Sandbox:
    """Start the sandbox on loopback and return once both servers accept connections.

    ``fault_options`` are ``Faults`` fields applied to every provider (``latency_ms=5``) or
    per provider (``brave={"daily_quota": 3}``, ``smtp={"error_rate": 1.0}``). Port 0 picks a
    free port. Only loopback addresses are accepted: the sandbox never listens on a network.
    """
    if not ipaddress.ip_address(host).is_loopback:
        raise ValueError(f"the sandbox listens on loopback only, not {host}")
    state = SandboxState(build_world(seed, hotels))
    state.configure(fault_options)
    home = home.expanduser().resolve()
    sandbox_dir = home / "sandbox"
    mailbox_dir = sandbox_dir / "maildir"
    for folder in ("new", "cur", "tmp"):
        (mailbox_dir / folder).mkdir(parents=True, exist_ok=True)
    state.world.write_ground_truth(sandbox_dir / "ground_truth.json")
    state.world.write_mx_table(sandbox_dir / "mx.json")
    http_sock, smtp_sock = _listen(host, http_port), _listen(host, smtp_port)
    thread = _ServerThread(state, sandbox_dir / "smtp", http_sock, smtp_sock)
    thread.start()
    if not thread.ready.wait(timeout=15) or thread.error is not None:
        raise RuntimeError("the sandbox servers did not start") from thread.error
    return Sandbox(
        home,
        state,
        host=host,
        http_port=http_sock.getsockname()[1],
        smtp_port=smtp_sock.getsockname()[1],
        thread=thread,
    )
