"""Fixtures of the reply tests: one real Dovecot IMAP server on loopback for the session.

``tests/support`` goes on ``sys.path`` for ``dovecot`` because the suite imports test files in importlib mode.
No Dovecot on the machine skips the IMAP tests loudly, or fails them under ``JENGU_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from dovecot import Dovecot, running_dovecot

REPLY_INBOX = "replies@jengu.test"
REPLY_PASSWORD = "imap-replies-Secret-7c2e"  # a loopback test credential


@pytest.fixture(scope="session")
def reply_dovecot_server() -> Iterator[Dovecot]:
    yield from running_dovecot({REPLY_INBOX: REPLY_PASSWORD}, prefix="jengu-replies-dovecot-")


@pytest.fixture
def reply_dovecot(reply_dovecot_server: Dovecot) -> Dovecot:
    """The session's server with the reply inbox empty."""
    reply_dovecot_server.empty_mailbox(REPLY_INBOX, "INBOX")
    return reply_dovecot_server
