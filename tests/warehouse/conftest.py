"""A small CRM store with real rows of every kind the warehouse reads, whose marts are worked out by hand.

Twelve prospects in two batches, two campaigns (one with arms a/b and two steps), two inboxes, eight sends,
seven replies, eleven provider calls and a pause: written through the store's own API where it has one
(campaign files, inbox sync, the provider ledger) and as plain rows otherwise, so that every mart has a case.
The expected figures in the tests are derived in the comments of ``seed_store``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from jengu_pipeline.domain.inboxes import InboxConfig
from jengu_pipeline.store import CrmStore, Tx
from jengu_pipeline.store.campaigns import load_campaigns
from jengu_pipeline.store.repository import CallRecord
from jengu_pipeline.store.sending import sync_inboxes

ANNA = "anna@jengu.test"  # Google-hosted: ceiling 30, warm-up from 2025-01-01
BEN = "ben@jengu.test"  # other host: ceiling 50, warm-up from 2024-12-01
W1 = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)  # batch b1 imported (a Monday)
W2 = datetime(2025, 1, 15, 9, 0, tzinfo=UTC)  # batch b2 imported (week of Monday 2025-01-13)
MON = datetime(2025, 1, 20, 10, 0, tzinfo=UTC)

CAMPAIGN_YAML = """\
name: {name}
status: active
starts_on: 2025-01-01
ends_on: 2025-12-31
sender:
  sender_name: Mia from Jengu
  sender_email: mia@jengu.test
  postal_address: Jengu Test Ltd, 1 Test Street, Testland
  unsubscribe_text: Reply stop and we will not write again.
steps:
{steps}
{variants}
"""


def _campaign_files(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    step = "  - delay_days: {days}\n    template: first_touch.txt.j2"
    (folder / "spring.yaml").write_text(
        CAMPAIGN_YAML.format(
            name="spring",
            steps="\n".join(step.format(days=d) for d in (0, 4)),
            variants=dedent("""\
            variants:
              - name: a
              - name: b"""),
        )
    )
    (folder / "solo.yaml").write_text(CAMPAIGN_YAML.format(name="solo", steps=step.format(days=0), variants=""))
    return folder


# (prospect, batch, website rows, email_status, message status, member of, variant)
PROSPECTS = [
    ("p01", "b1", 2, "ok", "queued", "spring", "a"),
    ("p02", "b1", 1, "ok", "queued", "spring", "b"),
    ("p03", "b1", 1, "ok", "queued", "spring", "a"),
    ("p04", "b1", 1, "ok", "queued", "spring", "b"),
    ("p05", "b1", 1, "ok", "queued", "spring", "a"),
    ("p06", "b1", 1, "ok", "rejected", "spring", "b"),
    ("p07", "b1", 1, "risky", "queued", "spring", "b"),
    ("p08", "b1", 0, None, None, None, None),
    ("p09", "b2", 1, "ok", "queued", "solo", None),
    ("p10", "b2", 1, "invalid", None, None, None),
    ("p11", "b2", 0, "ok", None, None, None),
    ("p12", "b2", 0, "ok", "awaiting_approval", "solo", None),
]

# (send, prospect, campaign, step, inbox, status, claimed at, risky)
SENDS = [
    ("s01", "p01", "spring", 1, ANNA, "sent", MON, False),
    ("s02", "p02", "spring", 1, ANNA, "sent", MON + timedelta(minutes=5), False),
    ("s03", "p03", "spring", 1, ANNA, "sent", MON + timedelta(minutes=10), False),
    ("s04", "p04", "spring", 1, ANNA, "bounced", MON + timedelta(minutes=15), False),
    ("s05", "p05", "spring", 1, ANNA, "unknown", MON + timedelta(minutes=20), False),
    ("s06", "p07", "spring", 1, BEN, "sent", MON + timedelta(hours=1), True),
    ("s07", "p01", "spring", 2, ANNA, "sent", MON + timedelta(days=3), False),
    ("s08", "p09", "solo", 1, BEN, "sent", MON + timedelta(days=1, hours=-1), False),
]

# (reply, prospect, send, intent, received at)
REPLIES = [
    ("r1", "p01", "s01", "interested", MON + timedelta(hours=6)),
    ("r2", "p02", "s02", "not_interested", MON + timedelta(minutes=5, hours=24)),
    ("r3", "p03", "s03", "auto_reply", MON + timedelta(hours=1)),
    ("r4", "p04", "s04", "bounce_hard", MON + timedelta(hours=2)),
    ("r5", "p07", "s06", "bounce_soft", datetime(2025, 1, 22, 8, 0, tzinfo=UTC)),
    ("r6", "p09", "s08", None, MON + timedelta(days=1, hours=3)),
    ("r7", None, None, "other", MON + timedelta(days=2)),
]

CALLS = (
    [CallRecord("brave", "search", "ok", 120.0, 1)] * 3
    + [CallRecord("brave", "search", "cache_hit", 0.1, 0)]
    + [CallRecord("brave", "search", "error_429", 30.0, 0)]
    + [CallRecord("millionverifier", "verify", "ok", 200.0, 1)] * 5
    + [CallRecord("millionverifier", "verify", "cache_hit", 0.1, 0)]
)


def _inbox(address: str, provider: str, start: date) -> InboxConfig:
    return InboxConfig.model_validate(
        {
            "address": address,
            "display_name": address.split("@", maxsplit=1)[0].title(),
            "host_provider": provider,
            "warmup_start": start,
            "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
        }
    )


def seed_store(store: CrmStore, campaigns_folder: Path) -> None:
    """Write the dataset; see the module docstring and the tests for what each row stands for."""
    load_campaigns(store, _campaign_files(campaigns_folder))
    sync_inboxes(store, [_inbox(ANNA, "google", date(2025, 1, 1)), _inbox(BEN, "other", date(2024, 12, 1))])

    def rows(tx: Tx) -> None:
        for batch, created in (("b1", W1), ("b2", W2)):
            tx.execute(
                "INSERT INTO batches (batch_id, name, source_file, content_hash, created_at) VALUES (?, ?, ?, ?, ?)",
                [batch, f"hotels-{batch}", f"{batch}.csv", f"hash-{batch}", created],
            )
        for prospect, batch, sites, status, message, campaign, variant in PROSPECTS:
            created = W1 if batch == "b1" else W2
            email = None if status is None else f"{prospect}@hotel-{prospect}.test"
            tx.execute("INSERT INTO prospect_registry (prospect_id, created_at) VALUES (?, ?)", [prospect, created])
            tx.execute(
                "INSERT INTO prospects (prospect_id, batch_id, first_name, last_name, company, email, active_email,"
                " email_status, stage, country, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    prospect,
                    batch,
                    "Ada",
                    prospect.upper(),
                    f"Hotel {prospect}",
                    email,
                    email,
                    status,
                    "enriched" if status in ("ok", "risky") else "new",
                    "FR",
                    created,
                    created,
                ],
            )
            for index in range(sites):
                tx.execute(
                    "INSERT INTO websites (prospect_id, url, domain, source, confidence) VALUES (?, ?, ?, ?, ?)",
                    [
                        prospect,
                        f"https://hotel-{prospect}.test/{index}",
                        f"hotel-{prospect}.test",
                        "search",
                        0.9 - index / 10,
                    ],
                )
            if campaign is not None:
                tx.execute(
                    "INSERT INTO campaign_members (campaign_id, prospect_id, variant, source, added_at)"
                    " VALUES (?, ?, ?, 'rule', ?)",
                    [campaign, prospect, variant, created],
                )
            if message is not None:
                tx.execute(
                    "INSERT INTO messages (message_id, prospect_id, campaign_id, step, variant, subject, body,"
                    " status, batch_id, template) VALUES (?, ?, ?, 1, ?, 'Hello', 'Body', ?, ?,"
                    " 'first_touch.txt.j2')",
                    [f"m-{prospect}-1", prospect, campaign, variant, message, batch],
                )
        tx.execute(
            "INSERT INTO messages (message_id, prospect_id, campaign_id, step, variant, subject, body, status,"
            " batch_id) VALUES ('m-p01-2', 'p01', 'spring', 2, 'a', 'Again', 'Body', 'queued', 'b1')"
        )
        for send, prospect, campaign, step, inbox, status, claimed, risky in SENDS:
            sent_at = claimed if status in ("sent", "bounced") else None
            tx.execute(
                "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
                " rfc_message_id, risky, status, claimed_at, sent_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    send,
                    prospect,
                    campaign,
                    step,
                    f"m-{prospect}-{step}",
                    inbox,
                    f"{prospect}@hotel-{prospect}.test",
                    f"<{send}@jengu.test>",
                    risky,
                    status,
                    claimed,
                    sent_at,
                    claimed,
                ],
            )
        for reply, prospect, send, intent, received in REPLIES:
            raw = f"reply {reply}".encode()
            digest = hashlib.sha256(raw).hexdigest()
            tx.execute("INSERT INTO reply_raw (sha256, size_bytes, raw) VALUES (?, ?, ?)", [digest, len(raw), raw])
            tx.execute(
                "INSERT INTO replies (reply_id, raw_sha256, source, source_key, prospect_id, send_id, matched_by,"
                " received_at, intent, processed_at) VALUES (?, ?, 'maildir', ?, ?, ?, ?, ?, ?, ?)",
                [
                    reply,
                    digest,
                    reply,
                    prospect,
                    send,
                    "in_reply_to" if send else "none",
                    received,
                    intent,
                    None if intent is None else received,
                ],
            )
        tx.execute(
            "INSERT INTO reply_failed_recipients (reply_id, email, hard) VALUES ('r4', 'p04@hotel-p04.test', TRUE)"
        )
        tx.execute(
            "INSERT INTO reply_failed_recipients (reply_id, email, hard) VALUES ('r5', 'p07@hotel-p07.test', FALSE)"
        )
        for kind, at in (
            ("inbox_paused", datetime(2025, 1, 21, 12, 0, tzinfo=UTC)),
            ("inbox_resumed", datetime(2025, 1, 22, 9, 0, tzinfo=UTC)),
        ):
            tx.execute(
                "INSERT INTO activities (type, title, metadata, created_at) VALUES (?, ?, CAST(? AS JSON), ?)",
                [kind, f"{kind} {ANNA}", json.dumps({"inbox": ANNA, "actor": "test", "reason": "test"}), at],
            )

    store.run(rows)
    store.record_calls(CALLS, [])


@pytest.fixture
def seeded(store: CrmStore, tmp_path: Path) -> CrmStore:
    seed_store(store, tmp_path / "campaigns")
    return store
