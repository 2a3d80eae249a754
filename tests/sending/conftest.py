"""Fixtures of the sending-tick tests: the fault-injecting SMTP server, a Dovecot for Sent folders, and stores.

``tests/support`` goes on ``sys.path`` for ``smtp_faults`` and ``dovecot`` because the suite imports test files
in importlib mode. The names are specific to the tick tests so that the smtp/ and imap/ folders keep their own.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from dovecot import Dovecot, running_dovecot
from smtp_faults import FaultySmtpServer

from tests.conftest import _new_database

TICK_INBOX = "mia@jengu.test"
TICK_IMAP_PASSWORD = "imap-tick-Secret-41ab"  # a loopback test credential


@pytest.fixture
def tick_smtp() -> Iterator[FaultySmtpServer]:
    """A fresh fault-injecting SMTP server on loopback (AUTH: smtp_faults.USERNAME / PASSWORD)."""
    with FaultySmtpServer() as server:
        yield server


@pytest.fixture(scope="session")
def tick_dovecot_server() -> Iterator[Dovecot]:
    """One Dovecot for the session whose only user is the tick tests' inbox, with a Sent folder."""
    yield from running_dovecot({TICK_INBOX: TICK_IMAP_PASSWORD}, prefix="jengu-tick-dovecot-")


@pytest.fixture
def tick_dovecot(tick_dovecot_server: Dovecot) -> Dovecot:
    """The session's Dovecot with the inbox's Sent folder empty."""
    tick_dovecot_server.empty_mailbox(TICK_INBOX, "Sent")
    return tick_dovecot_server


@pytest.fixture
def pg_store_url(postgres_server: str) -> str:
    """A fresh PostgreSQL database (for tests that need several processes on one store)."""
    return _new_database(postgres_server)
