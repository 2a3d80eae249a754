"""One sending tick end to end: the real Sender against a real store and a fault-injecting SMTP server on loopback.

Every test builds its queue with SQL through the store (prospects, an active campaign, queued messages to
``*.test`` addresses), runs ``Sender.tick()`` with a clock inside business hours, and checks what the SMTP
server stored against what the send ledger says.
"""

from __future__ import annotations

import email
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import yaml
from dovecot import Dovecot
from smtp_faults import ACCEPT_THEN_STALL, DROP_IN_DATA, PASSWORD, USERNAME, FaultySmtpServer

from jengu_pipeline.domain.campaigns import read_campaign_folder
from jengu_pipeline.domain.compose import Draft, footer, with_footer
from jengu_pipeline.domain.inboxes import InboxFile, parse_inbox_file
from jengu_pipeline.domain.unsubscribe import SECRET_ENV, TokenSigner
from jengu_pipeline.resources.imap import ImapEndpoint
from jengu_pipeline.resources.sending import Sender, SendingConfigError, TickReport, simulated_clock
from jengu_pipeline.resources.sent_folder import append_sent
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store import sending as ledger
from jengu_pipeline.store.campaigns import load_campaigns
from tests.sending.conftest import TICK_IMAP_PASSWORD

ROOT = Path(__file__).parents[2]
CAMPAIGNS = ROOT / "jengu_pipeline" / "sandbox" / "campaigns"
CAMPAIGN = "sandbox-intro"
INBOX = "mia@jengu.test"  # = tests/sending/conftest.py TICK_INBOX
SECOND_INBOX = "leo@jengu.test"
SMTP_PASSWORD_ENV = "JENGU_TEST_TICK_SMTP_PASSWORD"
IMAP_PASSWORD_ENV = "JENGU_TEST_TICK_IMAP_PASSWORD"
NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # a Tuesday; 11:00 in Berlin
SENDER = read_campaign_folder(CAMPAIGNS)[0].campaign.sender  # the campaign's sender signs what compose wrote
BODY = with_footer(
    Draft("", "Hello,\n\nA short note about direct bookings at your hotel.\n\nBest regards,"), SENDER
).body
UNSUBSCRIBE_SECRET = "tick-test-unsubscribe-secret-0123456789"  # a test-only signing key


# ---------------------------------------------------------------------------------------------- test data


@dataclass(frozen=True)
class Queued:
    prospect_id: str
    message_id: str
    email: str


def queue_messages(
    store: CrmStore,
    count: int,
    *,
    tag: str = "p",
    timezone: str | None = "Europe/Berlin",
    country: str | None = "DE",
    body: str = BODY,
    step: int = 1,
) -> list[Queued]:
    """``count`` enriched prospects at ``*.test`` domains, each with a queued message of the sandbox campaign."""
    if not store.run(lambda tx: tx.fetch_value("SELECT count(*) FROM campaigns WHERE campaign_id = ?", [CAMPAIGN])):
        load_campaigns(store, CAMPAIGNS)
    batch = f"b_{uuid.uuid4().hex[:10]}"
    made = [
        Queued(
            f"pr_{tag}{n}_{uuid.uuid4().hex[:6]}",
            f"msg_{tag}{n}_{uuid.uuid4().hex[:6]}",
            f"guest{n}@{tag}-hotel{n}.test",
        )
        for n in range(count)
    ]

    def insert(tx: Any) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)",
            [batch, batch, f"{batch}.csv", uuid.uuid4().hex],
        )
        for n, item in enumerate(made):
            tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [item.prospect_id])
            tx.execute(
                "INSERT INTO prospects (prospect_id, batch_id, first_name, last_name, email, active_email, timezone,"
                " country, stage, email_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'enriched', 'ok')",
                [item.prospect_id, batch, f"Anna{n}", "Gast", item.email, item.email, timezone, country],
            )
            tx.execute(
                "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status, batch_id,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?)",
                [
                    item.message_id,
                    item.prospect_id,
                    CAMPAIGN,
                    step,
                    f"Direct bookings at hotel {n}",
                    body,
                    batch,
                    NOW - timedelta(days=1, seconds=-n),
                ],
            )

    store.run(insert)
    return made


def inbox_entry(
    port: int,
    address: str = INBOX,
    *,
    provider: str = "other",
    warmup_start: date = date(2020, 1, 1),
    daily_cap: int | None = None,
    imap_port: int | None = None,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "address": address,
        "display_name": "Mia Berg" if address == INBOX else "Leo Hansen",
        "host_provider": provider,
        "smtp": {
            "host": "127.0.0.1",
            "port": port,
            "tls": "none",
            "username": USERNAME,
            "password_env": SMTP_PASSWORD_ENV,
        },
        "warmup_start": warmup_start.isoformat(),
    }
    if daily_cap is not None:
        entry["daily_cap"] = daily_cap
    if imap_port is not None:
        entry["imap"] = {
            "host": "127.0.0.1",
            "port": imap_port,
            "tls": "none",
            "username": address,
            "password_env": IMAP_PASSWORD_ENV,
        }
    return entry


def inbox_text(*entries: dict[str, Any], **rules: Any) -> str:
    sending = {
        "pace_over_day": False,
        "min_gap_seconds": 0,
        "gap_jitter_seconds": 0,
        "unsubscribe_url": "https://unsubscribe.jengu.test/u",
        **rules,
    }
    return yaml.safe_dump({"inboxes": list(entries), "sending": sending}, sort_keys=False)


def inbox_file(store: CrmStore, *entries: dict[str, Any], **rules: Any) -> InboxFile:
    return ready(store, inbox_text(*entries, **rules))


def ready(store: CrmStore, text: str) -> InboxFile:
    """The inbox file, its inboxes in the store as a tick would put them (never paused, never resumed)."""
    config = parse_inbox_file(text, "test inboxes")
    ledger.sync_inboxes(store, config.inboxes)
    return config


def sender(
    store: CrmStore, config: InboxFile, *, at: datetime = NOW, alerts: list[str] | None = None, **options: Any
) -> Sender:
    return Sender(
        store,
        config,
        alert=(alerts.append if alerts is not None else _unexpected_alert),
        clock=simulated_clock(at),
        claimed_by="test-tick",
        rng=random.Random(1),
        **options,
    )


def _unexpected_alert(text: str) -> None:
    raise AssertionError(f"unexpected alert: {text}")


def tick(store: CrmStore, config: InboxFile, at: datetime = NOW, **options: Any) -> TickReport:
    return sender(store, config, at=at, **options).tick()


def query(store: CrmStore, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    return store.run(lambda tx: tx.fetch_all(sql, list(params)))


def sends(store: CrmStore) -> dict[str, tuple[Any, ...]]:
    """recipient -> (status, attempts, smtp_code, retry_at, send_id, rfc_message_id, inbox)."""
    rows = query(
        store, "SELECT recipient, status, attempts, smtp_code, retry_at, send_id, rfc_message_id, inbox FROM sends"
    )
    return {row[0]: row[1:] for row in rows}


def recipients(server: FaultySmtpServer) -> Counter[str]:
    return Counter(rcpt for message in server.messages for rcpt in message.rcpt_tos)


def rcpt_commands(server: FaultySmtpServer) -> int:
    return sum(1 for _, verb in server.commands if verb == "RCPT")


@pytest.fixture(autouse=True)
def smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SMTP_PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv(SECRET_ENV, UNSUBSCRIBE_SECRET)


# ---------------------------------------------------------------------------------------------- the first tick


@pytest.mark.postgres
def test_the_first_tick_of_a_never_resumed_inbox_on_postgresql(pg_store_url: str, tick_smtp: FaultySmtpServer) -> None:
    store = open_store(pg_store_url)
    (anna,) = queue_messages(store, 1)
    config = parse_inbox_file(inbox_text(inbox_entry(tick_smtp.port)), "test inboxes")  # as inboxes.yaml loads

    report = tick(store, config)
    assert report.outcomes == Counter(sent=1)
    assert recipients(tick_smtp) == Counter({anna.email: 1})


def test_the_first_tick_of_a_never_resumed_inbox_on_duckdb(tmp_path: Path, tick_smtp: FaultySmtpServer) -> None:
    """The same on DuckDB (its SQL types a NULL parameter where PostgreSQL could not, which once broke the above)."""
    store = open_store(f"duckdb:///{tmp_path}/crm.duckdb")
    (anna,) = queue_messages(store, 1)
    config = parse_inbox_file(inbox_text(inbox_entry(tick_smtp.port)), "test inboxes")

    assert tick(store, config).outcomes == Counter(sent=1)
    assert recipients(tick_smtp) == Counter({anna.email: 1})


# ---------------------------------------------------------------------------------------------- retries


def test_421_then_451_then_success_is_retried_by_later_ticks_and_sent_once(
    store: CrmStore, tick_smtp: FaultySmtpServer
) -> None:
    (anna,) = queue_messages(store, 1)
    config = inbox_file(store, inbox_entry(tick_smtp.port))
    tick_smtp.script(anna.email, ["421 4.7.0 Try again later, closing connection", "451 4.3.0 Busy"])

    first = tick(store, config)
    assert first.outcomes == Counter(deferred=1)
    status, attempts, code, retry_at, *_ = sends(store)[anna.email]
    assert (status, attempts, code) == ("deferred", 1, 421)
    assert NOW + timedelta(minutes=15) <= retry_at < NOW + timedelta(minutes=16)

    before = rcpt_commands(tick_smtp)
    early = tick(store, config, NOW + timedelta(minutes=5))  # before retry_at: not due
    assert early.planned == 0
    assert rcpt_commands(tick_smtp) == before

    second = tick(store, config, NOW + timedelta(minutes=16))
    assert second.outcomes == Counter(deferred=1)
    status, attempts, code, retry_at, *_ = sends(store)[anna.email]
    assert (status, attempts, code) == ("deferred", 2, 451)
    assert retry_at >= NOW + timedelta(minutes=16 + 60)

    assert tick(store, config, NOW + timedelta(minutes=50)).planned == 0  # still before the second retry_at
    third = tick(store, config, NOW + timedelta(minutes=80))
    assert third.outcomes == Counter(sent=1)

    assert recipients(tick_smtp) == Counter({anna.email: 1})
    status, attempts, code, _, send_id, rfc_id, _ = sends(store)[anna.email]
    assert (status, attempts, code) == ("sent", 3, 250)
    attempts_rows = query(
        store,
        "SELECT attempt, outcome, smtp_code, stage, rfc_message_id FROM send_attempts"
        " WHERE send_id = ? ORDER BY attempt",
        [send_id],
    )
    assert [row[:4] for row in attempts_rows] == [
        (1, "deferred", 421, "rcpt"),
        (2, "deferred", 451, "rcpt"),
        (3, "sent", 250, "end_of_data"),
    ]
    assert len({row[4] for row in attempts_rows}) == 3, "each attempt goes out under a Message-ID of its own"
    (stored,) = tick_smtp.messages
    assert email.message_from_bytes(stored.raw)["Message-ID"] == rfc_id == attempts_rows[2][4]
    assert query(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [anna.prospect_id]) == [("contacted",)]


def test_hard_bounce_suppresses_the_address_and_is_never_tried_again(
    store: CrmStore, tick_smtp: FaultySmtpServer
) -> None:
    anna, bob = queue_messages(store, 2)
    config = inbox_file(store, inbox_entry(tick_smtp.port))
    tick_smtp.script(anna.email, ["550 5.1.1 <guest0@p-hotel0.test>: Recipient address rejected: User unknown"])

    report = tick(store, config)
    assert report.outcomes == Counter(bounced=1, sent=1)
    status, attempts, code, retry_at, send_id, *_ = sends(store)[anna.email]
    assert (status, attempts, code, retry_at) == ("bounced", 1, 550, None)
    assert query(store, "SELECT reason, source FROM suppressions WHERE email = ?", [anna.email]) == [
        ("hard_bounce", send_id)
    ]
    assert query(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [anna.prospect_id]) == [("bounced",)]
    assert sends(store)[bob.email][0] == "sent"
    assert recipients(tick_smtp) == Counter({bob.email: 1})

    # A later tick (the next day), even with a follow-up step queued for her, never tries her again.
    follow_up = f"msg_follow_{uuid.uuid4().hex[:6]}"
    store.run(
        lambda tx: tx.execute(
            "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status)"
            " VALUES (?, ?, ?, 2, 'Following up', ?, 'queued')",
            [follow_up, anna.prospect_id, CAMPAIGN, BODY],
        )
    )
    before = rcpt_commands(tick_smtp)
    later = tick(store, config, NOW + timedelta(days=1))
    assert later.planned == 0
    assert later.outcomes == Counter()
    assert rcpt_commands(tick_smtp) == before
    assert recipients(tick_smtp) == Counter({bob.email: 1})
    assert query(store, "SELECT count(*) FROM sends WHERE prospect_id = ?", [anna.prospect_id]) == [(1,)]


def larger_than_socket_buffers() -> int:
    """More bytes than the kernel holds for a peer that stopped reading, so the writer is still writing when the
    server resets the connection (as in the transport tests)."""
    wmem = Path("/proc/sys/net/ipv4/tcp_wmem")
    most = int(wmem.read_text().split()[2]) if wmem.exists() else 4 * 1024 * 1024
    return 2 * most + 1024 * 1024


def test_a_disconnect_in_the_middle_of_data_is_deferred_then_sent_once(
    store: CrmStore, tick_smtp: FaultySmtpServer
) -> None:
    line = "A line of the long case study about direct bookings, repeated.\n"
    big_body = with_footer(Draft("", line * (larger_than_socket_buffers() // len(line) + 1)), SENDER).body
    (anna,) = queue_messages(store, 1, body=big_body)
    config = inbox_file(store, inbox_entry(tick_smtp.port))
    tick_smtp.script(anna.email, [DROP_IN_DATA], at="data")

    first = tick(store, config)
    assert first.outcomes == Counter(deferred=1)
    assert tick_smtp.messages == [], "the server discarded the incomplete message"
    status, attempts, code, retry_at, send_id, *_ = sends(store)[anna.email]
    assert (status, attempts, code) == ("deferred", 1, None)
    assert retry_at is not None
    assert query(store, "SELECT outcome, stage FROM send_attempts WHERE send_id = ?", [send_id]) == [
        ("deferred", "data")
    ]

    second = tick(store, config, NOW + timedelta(minutes=16))
    assert second.outcomes == Counter(sent=1)
    assert recipients(tick_smtp) == Counter({anna.email: 1})
    assert sends(store)[anna.email][:2] == ("sent", 2)


# ---------------------------------------------------------------------------------------------- auth and pauses


def test_a_wrong_password_pauses_the_inbox_alerts_and_sends_nothing_until_resumed(
    store: CrmStore, tick_smtp: FaultySmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = queue_messages(store, 3)
    config = inbox_file(store, inbox_entry(tick_smtp.port))
    wrong = "not-the-password-7d1e"
    monkeypatch.setenv(SMTP_PASSWORD_ENV, wrong)
    alerts: list[str] = []

    report = tick(store, config, alerts=alerts)
    assert report.outcomes == Counter(deferred=1)
    assert report.paused_inboxes == [INBOX]
    assert report.skipped["inbox_paused_during_tick"] == 2
    assert tick_smtp.messages == []
    assert not any(verb == "MAIL" for _, verb in tick_smtp.commands)
    (alert,) = alerts
    assert INBOX in alert
    assert "auth" in alert
    assert wrong not in alert
    ((status, reason),) = query(store, "SELECT status, paused_reason FROM inboxes WHERE inbox = ?", [INBOX])
    assert status == "paused"
    assert "535" in reason
    rows = sends(store)
    assert list(rows) == [queued[0].email]
    assert rows[queued[0].email][:3] == ("deferred", 1, 535)
    assert rows[queued[0].email][3] is not None, "retryable: it has a retry time"

    # The password is fixed, but the inbox stays paused until someone resumes it.
    monkeypatch.setenv(SMTP_PASSWORD_ENV, PASSWORD)
    paused = tick(store, config, NOW + timedelta(minutes=20), alerts=alerts)
    assert paused.planned == 0
    assert paused.outcomes == Counter()
    assert paused.skipped["inbox_unavailable"] == 3
    assert tick_smtp.messages == []
    assert len(alerts) == 1

    assert ledger.set_inbox_paused(store, INBOX, False, reason="password fixed", actor="test")
    resumed = tick(store, config, NOW + timedelta(minutes=21), alerts=alerts)
    assert resumed.outcomes == Counter(sent=3)
    assert recipients(tick_smtp) == Counter({q.email: 1 for q in queued})
    assert sends(store)[queued[0].email][:2] == ("sent", 2)
    assert ledger.sending_status(store)["inboxes"][0]["status"] == "active"


def test_a_missing_password_variable_leaves_no_claim_behind(
    store: CrmStore, tick_smtp: FaultySmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (anna,) = queue_messages(store, 1)
    config = inbox_file(store, inbox_entry(tick_smtp.port))
    monkeypatch.delenv(SMTP_PASSWORD_ENV)

    with pytest.raises(SendingConfigError, match=SMTP_PASSWORD_ENV):
        tick(store, config)
    assert tick_smtp.connections == 0, "nothing reached the server"
    monkeypatch.setenv(SMTP_PASSWORD_ENV, PASSWORD)
    later = tick(store, config, NOW + timedelta(minutes=20))
    assert later.reconciled["held"] == 0, f"a send that never started is held as maybe-sent: {sends(store)}"
    assert later.outcomes == Counter(sent=1)
    assert recipients(tick_smtp) == Counter({anna.email: 1})


# ---------------------------------------------------------------------------------------------- concurrency and crashes

CHILD = r"""
import json, random, sys
from datetime import datetime, timedelta
from jengu_pipeline.domain.inboxes import parse_inbox_file
from jengu_pipeline.resources.sending import Sender, simulated_clock
from jengu_pipeline.store import open_store

args = json.loads(sys.argv[1])
store = open_store(args["store_url"])
sender = Sender(store, parse_inbox_file(args["inboxes"], "child inboxes"), alert=lambda t: print(t, file=sys.stderr),
                clock=simulated_clock(datetime.fromisoformat(args["at"])), claimed_by=args["name"],
                rng=random.Random(args["seed"]))
print("ready", flush=True)
if args["wait"]:
    sys.stdin.readline()
print(json.dumps(sender.tick().to_json()), flush=True)
"""


def start_tick_process(
    store_url: str, inboxes: str, *, name: str, seed: int = 1, at: datetime = NOW, wait: bool = False
) -> subprocess.Popen[str]:
    args = {"store_url": store_url, "inboxes": inboxes, "name": name, "seed": seed, "at": at.isoformat(), "wait": wait}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(args)],
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    ready = child.stdout.readline()
    if ready.strip() != "ready":
        child.kill()
        _, errors = child.communicate()
        raise AssertionError(f"tick process {name} did not start: {ready!r} {errors[-2000:]}")
    return child


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


@pytest.mark.postgres
def test_two_tick_processes_at_once_send_each_step_once_and_keep_the_daily_cap(
    pg_store_url: str, tick_smtp: FaultySmtpServer
) -> None:
    store = open_store(pg_store_url)
    cap = 5
    queued = queue_messages(store, 24)
    # A chance to skip each message, seeded differently per process: the two plans pick different messages for
    # the same inbox, so they compete for its last units of cap, not only for the same rows.
    inboxes = inbox_text(inbox_entry(tick_smtp.port, daily_cap=cap), skip_probability=0.5)
    ready(store, inboxes)
    children = [start_tick_process(pg_store_url, inboxes, name=f"tick-{n}", seed=n, wait=True) for n in (1, 2)]
    for child in children:  # both are loaded and waiting: let them go together
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    reports = []
    for child in children:
        out, errors = child.communicate(timeout=60)
        assert child.returncode == 0, errors[-3000:]
        reports.append(json.loads(out.strip().splitlines()[-1]))

    got = recipients(tick_smtp)
    assert max(got.values(), default=0) == 1, f"a step went out twice: {got}"
    assert set(got) <= {q.email for q in queued}
    assert len(tick_smtp.messages) == cap, f"the inbox's daily cap is {cap}: {reports}"
    assert Counter(m.mail_from for m in tick_smtp.messages) == Counter({INBOX: cap})
    assert sum(report["outcomes"].get("sent", 0) for report in reports) == cap
    ledger_rows = sends(store)
    assert {r for r, row in ledger_rows.items() if row[0] == "sent"} == set(got)
    assert len(ledger_rows) == cap, "no other claims were left behind"


@pytest.fixture
def imap_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(IMAP_PASSWORD_ENV, TICK_IMAP_PASSWORD)


def kill_after_the_server_stored_it(
    store: CrmStore, store_url: str, server: FaultySmtpServer, inboxes: str, who: Queued
) -> str:
    """Run a tick in a process of its own, SIGKILL it once the server holds the message it never acknowledged."""
    server.script(who.email, [ACCEPT_THEN_STALL], at="end_of_data")
    child = start_tick_process(store_url, inboxes, name="doomed-tick")
    try:
        wait_until(lambda: len(server.messages) == 1, "the server to store the message")
        assert child.poll() is None, "the tick is still waiting for the server's reply"
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL
    status, attempts, code, _, send_id, rfc_id, _ = sends(store)[who.email]
    assert (status, attempts, code) == ("claimed", 1, None)
    assert email.message_from_bytes(server.messages[0].raw)["Message-ID"] == rfc_id
    return send_id


def test_a_tick_killed_after_the_server_accepted_leaves_an_unknown_that_is_held_not_resent(
    store: CrmStore, store_url: str, tick_smtp: FaultySmtpServer
) -> None:
    (anna,) = queue_messages(store, 1)
    inboxes = inbox_text(inbox_entry(tick_smtp.port))
    config = ready(store, inboxes)
    send_id = kill_after_the_server_stored_it(store, store_url, tick_smtp, inboxes, anna)

    before = rcpt_commands(tick_smtp)
    later = tick(store, config, NOW + timedelta(minutes=20))
    assert later.reconciled == {"stale_claims": 1, "found_in_sent": 0, "held": 1}
    assert later.planned == 0
    assert rcpt_commands(tick_smtp) == before
    assert sends(store)[anna.email][0] == "unknown"

    held = tick(store, config, NOW + timedelta(hours=2))  # still held: a maybe-sent is never resent blindly
    assert held.reconciled == {"stale_claims": 0, "found_in_sent": 0, "held": 1}
    assert held.planned == 0
    assert len(tick_smtp.messages) == 1

    ledger.resolve(store, send_id, sent=True, actor="operator", now=NOW + timedelta(hours=3))
    assert sends(store)[anna.email][0] == "sent"
    assert query(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [anna.prospect_id]) == [("contacted",)]
    settled = tick(store, config, NOW + timedelta(hours=4))
    assert settled.reconciled == {"stale_claims": 0, "found_in_sent": 0, "held": 0}
    assert settled.planned == 0
    assert len(tick_smtp.messages) == 1


def test_a_tick_killed_after_the_server_accepted_is_reconciled_from_the_sent_folder(
    store: CrmStore, store_url: str, tick_smtp: FaultySmtpServer, tick_dovecot: Dovecot, imap_password: None
) -> None:
    (anna,) = queue_messages(store, 1)
    inboxes = inbox_text(inbox_entry(tick_smtp.port, imap_port=tick_dovecot.port))
    config = ready(store, inboxes)
    kill_after_the_server_stored_it(store, store_url, tick_smtp, inboxes, anna)

    # Not in Sent (yet): absence proves nothing, so it is held.
    first = tick(store, config, NOW + timedelta(minutes=20))
    assert first.reconciled == {"stale_claims": 1, "found_in_sent": 0, "held": 1}
    assert sends(store)[anna.email][0] == "unknown"

    # The provider saved the submission in Sent, as Gmail does: the next tick settles it without resending.
    imap = ImapEndpoint(tick_dovecot.host, tick_dovecot.port, "none", INBOX, os.environ[IMAP_PASSWORD_ENV])
    append_sent(imap, tick_smtp.messages[0].raw)
    second = tick(store, config, NOW + timedelta(minutes=25))
    assert second.reconciled == {"stale_claims": 0, "found_in_sent": 1, "held": 0}
    assert second.planned == 0
    assert sends(store)[anna.email][0] == "sent"
    assert recipients(tick_smtp) == Counter({anna.email: 1})
    assert query(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [anna.prospect_id]) == [("contacted",)]


# ---------------------------------------------------------------------------------------------- controls


def test_the_emergency_stop_during_a_tick_ends_it_before_the_next_smtp_transaction(
    store: CrmStore, tick_smtp: FaultySmtpServer
) -> None:
    queued = queue_messages(store, 4)
    config = inbox_file(store, inbox_entry(tick_smtp.port), min_gap_seconds=1)
    waits: list[float] = []

    def stop_while_waiting(seconds: float) -> None:  # the tick waits between two sends: the operator stops it
        waits.append(seconds)
        ledger.set_sending_stopped(store, True, actor="test")

    report = tick(store, config, sleep=stop_while_waiting)
    assert report.stopped is True
    assert report.outcomes == Counter(sent=1)
    assert report.skipped["emergency_stop"] == 1
    assert len(waits) == 1
    assert len(tick_smtp.messages) == 1
    assert sum(1 for _, verb in tick_smtp.commands if verb == "MAIL") == 1
    assert len(sends(store)) == 1

    stopped = tick(store, config, NOW + timedelta(minutes=5))
    assert stopped.stopped is True
    assert stopped.planned == 0
    assert len(tick_smtp.messages) == 1

    ledger.set_sending_stopped(store, False, actor="test")
    resumed = tick(store, config, NOW + timedelta(minutes=10), sleep=lambda seconds: None)
    assert resumed.stopped is False
    assert resumed.outcomes == Counter(sent=3)
    assert recipients(tick_smtp) == Counter({q.email: 1 for q in queued})


def test_a_suppressed_address_in_the_queue_is_never_sent(store: CrmStore, tick_smtp: FaultySmtpServer) -> None:
    queued = queue_messages(store, 3)
    store.run(
        lambda tx: tx.execute(
            "INSERT INTO suppressions (email, reason, source) VALUES (?, 'unsubscribed', ?)", [queued[1].email, "test"]
        )
    )
    config = inbox_file(store, inbox_entry(tick_smtp.port))

    report = tick(store, config)
    assert report.outcomes == Counter(sent=2)
    assert report.skipped["suppressed"] == 1  # settled before planning: its sequence stops, with an activity
    assert recipients(tick_smtp) == Counter({queued[0].email: 1, queued[2].email: 1})
    assert queued[1].email not in sends(store)
    assert tick(store, config, NOW + timedelta(days=1)).planned == 0
    assert queued[1].email not in recipients(tick_smtp)


@pytest.mark.parametrize(
    ("store_url", "days", "cap"),
    [
        ("duckdb", 0, 5),
        pytest.param("postgresql", 0, 5, marks=pytest.mark.postgres),
        ("duckdb", 7, 10),
        pytest.param("postgresql", 7, 10, marks=pytest.mark.postgres),
        pytest.param("postgresql", 35, 30, marks=pytest.mark.postgres),  # 30 sends: the slow DuckDB run adds nothing
    ],
    indirect=["store_url"],
)
def test_warm_up_caps_one_google_inbox(store: CrmStore, tick_smtp: FaultySmtpServer, days: int, cap: int) -> None:
    queue_messages(store, 40)
    config = inbox_file(
        store, inbox_entry(tick_smtp.port, provider="google", warmup_start=NOW.date() - timedelta(days=days))
    )

    report = tick(store, config)
    assert report.outcomes == Counter(sent=cap)
    assert report.skipped["daily_cap"] == 40 - cap
    assert len(tick_smtp.messages) == cap
    assert max(recipients(tick_smtp).values()) == 1

    again = tick(store, config, NOW + timedelta(hours=1))  # the day's cap is used: nothing more today
    assert again.planned == 0
    assert len(tick_smtp.messages) == cap


@pytest.mark.parametrize(
    ("at", "goes", "waits"),
    [
        (datetime(2026, 11, 24, 1, 0, tzinfo=UTC), "Asia/Tokyo", "America/Denver"),  # Tokyo 10:00 Tue, Denver 18:00 Mon
        (datetime(2026, 11, 24, 16, 0, tzinfo=UTC), "America/Denver", "Asia/Tokyo"),  # Denver 09:00, Tokyo 01:00 Wed
    ],
)
def test_business_hours_are_the_prospects_own(
    store: CrmStore, tick_smtp: FaultySmtpServer, at: datetime, goes: str, waits: str
) -> None:
    (tokyo,) = queue_messages(store, 1, tag="tokyo", timezone="Asia/Tokyo", country="JP")
    (denver,) = queue_messages(store, 1, tag="denver", timezone="America/Denver", country="US")
    by_zone = {"Asia/Tokyo": tokyo, "America/Denver": denver}
    config = inbox_file(store, inbox_entry(tick_smtp.port))

    report = tick(store, config, at)
    assert report.outcomes == Counter(sent=1)
    assert report.skipped == Counter(outside_business_hours=1)
    assert recipients(tick_smtp) == Counter({by_zone[goes].email: 1})
    assert by_zone[waits].email not in sends(store)


def test_every_sent_message_carries_the_headers_and_the_footer(store: CrmStore, tick_smtp: FaultySmtpServer) -> None:
    queued = queue_messages(store, 2)
    config = inbox_file(store, inbox_entry(tick_smtp.port))

    assert tick(store, config).outcomes == Counter(sent=2)
    ledger_rows = sends(store)
    assert len(tick_smtp.messages) == 2
    for stored in tick_smtp.messages:
        message = email.message_from_bytes(stored.raw, policy=default_policy)
        assert isinstance(message, EmailMessage)
        (to,) = stored.rcpt_tos
        status, _, _, _, send_id, rfc_id, inbox = ledger_rows[to]
        assert (status, inbox, stored.mail_from) == ("sent", INBOX, INBOX)
        assert message["Message-ID"] == rfc_id
        assert rfc_id.startswith("<")
        assert rfc_id.endswith("@jengu.test>")
        assert message["X-Jengu-Send-Id"] == send_id
        assert message["From"].addresses[0].display_name == "Mia Berg"
        assert message["From"].addresses[0].addr_spec == INBOX
        assert message["To"].addresses[0].addr_spec == to
        assert message["Reply-To"] == "Mia Berg <replies@jengu.example>"  # the campaign's reply_to, for her
        unsubscribe = [part.strip().strip("<>") for part in str(message["List-Unsubscribe"]).split(",")]
        assert unsubscribe == [
            f"https://unsubscribe.jengu.test/u?t={TokenSigner(UNSUBSCRIBE_SECRET).token(send_id)}",
            f"mailto:{INBOX}?subject=unsubscribe%20{send_id}",
        ]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content().replace("\r\n", "\n")
        assert text.rstrip().endswith(footer(SENDER, "Mia Berg"))
        assert stored.raw.isascii()
    assert {m.rcpt_tos[0] for m in tick_smtp.messages} == {q.email for q in queued}


# ---------------------------------------------------------------------------------------------- preflight


def sender_zone(*, spf: bool) -> dict[str, dict[str, list[str]]]:
    zone = {
        "jengu.test": {"MX": ["10 mx1.jengu.test."], "TXT": ["v=spf1 mx -all"] if spf else []},
        "_dmarc.jengu.test": {"TXT": ["v=DMARC1; p=quarantine"]},
    }
    return {owner: {kind: values for kind, values in kinds.items() if values} for owner, kinds in zone.items()}


@pytest.mark.parametrize(("spf", "override", "sent"), [(True, False, 1), (False, False, 0), (False, True, 1)])
def test_a_failed_sender_domain_preflight_blocks_the_inbox_unless_overridden(
    store: CrmStore, tick_smtp: FaultySmtpServer, spf: bool, override: bool, sent: int
) -> None:
    from dns_server import dns_server

    from jengu_pipeline.resources.sending import preflight

    queue_messages(store, 1)
    entry = {**inbox_entry(tick_smtp.port), "preflight_override": override}
    config = inbox_file(store, entry)
    with dns_server(sender_zone(spf=spf)) as resolver:
        checks = preflight(store, config, resolver=resolver)
    assert checks[INBOX].status == ("passed" if spf else "failed")
    stored = query(store, "SELECT preflight_status, preflight FROM inboxes WHERE inbox = ?", [INBOX])[0]
    assert stored[0] == checks[INBOX].status
    assert "spf" in str(stored[1])
    report = tick(store, config)
    assert report.outcomes["sent"] == sent
    assert tick_smtp.connections == sent  # a blocked inbox never opens an SMTP connection
    if not sent:
        assert report.skipped["inbox_unavailable"] == 1
