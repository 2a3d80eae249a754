"""Reading reply mailboxes: IMAP folders by UIDVALIDITY + UID watermark, Maildirs by file name.

Each chunk of messages is committed together with the new reading position, so a crash, a dropped
connection or a second reader can neither lose a message nor store one twice (the store also refuses the same
bytes or the same Message-ID a second time). A dropped IMAP connection is retried from the last committed UID.
A changed UIDVALIDITY means the server rebuilt the folder: it is read again from the start, and the store's
uniqueness keeps what was stored before from coming in twice.
"""

from __future__ import annotations

import imaplib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

from imap_tools.errors import MailboxFetchError
from imap_tools.utils import check_command_status

from jengu_pipeline.resources.imap import ImapEndpoint, ImapError, logged_in
from jengu_pipeline.resources.redaction import redacting_logger
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.replies import (
    Inbound,
    Watermark,
    mark_seen,
    seen_keys,
    set_watermark,
    store_inbound,
    watermark,
)

log = redacting_logger(__name__)

FETCH_CHUNK = 20
"""Messages per IMAP FETCH and per store transaction: small enough that a 5 MB message or two stay cheap."""
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
"""A larger message is stored as its first bytes only: nobody writes a 25 MB reply to a cold email."""
_FETCH_HEAD = re.compile(rb"UID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


class MailboxError(ImapError):
    """A reply mailbox could not be read (after the configured reconnects)."""


@dataclass
class SourceReport:
    """What one pass over one mailbox folder read."""

    source: str
    folder: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    reconnects: int = 0
    uidvalidity_changed: bool = False
    error: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {key: value for key, value in self.__dict__.items() if value not in (None, False)}


@dataclass(frozen=True)
class ImapSource:
    """One IMAP folder to read replies from."""

    name: str
    endpoint: ImapEndpoint
    folder: str = "INBOX"


@dataclass(frozen=True)
class MaildirSource:
    """A Maildir (the sandbox's, or a local delivery agent's) read by file name."""

    name: str
    path: Path


@dataclass
class Reader:
    """Reads every configured source into the store; ``now`` is the product's clock."""

    store: CrmStore
    now: Callable[[], datetime]
    max_messages: int = 5000
    reconnects: int = 3
    sleep: Callable[[float], None] = time.sleep
    reports: list[SourceReport] = field(default_factory=list)

    def read(self, sources: Sequence[ImapSource | MaildirSource]) -> list[SourceReport]:
        for source in sources:
            if isinstance(source, ImapSource):
                report = SourceReport(source.name, source.folder)
                try:
                    self._read_imap(source, report)
                except MailboxError as error:
                    report.error = str(error)
                    log.error("replies: %s", error)
            else:
                report = SourceReport(source.name, "maildir")
                self._read_maildir(source, report)
            self.reports.append(report)
        return self.reports

    # IMAP -------------------------------------------------------------------------------------------------

    def _read_imap(self, source: ImapSource, report: SourceReport) -> None:
        for attempt in range(self.reconnects + 1):
            try:
                self._imap_pass(source, report)
                return
            except MailboxError:
                if attempt == self.reconnects:
                    raise
                report.reconnects += 1
                self.sleep(min(2.0**attempt * 0.2, 5.0))

    def _imap_pass(self, source: ImapSource, report: SourceReport) -> None:
        with logged_in(source.endpoint, MailboxError) as session:
            box = session.mailbox
            session.step = f"selecting {source.folder!r}"
            box.folder.set(source.folder, readonly=True)
            uidvalidity = int(box.folder.status(source.folder, ["UIDVALIDITY"])["UIDVALIDITY"])
            mark = self.store.run(lambda tx: watermark(tx, source.name, source.folder))
            after = 0
            if mark is not None and mark.uidvalidity == uidvalidity:
                after = mark.last_uid
            elif mark is not None:
                report.uidvalidity_changed = True
                log.warning(
                    "replies: %s/%s UIDVALIDITY changed (%s -> %s): reading the folder again",
                    source.name,
                    source.folder,
                    mark.uidvalidity,
                    uidvalidity,
                )
            session.step = "searching"
            uids = sorted(uid for uid in map(int, box.uids(f"UID {after + 1}:*")) if uid > after)
            for start in range(0, min(len(uids), self.max_messages - report.read), FETCH_CHUNK):
                chunk = uids[start : start + FETCH_CHUNK]
                session.step = f"fetching UIDs {chunk[0]}-{chunk[-1]}"
                fetched = _fetch(box.client, chunk)
                messages = [
                    _inbound(source.name, str(uid), raw, received or self.now()) for uid, raw, received in fetched
                ]
                self._commit(
                    messages,
                    report,
                    lambda tx, last=chunk[-1]: set_watermark(
                        tx, source.name, source.folder, Watermark(uidvalidity, last), self.now()
                    ),
                )

    # Maildir ----------------------------------------------------------------------------------------------

    def _read_maildir(self, source: MaildirSource, report: SourceReport) -> None:
        files = {_unique_part(path.name): path for path in _maildir_files(source.path)}
        keys = sorted(files)
        seen = self.store.run(lambda tx: seen_keys(tx, source.name, keys))
        new = [key for key in keys if key not in seen][: self.max_messages]
        for start in range(0, len(new), FETCH_CHUNK * 5):
            chunk = new[start : start + FETCH_CHUNK * 5]
            messages = []
            for key in chunk:
                try:
                    raw = _read_capped(files[key])
                except FileNotFoundError:  # moved between new/ and cur/ by another reader: found next pass
                    continue
                messages.append(_inbound(source.name, key, raw, None, now=self.now()))
            self._commit(messages, report, lambda tx, keys=chunk: mark_seen(tx, source.name, keys, self.now()))

    # Both -------------------------------------------------------------------------------------------------

    def _commit(self, messages: list[Inbound], report: SourceReport, advance: Callable[..., None]) -> None:
        """Store a chunk and move the reading position past it, in one transaction."""

        def run(tx: Tx) -> int:
            stored = sum(store_inbound(tx, message) is not None for message in messages)
            advance(tx)
            return stored

        stored = self.store.run(run)
        report.read += len(messages)
        report.stored += stored
        report.duplicates += len(messages) - stored


def _fetch(client: imaplib.IMAP4, uids: Sequence[int]) -> list[tuple[int, bytes, datetime | None]]:
    """The exact bytes of these messages (BODY.PEEK: reading never marks them \\Seen) and their arrival times."""
    result = client.uid("FETCH", ",".join(map(str, uids)), "(UID INTERNALDATE BODY.PEEK[])")
    check_command_status(result, MailboxFetchError)
    found = []
    for part in result[1]:
        if not isinstance(part, tuple):
            continue
        head, raw = part[0], part[1]
        uid = _FETCH_HEAD.search(head)
        if uid is None:
            continue
        found.append((int(uid[1]), bytes(raw[:MAX_MESSAGE_BYTES]), _internaldate(head)))
    return sorted(found)


def _internaldate(head: bytes) -> datetime | None:
    found = _INTERNALDATE.search(head)
    if found is None:
        return None
    parsed = imaplib.Internaldate2tuple(b'INTERNALDATE "' + found[1] + b'"')
    return datetime.fromtimestamp(time.mktime(parsed), UTC) if parsed else None


HEADER_BYTES = 256 * 1024
"""Storage reads only the header block, and at most this much of it; the classifier reads the rest later."""


def _inbound(source: str, key: str, raw: bytes, received: datetime | None, *, now: datetime | None = None) -> Inbound:
    """The message with what storage needs; without a server arrival time, its Date (never in the future)."""
    head = raw[:HEADER_BYTES].split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    headers = BytesHeaderParser(policy=compat32).parsebytes(head)
    if received is None:
        assert now is not None
        dated = _date(headers.get("Date"))
        received = dated if dated is not None and dated <= now + timedelta(minutes=5) else now
    message_id = "".join(_text(headers.get("Message-ID")).split()) or None
    senders = getaddresses([_text(headers.get("From"))])
    sender = senders[0][1].lower() if senders and "@" in senders[0][1] else None
    return Inbound(
        source,
        key,
        raw,
        received,
        message_id[:998] if message_id else None,
        sender,
        _text(headers.get("Subject")) or None,
    )


def _text(value: object) -> str:
    """A header as text, RFC 2047 words decoded; 8-bit or broken headers are read without failing."""
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value)))).strip()
    except (ValueError, LookupError, UnicodeError):
        return str(value).encode("utf-8", "replace").decode("utf-8", "replace").strip()


def _date(value: object) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(_text(value))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _maildir_files(root: Path) -> Iterator[Path]:
    for folder in ("new", "cur"):
        directory = root / folder
        if directory.is_dir():
            yield from (path for path in directory.iterdir() if path.is_file() and not path.name.startswith("."))


def _unique_part(name: str) -> str:
    """A Maildir file keeps its unique name when a client moves it from new/ to cur/ and adds ``:2,S``."""
    return name.split(":", 1)[0]


def _read_capped(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(MAX_MESSAGE_BYTES)


def fingerprint(source: ImapSource | MaildirSource) -> str:
    """A cheap summary that changes when new mail arrives: IMAP UIDVALIDITY and UIDNEXT, or the Maildir's count
    and newest modification time. Failures have a fingerprint too, so a broken source wakes one run that says why.
    """
    if isinstance(source, MaildirSource):
        stamps = [path.stat().st_mtime_ns for path in _maildir_files(source.path)]
        return f"{len(stamps)}:{max(stamps, default=0)}"
    try:
        with logged_in(source.endpoint, MailboxError) as session:
            status = session.mailbox.folder.status(source.folder, ["UIDVALIDITY", "UIDNEXT"])
            return f"{status['UIDVALIDITY']}:{status['UIDNEXT']}"
    except MailboxError as error:
        return f"error:{type(error.__cause__).__name__}"
