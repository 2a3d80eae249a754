"""An inbox's Sent folder over IMAP: the witness that settles sends whose outcome is unknown.

When the process dies between the SMTP server accepting a message and the ledger recording it, the send is
left ``unknown``. The message's own Message-ID then tells whether it went out: Gmail (and some other hosts)
saves SMTP submissions into Sent by itself; for the others the sender appends a copy after each send
(`append_sent`). Only the first kind makes absence a proof: there a message missing from Sent was not
accepted, while an appended copy can be missing because the crash came before the append.
`find_sent` looks a whole batch of Message-IDs up on one connection.

IMAP ``SEARCH HEADER`` matches substrings, so every hit's Message-ID is fetched and compared exactly: a
message whose id merely contains the one asked for is never taken for it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from email.parser import BytesHeaderParser

from imap_tools import BaseMailBox, MailMessageFlags
from imap_tools.errors import MailboxFetchError
from imap_tools.utils import check_command_status

from jengu_pipeline.resources.imap import ImapEndpoint, ImapError, logged_in
from jengu_pipeline.resources.redaction import redact, redacting_logger

log = redacting_logger(__name__)

# Ids per SEARCH command: 50 ids make a command of about 4 KB, far below every server's line limit
# (Dovecot's is 64 KB), while 200 ids still take only four round trips.
SEARCH_BATCH = 50
_MESSAGE_ID = re.compile(r'<[^\s<>"\\@]+@[^\s<>"\\]+>')


class SentFolderError(ImapError):
    """The Sent folder could not be read or written: connection, TLS, login or folder trouble."""


def find_sent(endpoint: ImapEndpoint, message_ids: Collection[str]) -> set[str]:
    """Which of these Message-IDs (``<id@domain>``, brackets included) are in the Sent folder."""
    wanted = set(message_ids)
    malformed = sorted(mid for mid in wanted if not (mid.isascii() and _MESSAGE_ID.fullmatch(mid)))
    if malformed:
        # An id the search can never match would read as "not sent" and invite a second send.
        raise ValueError(f"not Message-IDs of the form <left@right>: {malformed[:5]}")
    if not wanted:
        return set()
    ordered = sorted(wanted)
    found: set[str] = set()
    with _sent_folder(endpoint) as (mailbox, folder):
        mailbox.folder.set(folder, readonly=True)
        for start in range(0, len(ordered), SEARCH_BATCH):
            # No CHARSET argument: the key is plain ASCII, and some servers refuse an explicit one.
            uids = mailbox.uids(_any_message_id(ordered[start : start + SEARCH_BATCH]), charset=None)
            found |= _message_ids(mailbox, uids)
    return found & wanted


def append_sent(endpoint: ImapEndpoint, raw: bytes, *, when: datetime | None = None) -> None:
    """Store a sent message in the Sent folder, already \\Seen, dated ``when`` (default now), for providers that
    do not keep SMTP submissions themselves.
    """
    with _sent_folder(endpoint) as (mailbox, folder):
        mailbox.append(raw, folder, dt=when, flag_set=[MailMessageFlags.SEEN])


def sent_folder_name(endpoint: ImapEndpoint) -> str:
    """The folder `find_sent` and `append_sent` use: the configured one, else the one flagged \\Sent."""
    with _sent_folder(endpoint) as (_, folder):
        return folder


@contextmanager
def _sent_folder(endpoint: ImapEndpoint) -> Iterator[tuple[BaseMailBox, str]]:
    """A logged-in connection and the Sent folder's name; every network or IMAP failure as a SentFolderError."""
    with logged_in(endpoint, SentFolderError) as session:
        session.step = "listing folders"
        folder = _resolve_folder(session.mailbox, endpoint.sent_folder, endpoint.where)
        session.step = f"working in {folder!r}"
        yield session.mailbox, folder


def _resolve_folder(mailbox: BaseMailBox, configured: str, where: str) -> str:
    folders = mailbox.folder.list()
    if any(folder.name == configured for folder in folders):
        return configured
    flagged = [folder.name for folder in folders if any(flag.lower() == "\\sent" for flag in folder.flags)]
    if flagged:
        log.warning("no IMAP folder %r; using %r, the folder flagged \\Sent", configured, flagged[0])
        return flagged[0]
    names = ", ".join(sorted(folder.name for folder in folders))
    raise SentFolderError(redact(f"{where}: no folder {configured!r} and none flagged \\Sent; folders: {names}"))


def _any_message_id(ids: Sequence[str]) -> str:
    """A SEARCH key matching any of ``ids``, as a balanced tree of ORs so that no server's nesting limit bites."""
    if len(ids) == 1:
        return f'HEADER Message-ID "{ids[0]}"'
    middle = len(ids) // 2
    return f"OR {_any_message_id(ids[:middle])} {_any_message_id(ids[middle:])}"


def _message_ids(mailbox: BaseMailBox, uids: Sequence[str]) -> set[str]:
    """The Message-ID headers of these messages, whitespace removed (a folded header may carry some)."""
    if not uids:
        return set()
    result = mailbox.client.uid("FETCH", ",".join(uids), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    check_command_status(result, MailboxFetchError)
    parser = BytesHeaderParser()
    return {
        "".join(value.split())
        for part in result[1]
        if isinstance(part, tuple)
        for value in parser.parsebytes(part[1]).get_all("Message-ID", [])
    }
