"""The replies stage in Dagster: the asset over a real Maildir and store, its checks, the hand-offs and the sensor.

A real aiosmtpd server on loopback receives the forwarded replies; the sandbox's webhook receives the
operator's notifications. Runs on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import email
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml
from reply_seeds import NOW, Contact, contacts
from smtp_faults import PASSWORD, USERNAME, FaultySmtpServer

from jengu_pipeline.assets.replies import (
    replies,
    replies_all_classified,
    replies_no_send_after_suppression,
    replies_processed_once,
)
from jengu_pipeline.clock import running_at
from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.replies import ReplyMailboxResource
from jengu_pipeline.resources.sending import SendingResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.sandbox.providers.emulator import SANDBOX_KEYS
from jengu_pipeline.sandbox.runner import Sandbox
from jengu_pipeline.sensors.replies import reply_ingestion_sensor
from jengu_pipeline.store import CrmStore

FORWARD_TO = "desk@jengu.example"
PASSWORD_ENV = "JENGU_TEST_REPLIES_SMTP_PASSWORD"


def deliver(maildir: Path, name: str, message: EmailMessage | bytes) -> None:
    """Write one message into a Maildir the way a delivery agent does: tmp/ first, then a rename into new/."""
    for folder in ("tmp", "new", "cur"):
        (maildir / folder).mkdir(parents=True, exist_ok=True)
    (maildir / "tmp" / name).write_bytes(message if isinstance(message, bytes) else message.as_bytes())
    (maildir / "tmp" / name).rename(maildir / "new" / name)


def reply(contact: Contact, text: str, subject: str = "Re: A quick idea for Hotel Rosa") -> EmailMessage:
    message = EmailMessage()
    message["From"] = contact.email
    message["To"] = "mia@jengu.test"
    message["Subject"] = subject
    message["Date"] = format_datetime(NOW)
    message["Message-ID"] = f"<re.{contact.send_id}@hotel-rosa.test>"
    message["In-Reply-To"] = contact.rfc_message_id
    message.set_content(f"{text}\n\nOn Mon, Mia wrote:\n> Would a short call be useful?\n> Reply stop to opt out.\n")
    return message


def hard_bounce(contact: Contact) -> bytes:
    """A Postfix-style RFC 3464 report returning the original's headers."""
    return (
        f"From: MAILER-DAEMON@mx.hotel-rosa.test\r\nTo: mia@jengu.test\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nDate: {format_datetime(NOW)}\r\n"
        f"Message-ID: <dsn.{contact.send_id}@mx.hotel-rosa.test>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.hotel-rosa.test\r\n\r\n"
        f"Final-Recipient: rfc822; {contact.email}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {contact.rfc_message_id}\r\n"
        f"To: {contact.email}\r\n\r\n--b--\r\n"
    ).encode()


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> FaultySmtpServer:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with FaultySmtpServer() as server:
        yield server


def inbox_file(tmp_path: Path, smtp: FaultySmtpServer) -> Path:
    path = tmp_path / "inboxes.yaml"
    smtp_block = {"host": "127.0.0.1", "port": smtp.port, "tls": "none", "username": USERNAME}
    path.write_text(
        yaml.safe_dump(
            {
                "inboxes": [
                    {
                        "address": "mia@jengu.test",
                        "display_name": "Mia from Jengu",
                        "smtp": {**smtp_block, "password_env": PASSWORD_ENV},
                        "warmup_start": "2026-01-05",
                    }
                ],
                "sending": {"unsubscribe_mailto": "unsubscribe@jengu.test"},
            }
        )
    )
    return path


def resources(store_url: str, maildir: Path, inboxes: Path, sandbox: Sandbox) -> dict[str, dg.ConfigurableResource]:
    return {
        "store": CrmStoreResource(url=store_url),
        "mailboxes": ReplyMailboxResource(
            sending=SendingResource(inbox_file=str(inboxes)),
            maildir=str(maildir),
            forward_to=FORWARD_TO,
            console_url="http://127.0.0.1:8030",
        ),
        "alerts": AlertsResource(
            store_url=store_url, webhook_url=f"{sandbox.base_url}/webhook/{SANDBOX_KEYS['webhook']}"
        ),
    }


CHECKS = [replies_all_classified, replies_no_send_after_suppression, replies_processed_once]


def test_the_replies_asset_reads_classifies_acts_notifies_and_forwards_once(
    store: CrmStore, store_url: str, tmp_path: Path, smtp: FaultySmtpServer, sandbox: Sandbox
) -> None:
    keen, leaving, gone = contacts(store, 3)
    maildir = tmp_path / "maildir"
    deliver(maildir, "1.keen", reply(keen, "Sounds interesting - when would you be free for a call?"))
    deliver(maildir, "2.leaving", reply(leaving, "Please remove me from your list."))
    deliver(maildir, "3.gone", hard_bounce(gone))
    deliver(maildir, "4.again", reply(keen, "Sounds interesting - when would you be free for a call?"))  # same id
    wired = resources(store_url, maildir, inbox_file(tmp_path, smtp), sandbox)
    instance = dg.DagsterInstance.ephemeral()

    with running_at(NOW):
        result = dg.materialize([replies, *CHECKS], resources=wired, instance=instance)
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    metadata = {k: v.value for k, v in result.asset_materializations_for_node("replies")[0].metadata.items()}
    assert (metadata["read"], metadata["stored"], metadata["duplicates"]) == (4, 3, 1)
    assert metadata["this_pass_by_category"] == {"interested": 1, "unsubscribe": 1, "bounce_hard": 1}
    assert metadata["suppressed"] == 2

    stored = dict(store.query("SELECT prospect_id, intent FROM replies").rows())
    assert stored == {
        keen.prospect_id: "interested",
        leaving.prospect_id: "unsubscribe",
        gone.prospect_id: "bounce_hard",
    }
    suppressed = dict(store.query("SELECT email, reason FROM suppressions").rows())
    assert suppressed == {leaving.email: "unsubscribe", gone.email: "hard_bounce"}
    stages = dict(store.query("SELECT prospect_id, stage FROM prospects").rows())
    assert stages == {keen.prospect_id: "interested", leaving.prospect_id: "unsubscribed", gone.prospect_id: "bounced"}

    (notice,) = [alert["payload"]["text"] for alert in sandbox.alerts()]
    assert "reply interested" in notice
    assert f"http://127.0.0.1:8030/prospects/{keen.prospect_id}" in notice
    (forwarded,) = smtp.messages
    assert forwarded.rcpt_tos == (FORWARD_TO,)
    parsed = email.message_from_bytes(forwarded.raw, policy=default_policy)
    assert parsed["Auto-Submitted"] == "auto-generated"
    attached = [part for part in parsed.iter_attachments() if part.get_filename() == "reply.eml"]
    assert len(attached) == 1
    assert keen.rfc_message_id.encode() in attached[0].get_content()

    with running_at(NOW):
        again = dg.materialize([replies, *CHECKS], resources=wired, instance=instance)
    metadata = {k: v.value for k, v in again.asset_materializations_for_node("replies")[0].metadata.items()}
    assert (metadata["read"], metadata["stored"], metadata["processed"]) == (0, 0, 0)
    assert len(sandbox.alerts()) == 1
    assert len(smtp.messages) == 1  # forwarded once, whatever runs again
    assert all(check.passed for check in again.get_asset_check_evaluations())


def evaluate(mailboxes: ReplyMailboxResource, cursor: str | None = None) -> tuple[object, str | None]:
    """One sensor evaluation: what it returned and the cursor it left."""
    with dg.build_sensor_context(cursor=cursor, resources={"mailboxes": mailboxes}) as context:
        return reply_ingestion_sensor(context), context.cursor


def test_the_sensor_launches_a_run_only_when_a_mailbox_changed(tmp_path: Path, smtp: FaultySmtpServer) -> None:
    maildir = tmp_path / "maildir"
    (maildir / "new").mkdir(parents=True)
    mailboxes = ReplyMailboxResource(
        sending=SendingResource(inbox_file=str(inbox_file(tmp_path, smtp))), maildir=str(maildir)
    )

    opening, cursor = evaluate(mailboxes)
    assert isinstance(opening, dg.RunRequest)  # a first look always reads
    quiet, same = evaluate(mailboxes, cursor)
    assert isinstance(quiet, dg.SkipReason)
    assert same == cursor

    message = EmailMessage()
    message["From"] = "anna@hotel-rosa.test"
    message.set_content("Thanks!")
    deliver(maildir, "1.new", message)
    request, moved = evaluate(mailboxes, cursor)
    assert isinstance(request, dg.RunRequest)
    assert request.run_key != opening.run_key
    assert moved != cursor


def test_the_sensor_skips_with_the_reason_when_a_password_variable_is_unset(
    tmp_path: Path, smtp: FaultySmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "inboxes.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "inboxes": [
                    {
                        "address": "mia@jengu.test",
                        "display_name": "Mia from Jengu",
                        "smtp": {"host": "127.0.0.1", "port": smtp.port, "tls": "none"},
                        "imap": {
                            "host": "127.0.0.1",
                            "port": 1,
                            "tls": "none",
                            "username": "mia",
                            "password_env": "JENGU_TEST_UNSET_IMAP_PASSWORD",
                        },
                        "warmup_start": "2026-01-05",
                    }
                ]
            }
        )
    )
    monkeypatch.delenv("JENGU_TEST_UNSET_IMAP_PASSWORD", raising=False)
    mailboxes = ReplyMailboxResource(sending=SendingResource(inbox_file=str(path)))
    skipped, _ = evaluate(mailboxes)
    assert isinstance(skipped, dg.SkipReason)
    assert "JENGU_TEST_UNSET_IMAP_PASSWORD" in (skipped.skip_message or "")


def test_the_sensor_skips_naming_the_file_and_line_of_a_broken_inbox_file(tmp_path: Path) -> None:
    path = tmp_path / "inboxes.yaml"
    path.write_text("inboxes:\n  - address: mia@jengu.test\n")
    skipped, _ = evaluate(ReplyMailboxResource(sending=SendingResource(inbox_file=str(path))))
    assert isinstance(skipped, dg.SkipReason)
    assert f"{path}: line 2" in (skipped.skip_message or "")


def test_a_pass_reads_the_reply_mailbox_the_inbox_file_names_over_imap(
    store: CrmStore, tmp_path: Path, smtp: FaultySmtpServer, reply_dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A campaign's reply_to mailbox (IMAP, password from the variable the file names) is read like an inbox."""
    from imap_tools import MailBoxUnencrypted

    from tests.replies.conftest import REPLY_INBOX, REPLY_PASSWORD

    (contact,) = contacts(store, 1)
    monkeypatch.setenv("JENGU_TEST_REPLY_IMAP_PASSWORD", REPLY_PASSWORD)
    path = inbox_file(tmp_path, smtp)
    config = yaml.safe_load(path.read_text())
    config["reply_mailboxes"] = [
        {
            "address": REPLY_INBOX,
            "imap": {
                "host": "127.0.0.1",
                "port": reply_dovecot.port,
                "tls": "none",
                "username": REPLY_INBOX,
                "password_env": "JENGU_TEST_REPLY_IMAP_PASSWORD",
            },
        }
    ]
    path.write_text(yaml.safe_dump(config))
    with MailBoxUnencrypted(reply_dovecot.host, reply_dovecot.port, timeout=10).login(
        REPLY_INBOX, REPLY_PASSWORD
    ) as box:
        box.append(reply(contact, "Wir haben kein Interesse, danke.").as_bytes(), "INBOX")

    mailboxes = ReplyMailboxResource(sending=SendingResource(inbox_file=str(path)))
    alerts: list[str] = []
    with running_at(NOW):
        report = mailboxes.run_pass(store, alert=alerts.append)
    assert [(s.source, s.folder, s.stored) for s in report.sources] == [(f"imap:{REPLY_INBOX}", "INBOX", 1)]
    assert report.categories == {"not_interested": 1}
    assert alerts == []  # a "no" is recorded, not announced
    assert store.query("SELECT stage FROM prospects")["stage"].to_list() == ["not_interested"]
