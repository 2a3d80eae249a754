"""Broken store states, each written deliberately through SQL, on top of a clean baseline world.

Every timestamp is explicit and relative to ``NOW`` (the database clock is never used), so the rules see
exactly the ages each seed means.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from jengu_pipeline.store import CrmStore, Tx

NOW = datetime(2030, 1, 15, 10, 0, tzinfo=UTC)
INBOX = "sales@nordlys-hotel.test"


def prospect(
    tx: Tx,
    pid: str,
    *,
    email: str | None = None,
    linkedin: str | None = None,
    stage: str = "enriched",
    archived: bool = False,
    age: timedelta = timedelta(days=1),
) -> None:
    tx.execute("INSERT INTO prospect_registry (prospect_id, created_at) VALUES (?, ?)", [pid, NOW - age])
    tx.execute(
        "INSERT INTO prospects (prospect_id, batch_id, first_name, email, linkedin_url, stage, archived, active_email,"
        " active_linkedin_url, created_at, updated_at) VALUES (?, 'b1', 'Ana', ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            pid,
            email,
            linkedin,
            stage,
            archived,
            None if archived else email,
            None if archived else linkedin,
            NOW - age,
            NOW - age,
        ],
    )


def message(tx: Tx, pid: str, *, campaign: str = "c1", step: int = 1, status: str = "queued") -> str:
    message_id = f"msg_{pid}_{campaign}_{step}"
    tx.execute(
        "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status, created_at)"
        " VALUES (?, ?, ?, ?, 'Hello', 'Body', ?, ?)",
        [message_id, pid, campaign, step, status, NOW],
    )
    return message_id


def send(
    tx: Tx,
    send_id: str,
    pid: str,
    *,
    status: str,
    claimed_ago: timedelta = timedelta(days=1),
    step: int = 1,
    campaign: str = "c1",
    recipient: str | None = None,
    attempts: int = 1,
    attempt_row: bool = True,
    updated_ago: timedelta | None = None,
) -> None:
    claimed = NOW - claimed_ago
    updated = NOW - (updated_ago if updated_ago is not None else claimed_ago)
    tx.execute(
        "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient, rfc_message_id,"
        " status, attempts, claimed_at, updated_at, retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            send_id,
            pid,
            campaign,
            step,
            f"msg_{pid}_{campaign}_{step}",
            INBOX,
            recipient or f"{pid}@hotel.test",
            f"<{send_id}@nordlys-hotel.test>",
            status,
            attempts,
            claimed,
            updated,
            NOW - timedelta(minutes=1) if status == "deferred" else None,
        ],
    )
    if attempt_row:
        tx.execute(
            "INSERT INTO send_attempts (send_id, prospect_id, attempt, inbox, rfc_message_id, started_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [send_id, pid, attempts, INBOX, f"<{send_id}@nordlys-hotel.test>", claimed],
        )


def suppress(tx: Tx, email: str) -> None:
    tx.execute(
        "INSERT INTO suppressions (email, reason, source, created_at) VALUES (?, 'unsubscribe', 'test', ?)",
        [email, NOW - timedelta(days=2)],
    )


def activity(tx: Tx, pid: str, ago: timedelta) -> None:
    tx.execute(
        "INSERT INTO activities (prospect_id, type, title, metadata, created_at)"
        " VALUES (?, 'note', 'seen', CAST('{}' AS JSON), ?)",
        [pid, NOW - ago],
    )


def reply(tx: Tx, reply_id: str, *, intent: str | None, created_ago: timedelta) -> None:
    raw = f"Subject: re\n\n{reply_id}".encode()
    digest = hashlib.sha256(raw).hexdigest()
    tx.execute(
        "INSERT INTO reply_raw (sha256, size_bytes, raw, created_at) VALUES (?, ?, ?, ?)",
        [digest, len(raw), raw, NOW - created_ago],
    )
    tx.execute(
        "INSERT INTO replies (reply_id, raw_sha256, source, source_key, received_at, intent, created_at)"
        " VALUES (?, ?, 'maildir', ?, ?, ?, ?)",
        [reply_id, digest, reply_id, NOW - created_ago, intent, NOW - created_ago],
    )


def baseline(tx: Tx) -> None:
    """A healthy little world: two campaigns, an inbox, contacted prospects with their sends and a reply."""
    tx.execute(
        "INSERT INTO batches (batch_id, name, source_file, content_hash, created_at)"
        " VALUES ('b1', 'b1.csv', '/tmp/b1.csv', 'h1', ?)",
        [NOW - timedelta(days=200)],
    )
    for campaign, status in (("c1", "active"), ("c_paused", "paused")):
        tx.execute("INSERT INTO campaign_registry (campaign_id) VALUES (?)", [campaign])
        tx.execute(
            "INSERT INTO campaigns (campaign_id, name, status, starts_on, ends_on, definition, source_file,"
            " content_hash) VALUES (?, ?, ?, ?, ?, CAST('{}' AS JSON), 'c.yaml', 'x')",
            [campaign, campaign, status, (NOW - timedelta(days=30)).date(), (NOW + timedelta(days=30)).date()],
        )
    tx.execute("INSERT INTO inboxes (inbox, daily_cap) VALUES (?, 20)", [INBOX])
    for n in range(3):
        pid = f"p_ok{n}"
        prospect(tx, pid, email=f"ok{n}@hotel.test", linkedin=f"https://www.linkedin.com/in/ok-{n}", stage="contacted")
        message(tx, pid)
        send(tx, f"snd_ok{n}", pid, status="sent", recipient=f"ok{n}@hotel.test")
    prospect(tx, "p_new", email="new@hotel.test", stage="new", age=timedelta(days=10))
    tx.execute(
        "INSERT INTO enrichment_leases (prospect_id, holder, expires_at) VALUES ('p_new', 'run-a', ?)",
        [NOW + timedelta(minutes=10)],
    )
    reply(tx, "rep_ok", intent="interested", created_ago=timedelta(hours=3))
    reply(tx, "rep_fresh", intent=None, created_ago=timedelta(minutes=10))  # inside the grace period
    tx.execute("INSERT INTO provider_quota (provider, day, used) VALUES ('brave', ?, 5)", [NOW.date()])
    for _ in range(3):
        tx.execute(
            "INSERT INTO provider_calls (provider, operation, outcome, cost_units, created_at)"
            " VALUES ('brave', 'search', 'ok', 1, ?)",
            [NOW - timedelta(hours=1)],
        )
    send(tx, "snd_fresh_claim", "p_ok0", status="claimed", step=2, claimed_ago=timedelta(minutes=5))


def seed_orphans(tx: Tx) -> None:
    tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES ('p_gone')")
    tx.execute(
        "INSERT INTO websites (prospect_id, url, domain, source, confidence) VALUES"
        " ('p_gone', 'https://gone.test', 'gone.test', 'test', 0.9)"
    )
    activity(tx, "p_gone", timedelta(days=1))


def seed_duplicate_email(tx: Tx) -> None:
    prospect(tx, "p_dup1", email="Ana@Hotel-Dup.test")
    prospect(tx, "p_dup2", email="ana@hotel-dup.test ")


def seed_duplicate_linkedin(tx: Tx) -> None:
    prospect(tx, "p_li1", linkedin="https://www.linkedin.com/in/ana-b")
    prospect(tx, "p_li2", linkedin="http://linkedin.com/in/Ana-B/?trk=x")
    prospect(tx, "p_li3", linkedin="https://www.linkedin.com/in/ana-b", archived=True)  # archived: not a clash


def seed_stale_claims(tx: Tx) -> None:
    send(tx, "snd_noattempt", "p_ok1", status="claimed", step=2, claimed_ago=timedelta(minutes=30), attempt_row=False)
    send(tx, "snd_maybe", "p_ok2", status="claimed", step=2, claimed_ago=timedelta(minutes=30))


def seed_unknown(tx: Tx) -> None:
    send(tx, "snd_unknown", "p_ok1", status="unknown", step=3, claimed_ago=timedelta(hours=2))


def seed_messages_to_suppressed(tx: Tx) -> None:
    prospect(tx, "p_sup", email="gone@hotel.test")
    suppress(tx, "GONE@hotel.test")
    message(tx, "p_sup")
    prospect(tx, "p_arch", email="arch@hotel.test", archived=True)
    message(tx, "p_arch", status="awaiting_approval")
    prospect(tx, "p_sup2", email="later@hotel.test", stage="contacted")
    suppress(tx, "later@hotel.test")
    message(tx, "p_sup2")
    send(tx, "snd_sup2_1", "p_sup2", status="sent", recipient="later@hotel.test")  # step 1 went out: history
    message(tx, "p_sup2", step=2)
    send(tx, "snd_sup2_2", "p_sup2", status="deferred", step=2, recipient="later@hotel.test")


def seed_inactive_campaign(tx: Tx) -> None:
    message(tx, "p_ok1", campaign="c_paused")


def seed_quota(tx: Tx) -> None:
    for _ in range(4):
        tx.execute(
            "INSERT INTO provider_calls (provider, operation, outcome, cost_units, created_at)"
            " VALUES ('google_cse', 'search', 'ok', 2, ?)",
            [NOW - timedelta(hours=2)],
        )
    tx.execute("INSERT INTO provider_quota (provider, day, used) VALUES ('google_cse', ?, 3)", [NOW.date()])


def seed_stage(tx: Tx) -> None:
    prospect(tx, "p_lag", email="lag@hotel.test", stage="enriched")
    send(tx, "snd_lag", "p_lag", status="sent", recipient="lag@hotel.test")
    prospect(tx, "p_bnc", email="bnc@hotel.test", stage="contacted")
    suppress(tx, "bnc@hotel.test")
    send(tx, "snd_bnc", "p_bnc", status="bounced", recipient="bnc@hotel.test")


def seed_bounce(tx: Tx) -> None:
    prospect(tx, "p_hb", email="hb@hotel.test", stage="bounced")
    send(tx, "snd_hb", "p_hb", status="bounced", recipient="hb@hotel.test")


def seed_leases(tx: Tx) -> None:
    tx.execute(
        "INSERT INTO enrichment_leases (prospect_id, holder, expires_at) VALUES ('p_ok1', 'dead-run', ?)",
        [NOW - timedelta(minutes=1)],
    )


def seed_stale_new(tx: Tx) -> None:
    prospect(
        tx,
        "p_old",
        email="old@hotel.test",
        linkedin="https://www.linkedin.com/in/old",
        stage="new",
        age=timedelta(days=120),
    )
    activity(tx, "p_old", timedelta(days=95))
    prospect(tx, "p_old_busy", email="busy@hotel.test", stage="new", age=timedelta(days=120))
    activity(tx, "p_old_busy", timedelta(days=10))


def seed_unclassified(tx: Tx) -> None:
    reply(tx, "rep_stuck", intent=None, created_ago=timedelta(hours=2))


SEEDS: dict[str, tuple[Callable[[Tx], None], int, list[str]]] = {
    "orphan_rows": (seed_orphans, 2, ["activities:p_gone", "websites:p_gone"]),
    "duplicate_active_email": (seed_duplicate_email, 2, ["p_dup1", "p_dup2"]),
    "duplicate_active_linkedin_url": (seed_duplicate_linkedin, 2, ["p_li1", "p_li2"]),
    "stale_claims": (seed_stale_claims, 2, ["snd_maybe", "snd_noattempt"]),
    "unknown_sends": (seed_unknown, 1, ["snd_unknown"]),
    "messages_to_suppressed_or_archived": (
        seed_messages_to_suppressed,
        3,
        ["msg_p_arch_c1_1", "msg_p_sup2_c1_2", "msg_p_sup_c1_1"],
    ),
    "messages_in_inactive_campaigns": (seed_inactive_campaign, 1, ["msg_p_ok1_c_paused_1"]),
    "provider_quota_behind_ledger": (seed_quota, 1, [f"google_cse/{NOW.date().isoformat()}"]),
    "prospect_stage_behind_ledger": (seed_stage, 2, ["p_bnc", "p_lag"]),
    "hard_bounce_not_suppressed": (seed_bounce, 1, ["snd_hb"]),
    "expired_leases": (seed_leases, 1, ["p_ok1"]),
    "stale_new_prospects": (seed_stale_new, 1, ["p_old"]),
    "unclassified_replies": (seed_unclassified, 1, ["rep_stuck"]),
}
"""Per rule: the seed that breaks it, how many items it must find, and their ids."""


def seed(store: CrmStore, *steps: Callable[[Tx], None]) -> None:
    def run(tx: Tx) -> None:
        for step in steps:
            step(tx)

    store.run(run)


def snapshot(store: CrmStore) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: two equal snapshots mean nothing changed."""

    def read(tx: Tx) -> dict[str, list[tuple[Any, ...]]]:
        tables = [
            row[0]
            for row in tx.fetch_all(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
                " AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        return {table: sorted(tx.fetch_all(f"SELECT * FROM {table}"), key=repr) for table in tables}

    return store.run(read)
