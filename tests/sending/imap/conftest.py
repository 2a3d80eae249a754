"""Fixtures of the Sent-folder tests: one real Dovecot IMAP server on loopback for the session.

Its helpers live in ``tests/support`` (put on ``sys.path`` here, as the suite imports in importlib mode).
No Dovecot on the machine skips these tests loudly, or fails them under ``JENGU_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "support"))

from dovecot import Dovecot, dovecot_binary, start_dovecot

from jengu_pipeline.resources.imap import ImapEndpoint
from tests.conftest import missing_service

SENDER = "sender@jengu.example"
USERS = {SENDER: "correct horse battery staple", "other@jengu.example": "tr0ub4dor&3"}


def _start(users: dict[str, str], *, sent_mailbox: str | None = "Sent") -> Iterator[Dovecot]:
    if dovecot_binary() is None:
        missing_service("no Dovecot IMAP server (Debian: apt-get install dovecot-imapd)")
    # Not pytest's tmp_path: its parents are private to root, and the server's processes run as another user.
    root = Path(tempfile.mkdtemp(prefix="jengu-dovecot-"))
    try:
        server = start_dovecot(root, users, sent_mailbox=sent_mailbox)
    except RuntimeError as error:
        shutil.rmtree(root, ignore_errors=True)
        missing_service(str(error))
    with server:
        yield server
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    yield from _start(USERS)


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The session's server with every user's Sent folder empty."""
    for user in dovecot_server.users:
        dovecot_server.empty_mailbox(user, "Sent")
    return dovecot_server


@pytest.fixture
def dovecot_without_sent() -> Iterator[Dovecot]:
    """A server of its own whose users have no Sent folder, flagged or not."""
    yield from _start(USERS, sent_mailbox=None)


@pytest.fixture
def endpoint(dovecot: Dovecot) -> ImapEndpoint:
    """The sender's account over plain IMAP (loopback only)."""
    return ImapEndpoint(dovecot.host, dovecot.port, "none", SENDER, dovecot.users[SENDER])
