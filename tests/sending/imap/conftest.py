"""Fixtures of the Sent-folder tests: one real Dovecot IMAP server on loopback for the session.

Its helpers live in ``tests/support`` (put on ``sys.path`` here, as the suite imports in importlib mode).
No Dovecot on the machine skips these tests loudly, or fails them under ``JENGU_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "support"))

from dovecot import Dovecot, running_dovecot

from jengu_pipeline.resources.imap import ImapEndpoint

SENDER = "sender@jengu.example"
USERS = {SENDER: "correct horse battery staple", "other@jengu.example": "tr0ub4dor&3"}


@pytest.fixture(scope="session")
def dovecot_server() -> Iterator[Dovecot]:
    yield from running_dovecot(USERS)


@pytest.fixture
def dovecot(dovecot_server: Dovecot) -> Dovecot:
    """The session's server with every user's Sent folder empty."""
    for user in dovecot_server.users:
        dovecot_server.empty_mailbox(user, "Sent")
    return dovecot_server


@pytest.fixture
def dovecot_without_sent() -> Iterator[Dovecot]:
    """A server of its own whose users have no Sent folder, flagged or not."""
    yield from running_dovecot(USERS, sent_mailbox=None)


@pytest.fixture
def endpoint(dovecot: Dovecot) -> ImapEndpoint:
    """The sender's account over plain IMAP (loopback only)."""
    return ImapEndpoint(dovecot.host, dovecot.port, "none", SENDER, dovecot.users[SENDER])
