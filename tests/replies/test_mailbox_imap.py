"""Reading replies from a real Dovecot over IMAP: only what is new, each message stored once, whatever happens
to the connection or the folder."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from imap_tools import MailBoxUnencrypted

from jengu_pipeline.resources.imap import ImapEndpoint
from jengu_pipeline.resources.mailbox import ImapSource, MaildirSource, Reader, fingerprint
from jengu_pipeline.store import CrmStore
from tests.replies.conftest import REPLY_INBOX, REPLY_PASSWORD

NOW = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)


def message(subject: str = "Re: direct bookings", *, message_id: bool = True, body: str = "Sounds good.") -> bytes:
    head = f"From: Anna <anna@hotel-rosa.test>\r\nTo: {REPLY_INBOX}\r\nSubject: {subject}\r\n"
    if message_id:
        head += f"Message-ID: <{uuid.uuid4().hex}@hotel-rosa.test>\r\n"
    return (head + "Date: Tue, 08 Dec 2026 10:00:00 +0000\r\n\r\n" + body + "\r\n").encode()


def append(server, raw: bytes, folder: str = "INBOX") -> None:
    with MailBoxUnencrypted(server.host, server.port, timeout=10).login(REPLY_INBOX, REPLY_PASSWORD) as box:
        box.append(raw, folder, dt=NOW)


def source(port: int, host: str = "127.0.0.1", folder: str = "INBOX", password: str = REPLY_PASSWORD) -> ImapSource:
    return ImapSource(
        f"imap:{REPLY_INBOX}", ImapEndpoint(host, port, "none", REPLY_INBOX, password, timeout_s=10), folder
    )


def read(store: CrmStore, *sources: ImapSource | MaildirSource):
    return Reader(store, lambda: NOW, sleep=lambda _: None).read(list(sources))


def stored_raw(store: CrmStore) -> list[bytes]:
    return [
        bytes(row[0])
        for row in store.run(
            lambda tx: tx.fetch_all(
                "SELECT w.raw FROM replies r JOIN reply_raw w ON w.sha256 = r.raw_sha256 ORDER BY r.source_key"
            )
        )
    ]


def test_each_message_is_read_once_with_its_exact_bytes(store: CrmStore, reply_dovecot) -> None:
    big = message(body="x" * (5 * 1024 * 1024))
    no_id = message("no message id", message_id=False)
    eight_bit = (
        b"From: =?utf-8?q?J=C3=BCrgen?= <j@hotel.test>\r\nSubject: R\xe9ponse \xe0 votre message\r\n"
        b"Message-ID: <latin1@hotel.test>\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\n"
        b"Tr\xe8s int\xe9ressant, merci.\r\n"
    )
    first = [message(), big, no_id, eight_bit]
    for raw in first:
        append(reply_dovecot, raw)
    (report,) = read(store, source(reply_dovecot.port))
    assert (report.read, report.stored, report.duplicates, report.error) == (4, 4, 0, None)
    assert sorted(stored_raw(store)) == sorted(first)
    assert store.run(lambda tx: tx.fetch_value("SELECT max(size_bytes) FROM reply_raw")) >= 5 * 1024 * 1024
    # a second pass reads nothing; a new message is the only one read next
    assert read(store, source(reply_dovecot.port))[0].read == 0
    append(reply_dovecot, message("later"))
    (later,) = read(store, source(reply_dovecot.port))
    assert (later.read, later.stored) == (1, 1)
    assert store.count("replies") == 5


def test_the_same_message_delivered_twice_is_stored_once(store: CrmStore, reply_dovecot) -> None:
    raw = message()
    append(reply_dovecot, raw)
    append(reply_dovecot, raw)
    (report,) = read(store, source(reply_dovecot.port))
    assert (report.read, report.stored, report.duplicates) == (2, 1, 1)


def test_a_uidvalidity_change_rereads_the_folder_without_storing_twice(store: CrmStore, reply_dovecot) -> None:
    folder = f"Replies{uuid.uuid4().hex[:6]}"
    with MailBoxUnencrypted(reply_dovecot.host, reply_dovecot.port).login(REPLY_INBOX, REPLY_PASSWORD) as box:
        box.folder.create(folder)
    kept = [message(), message()]
    for raw in kept:
        append(reply_dovecot, raw, folder)
    assert read(store, source(reply_dovecot.port, folder=folder))[0].stored == 2
    with MailBoxUnencrypted(reply_dovecot.host, reply_dovecot.port).login(REPLY_INBOX, REPLY_PASSWORD) as box:
        box.folder.delete(folder)
        box.folder.create(folder)
    for raw in [*kept, message("new after the rebuild")]:
        append(reply_dovecot, raw, folder)
    (report,) = read(store, source(reply_dovecot.port, folder=folder))
    assert report.uidvalidity_changed
    assert (report.read, report.stored, report.duplicates) == (3, 1, 2)


class CuttingProxy:
    """A loopback TCP proxy to the IMAP server that drops its first connection after ``cut_after`` bytes from
    the server: a connection lost in the middle of a FETCH."""

    def __init__(self, target_port: int, cut_after: int) -> None:
        self.target_port, self.cut_after = target_port, cut_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            limit = self.cut_after if self.connections == 1 else None
            threading.Thread(target=self._pipe, args=(upstream, client, limit), daemon=True).start()
            threading.Thread(target=self._pipe, args=(client, upstream, None), daemon=True).start()

    @staticmethod
    def _pipe(source_socket: socket.socket, target: socket.socket, limit: int | None) -> None:
        passed = 0
        try:
            while data := source_socket.recv(65536):
                if limit is not None and passed + len(data) > limit:
                    break
                target.sendall(data)
                passed += len(data)
        except OSError:
            pass
        for end in (source_socket, target):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def cutting_proxy(reply_dovecot) -> Iterator[CuttingProxy]:
    proxy = CuttingProxy(reply_dovecot.port, cut_after=3 * 1024 * 1024)
    yield proxy
    proxy.close()


def test_a_connection_lost_in_the_middle_of_a_fetch_is_resumed_from_the_last_stored_uid(
    store: CrmStore, reply_dovecot, cutting_proxy: CuttingProxy
) -> None:
    sent = [message(body=f"{n} " + "y" * (300 * 1024)) for n in range(40)]  # 12 MB in all, over two chunks
    for raw in sent:
        append(reply_dovecot, raw)
    (report,) = read(store, source(cutting_proxy.port))
    assert report.error is None
    assert report.reconnects >= 1
    assert cutting_proxy.connections >= 2
    assert (report.stored, store.count("replies")) == (40, 40)
    assert read(store, source(reply_dovecot.port))[0].read == 0


def test_a_wrong_password_is_reported_and_moves_nothing(store: CrmStore, reply_dovecot) -> None:
    append(reply_dovecot, message())
    (report,) = read(store, source(reply_dovecot.port, password="wrong"))
    assert report.error is not None
    assert "logging in failed" in report.error
    assert "wrong" not in report.error
    assert store.count("replies") == 0
    assert read(store, source(reply_dovecot.port))[0].stored == 1


def test_a_maildir_is_read_by_file_name_even_after_a_client_moves_a_file_to_cur(
    store: CrmStore, tmp_path: Path
) -> None:
    for folder in ("new", "cur", "tmp"):
        (tmp_path / folder).mkdir()
    (tmp_path / "new" / "1700000000.M1P1.host").write_bytes(message())
    (tmp_path / "new" / "1700000001.M2P1.host").write_bytes(message())
    maildir = MaildirSource("maildir:test", tmp_path)
    before = fingerprint(maildir)
    assert read(store, maildir)[0].stored == 2
    (tmp_path / "new" / "1700000000.M1P1.host").rename(tmp_path / "cur" / "1700000000.M1P1.host:2,S")
    assert read(store, maildir)[0].read == 0
    (tmp_path / "new" / "1700000002.M3P1.host").write_bytes(message())
    assert fingerprint(maildir) != before
    assert read(store, maildir)[0].stored == 1


def test_the_imap_fingerprint_changes_when_mail_arrives(reply_dovecot) -> None:
    imap = source(reply_dovecot.port)
    before = fingerprint(imap)
    append(reply_dovecot, message())
    assert fingerprint(imap) != before
    assert fingerprint(source(reply_dovecot.port, password="wrong")).startswith("error:")
