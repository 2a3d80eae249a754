"""Real messages and a real receiver: a sending tick through a loopback SMTP server, then the unsubscribe
receiver under uvicorn on 127.0.0.1 (a free port), both on the test's store (DuckDB and PostgreSQL)."""

from __future__ import annotations

import email
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from smtp_faults import PASSWORD, USERNAME, FaultySmtpServer

from jengu_pipeline.domain.campaigns import read_campaign_folder
from jengu_pipeline.domain.compose import Draft, with_footer
from jengu_pipeline.domain.inboxes import parse_inbox_file
from jengu_pipeline.domain.unsubscribe import SECRET_ENV
from jengu_pipeline.resources.sending import Sender, simulated_clock
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.campaigns import load_campaigns
from jengu_pipeline.unsubscribe.app import create_app
from jengu_pipeline.unsubscribe.server import running

ROOT = Path(__file__).parents[2]
CAMPAIGNS = ROOT / "jengu_pipeline" / "sandbox" / "campaigns"
CAMPAIGN = "sandbox-intro"
SECRET = "unsubscribe-test-secret-0123456789abcdef"  # a test-only signing key
SMTP_PASSWORD_ENV = "JENGU_TEST_UNSUBSCRIBE_SMTP_PASSWORD"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday, business hours in Berlin
PUBLIC_BASE = "https://unsubscribe.jengu.test/u"


@dataclass(frozen=True)
class SentMessage:
    """A message the SMTP server stored, with its ledger row and the one-click URL of its header."""

    send_id: str
    prospect_id: str
    recipient: str
    raw: bytes
    url: str  # the https URL of its List-Unsubscribe header

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def on(self, base: str) -> str:
        """The header's URL served by the receiver at ``base`` (a TLS proxy would map the public host to it)."""
        parts = urlsplit(self.url)
        return f"{base}{parts.path}?{parts.query}"


def header_url(raw: bytes) -> str:
    parsed = email.message_from_bytes(raw, policy=default_policy)
    uris = [part.strip().strip("<>") for part in str(parsed["List-Unsubscribe"]).split(",")]
    (https,) = [uri for uri in uris if uri.startswith("https://")]
    return https


def seed_queue(store: CrmStore, count: int) -> None:
    """``count`` enriched prospects, members of the sandbox campaign, each with a compose-signed queued message."""
    load_campaigns(store, CAMPAIGNS)
    sender = read_campaign_folder(CAMPAIGNS)[0].campaign.sender
    body = with_footer(Draft("", "Hello,\n\nA note about direct bookings.\n\nBest regards,"), sender).body
    batch = f"b_{uuid.uuid4().hex[:10]}"

    def insert(tx: Any) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)",
            [batch, batch, f"{batch}.csv", uuid.uuid4().hex],
        )
        for n in range(count):
            prospect, address = f"pr_u{n}_{uuid.uuid4().hex[:6]}", f"guest{n}@hotel{n}.test"
            tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [prospect])
            tx.execute(
                "INSERT INTO prospects (prospect_id, batch_id, first_name, last_name, email, active_email, timezone,"
                " country, stage, email_status) VALUES (?, ?, ?, 'Gast', ?, ?, 'Europe/Berlin', 'DE', 'enriched', 'ok')",
                [prospect, batch, f"Anna{n}", address, address],
            )
            tx.execute(
                "INSERT INTO campaign_members (campaign_id, prospect_id, source) VALUES (?, ?, 'manual')",
                [CAMPAIGN, prospect],
            )
            tx.execute(
                "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status, batch_id,"
                " created_at) VALUES (?, ?, ?, 1, ?, ?, 'queued', ?, ?)",
                [
                    f"msg_u{n}_{uuid.uuid4().hex[:6]}",
                    prospect,
                    CAMPAIGN,
                    f"Direct bookings {n}",
                    body,
                    batch,
                    NOW - timedelta(days=1),
                ],
            )

    store.run(insert)


def inbox_yaml(port: int, inboxes: list[tuple[str, str]]) -> str:
    entries = [
        {
            "address": address,
            "display_name": name,
            "host_provider": "other",
            "smtp": {
                "host": "127.0.0.1",
                "port": port,
                "tls": "none",
                "username": USERNAME,
                "password_env": SMTP_PASSWORD_ENV,
            },
            "warmup_start": "2020-01-01",
        }
        for address, name in inboxes
    ]
    sending = {"pace_over_day": False, "min_gap_seconds": 0, "gap_jitter_seconds": 0, "unsubscribe_url": PUBLIC_BASE}
    return yaml.safe_dump({"inboxes": entries, "sending": sending}, sort_keys=False)


def send_tick(store: CrmStore, server: FaultySmtpServer, inboxes: list[tuple[str, str]]) -> dict[str, Any]:
    config = parse_inbox_file(inbox_yaml(server.port, inboxes), "test inboxes")
    sender = Sender(
        store,
        config,
        alert=lambda text: None,
        clock=simulated_clock(NOW),
        claimed_by="unsubscribe-test",
        rng=random.Random(3),
    )
    return sender.tick().to_json()


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv(SMTP_PASSWORD_ENV, PASSWORD)
    return SECRET


@pytest.fixture
def sent(store: CrmStore, secret_env: str) -> list[SentMessage]:
    """Three messages really sent by a tick (from one inbox), as the SMTP server stored them."""
    seed_queue(store, 3)
    with FaultySmtpServer() as server:
        report = send_tick(store, server, [("mia@jengu.test", "Mia from Jengu")])
        assert report["outcomes"] == {"sent": 3}
        stored = list(server.messages)
    ledger_rows = {
        row[0]: row[1:]
        for row in store.run(
            lambda tx: tx.fetch_all("SELECT recipient, send_id, prospect_id FROM sends WHERE status = 'sent'")
        )
    }
    return [
        SentMessage(
            ledger_rows[m.rcpt_tos[0]][0], ledger_rows[m.rcpt_tos[0]][1], m.rcpt_tos[0], m.raw, header_url(m.raw)
        )
        for m in stored
    ]


@pytest.fixture
def receiver(store: CrmStore, secret_env: str) -> Iterator[str]:
    """The unsubscribe receiver on 127.0.0.1 (a free port) over the test's store; yields its base URL."""
    with running(create_app(store, secret_env, path=urlsplit(PUBLIC_BASE).path, clock=lambda: NOW)) as base:
        yield base
