"""Fixtures of the sequence tests: a store with threads whose first step went out, their follow-ups written by the
real follow-up path (template writer), the real Sender on a clock the test moves, and the fault-injecting SMTP
server on loopback.

A thread here is one campaign member of the SANDBOX campaign (``business_days: true``, step 2 three working days
after step 1) whose step 1 is ``sent`` in the ledger under a known Message-ID; ``write_follow_ups`` then queues
step 2 through ``store.sequences`` and ``store.messages`` exactly as the ``follow_up_messages`` asset does.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

from smtp_faults import PASSWORD, USERNAME, FaultySmtpServer

from jengu_pipeline.domain.campaigns import Campaign
from jengu_pipeline.domain.compose import Draft, with_footer
from jengu_pipeline.domain.inboxes import InboxFile, parse_inbox_file
from jengu_pipeline.domain.replies.model import Category
from jengu_pipeline.domain.unsubscribe import SECRET_ENV
from jengu_pipeline.resources.message_writer import write_messages
from jengu_pipeline.resources.sending import Sender
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store import messages as message_store
from jengu_pipeline.store import sending as ledger
from jengu_pipeline.store.campaigns import get_campaign, load_campaigns
from jengu_pipeline.store.replies import Inbound, Verdict, process_reply, store_inbound
from jengu_pipeline.store.sequences import due_follow_ups

ROOT = Path(__file__).parents[2]
SANDBOX_CAMPAIGN = ROOT / "jengu_pipeline" / "sandbox" / "campaigns" / "sandbox-intro.yaml"
CAMPAIGN = "sandbox-intro"
INBOX, SECOND_INBOX = "mia@jengu.test", "leo@jengu.test"
SMTP_PASSWORD_ENV = "JENGU_TEST_SEQUENCE_SMTP_PASSWORD"
UNSUBSCRIBE_SECRET = "sequence-test-unsubscribe-secret-0123456789"  # a test-only signing key
STEP_1_SENT = datetime(2026, 11, 19, 10, 0, tzinfo=UTC)  # a Thursday, 11:00 in Berlin
DUE = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # three working days later: Tuesday, 11:00 in Berlin


@dataclass(frozen=True)
class Thread:
    """A member whose first step went out: who, where, and under which Message-ID and subject."""

    prospect_id: str
    email: str
    first_message_id: str
    subject: str
    inbox: str


class ManualClock:
    """The product's time for one test: it moves only when the test (or the Sender's sleep) moves it."""

    def __init__(self, at: datetime) -> None:
        self.at = at
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.at += timedelta(seconds=seconds)


def campaign_folder(tmp_path: Path, **changes: Any) -> Path:
    """The SANDBOX campaign with ``changes`` to its top-level fields, alone in a folder."""
    data = yaml.safe_load(SANDBOX_CAMPAIGN.read_text(encoding="utf-8"))
    data.update(changes)
    folder = tmp_path / f"campaigns-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    (folder / SANDBOX_CAMPAIGN.name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return folder


def seed_threads(
    store: CrmStore,
    count: int,
    *,
    tag: str = "t",
    domain: str | None = None,
    inboxes: tuple[str, ...] = (INBOX,),
    sent_at: datetime = STEP_1_SENT,
) -> list[Thread]:
    """``count`` campaign members (at their own ``*.test`` hotels, or all at ``domain``) whose step 1 was sent,
    alternating over ``inboxes``. The campaign must be loaded."""
    batch = f"b_{uuid.uuid4().hex[:10]}"
    sender = get_campaign_sender(store)
    threads = []
    for n in range(count):
        suffix = uuid.uuid4().hex[:6]
        email = f"guest{n}.{suffix}@{domain or f'{tag}-hotel{n}-{suffix}.test'}"
        threads.append(
            Thread(
                f"pr_{tag}{n}_{suffix}",
                email,
                f"<step1-{tag}{n}-{suffix}@jengu.test>",
                f"Direct bookings at hotel {tag}{n}",
                inboxes[n % len(inboxes)],
            )
        )
    body = with_footer(Draft("", "Hello,\n\nA short note about direct bookings.\n\nBest regards,"), sender).body

    def insert(tx: Any) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)",
            [batch, batch, f"{batch}.csv", uuid.uuid4().hex],
        )
        for n, thread in enumerate(threads):
            tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [thread.prospect_id])
            tx.execute(
                "INSERT INTO prospects (prospect_id, batch_id, first_name, last_name, company, email, active_email,"
                " timezone, country, stage, email_status) VALUES (?, ?, ?, 'Gast', ?, ?, ?, 'Europe/Berlin', 'DE',"
                " 'contacted', 'ok')",
                [thread.prospect_id, batch, f"Anna{n}", f"Hotel {tag}{n}", thread.email, thread.email],
            )
            tx.execute(
                "INSERT INTO campaign_members (campaign_id, prospect_id, variant, source) VALUES (?, ?, ?, 'rule')",
                [CAMPAIGN, thread.prospect_id, "short-intro" if n % 2 else "case-study"],
            )
            message_id = message_store.message_id_for(thread.prospect_id, CAMPAIGN, 1)
            tx.execute(
                "INSERT INTO messages (message_id, prospect_id, campaign_id, step, variant, subject, body, status,"
                " batch_id, created_at) VALUES (?, ?, ?, 1, ?, ?, ?, 'queued', ?, ?)",
                [message_id, thread.prospect_id, CAMPAIGN, None, thread.subject, body, batch, sent_at],
            )
            tx.execute(
                "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
                " rfc_message_id, status, claimed_by, claimed_at, sent_at, updated_at)"
                " VALUES (?, ?, ?, 1, ?, ?, ?, ?, 'sent', 'seed', ?, ?, ?)",
                [
                    ledger.new_send_id(),
                    thread.prospect_id,
                    CAMPAIGN,
                    message_id,
                    thread.inbox,
                    thread.email,
                    thread.first_message_id,
                    sent_at,
                    sent_at,
                    sent_at,
                ],
            )

    store.run(insert)
    return threads


def queue_first_touches(store: CrmStore, count: int) -> list[str]:
    """``count`` enriched members of the campaign with their first step queued; their addresses."""
    batch = f"b_{uuid.uuid4().hex[:8]}"
    body = with_footer(
        Draft("", "Hello,\n\nA note about direct bookings.\n\nBest regards,"), get_campaign_sender(store)
    ).body
    emails = [f"first{n}.{uuid.uuid4().hex[:6]}@first-{n}.test" for n in range(count)]

    def insert(tx: Any) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)",
            [batch, batch, "f.csv", uuid.uuid4().hex],
        )
        for n, address in enumerate(emails):
            prospect = f"pr_first{n}_{uuid.uuid4().hex[:6]}"
            tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [prospect])
            tx.execute(
                "INSERT INTO prospects (prospect_id, batch_id, first_name, email, active_email, timezone, stage,"
                " email_status) VALUES (?, ?, 'Ida', ?, ?, 'Europe/Berlin', 'enriched', 'ok')",
                [prospect, batch, address, address],
            )
            tx.execute(
                "INSERT INTO campaign_members (campaign_id, prospect_id, source) VALUES (?, ?, 'rule')",
                [CAMPAIGN, prospect],
            )
            tx.execute(
                "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status, batch_id)"
                " VALUES (?, ?, ?, 1, 'Direct bookings', ?, 'queued', ?)",
                [f"msg_first{n}_{uuid.uuid4().hex[:6]}", prospect, CAMPAIGN, body, batch],
            )

    store.run(insert)
    return emails


def get_campaign_sender(store: CrmStore) -> Any:
    return store.run(lambda tx: get_campaign(tx, CAMPAIGN)).sender


def campaign(store: CrmStore) -> Campaign:
    return store.run(lambda tx: get_campaign(tx, CAMPAIGN))


def write_follow_ups(store: CrmStore, until: datetime) -> int:
    """Queue every follow-up due before ``until`` as the ``follow_up_messages`` asset does (template writer)."""
    running = campaign(store)
    due = due_follow_ups(store, running, until=until)
    written = asyncio.run(write_messages([], [follow_up.request(running) for follow_up in due]))
    return sum(message_store.add_follow_ups(store, list(zip(written, [f.due_at for f in due], strict=True))).values())


def inbox_config(store: CrmStore, port: int, *addresses: str, daily_cap: int | None = None, **rules: Any) -> InboxFile:
    entries = [
        {
            "address": address,
            "display_name": "Mia Berg" if address == INBOX else "Leo Hansen",
            "smtp": {"host": "127.0.0.1", "port": port, "tls": "none", "username": USERNAME},
            "warmup_start": "2020-01-01",
            **({"daily_cap": daily_cap} if daily_cap else {}),
        }
        for address in addresses or (INBOX,)
    ]
    for entry in entries:
        entry["smtp"]["password_env"] = SMTP_PASSWORD_ENV
    sending = {
        "pace_over_day": False,
        "min_gap_seconds": 0,
        "gap_jitter_seconds": 0,
        "unsubscribe_url": "https://unsubscribe.jengu.test/u",
        **rules,
    }
    config = parse_inbox_file(yaml.safe_dump({"inboxes": entries, "sending": sending}), "sequence test inboxes")
    ledger.sync_inboxes(store, config.inboxes)
    return config


def sender(store: CrmStore, config: InboxFile, clock: ManualClock, alerts: list[str] | None = None) -> Sender:
    return Sender(
        store,
        config,
        alert=(alerts.append if alerts is not None else _no_alert),
        clock=clock.now,
        claimed_by="sequence-test",
        sleep=clock.sleep,
    )


def _no_alert(text: str) -> None:
    raise AssertionError(f"unexpected alert: {text}")


def reply(
    store: CrmStore,
    thread: Thread,
    category: Category,
    at: datetime,
    *,
    from_address: str | None = None,
    processed: bool = True,
    return_date: Any = None,
    text: str = "hello",
) -> str:
    """A reply to the thread's first step stored at ``at``, its effects applied unless ``processed=False``."""
    raw = f"Message-ID: <reply-{uuid.uuid4().hex}@hotel.test>\r\nSubject: Re: {thread.subject}\r\n\r\nhello".encode()
    inbound = Inbound("test", uuid.uuid4().hex, raw, at, None, from_address or thread.email, f"Re: {thread.subject}")
    verdict = Verdict(
        category,
        None,
        return_date,
        text,
        "test",
        thread_ids=(thread.first_message_id,),
        in_reply_to=thread.first_message_id,
    )

    def land(tx: Any) -> str:
        """Stored and (unless not ``processed``) acted on in one transaction, as one commit lands."""
        reply_id = store_inbound(tx, inbound)
        assert reply_id is not None
        if processed:
            process_reply(tx, reply_id, verdict, now=at)
        return reply_id

    return store.run(land)


def sent_follow_ups(store: CrmStore) -> dict[str, tuple[Any, ...]]:
    """prospect id -> (status, inbox, claimed_at, rfc_message_id) of each step-2 send."""
    rows = store.run(
        lambda tx: tx.fetch_all(
            "SELECT prospect_id, status, inbox, claimed_at, rfc_message_id FROM sends WHERE step = 2"
        )
    )
    return {row[0]: row[1:] for row in rows}


def activities(store: CrmStore, prospect_id: str, type_: str) -> list[str]:
    rows = store.run(
        lambda tx: tx.fetch_all(
            "SELECT title FROM activities WHERE prospect_id = ? AND type = ? ORDER BY activity_id", [prospect_id, type_]
        )
    )
    return [row[0] for row in rows]


@pytest.fixture(autouse=True)
def sending_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SMTP_PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv(SECRET_ENV, UNSUBSCRIBE_SECRET)


@pytest.fixture
def smtp() -> Iterator[FaultySmtpServer]:
    with FaultySmtpServer() as server:
        yield server


@pytest.fixture
def loaded(store: CrmStore, tmp_path: Path) -> CrmStore:
    """The store with the SANDBOX campaign loaded."""
    load_campaigns(store, campaign_folder(tmp_path))
    return store
