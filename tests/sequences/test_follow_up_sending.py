"""Follow-ups end to end on both backends: written by the real follow-up path, sent by the real Sender to the
fault-injecting SMTP server on loopback, on a clock the test moves; every stop condition, each with the clock.

Each stop test has a thread the condition hits and one it does not, so a test that sends nothing at all fails.
"""

from __future__ import annotations

import email
from datetime import date, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from smtp_faults import FaultySmtpServer

from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.campaign_lifecycle import change_status
from jengu_pipeline.store.campaigns import load_campaigns
from jengu_pipeline.store.messages import message_id_for
from jengu_pipeline.store.replies import Verdict, process_reply
from tests.sequences.conftest import (
    CAMPAIGN,
    DUE,
    INBOX,
    SECOND_INBOX,
    STEP_1_SENT,
    ManualClock,
    activities,
    campaign_folder,
    inbox_config,
    queue_first_touches,
    reply,
    seed_threads,
    sender,
    sent_follow_ups,
    write_follow_ups,
)


def parsed(server: FaultySmtpServer) -> dict[str, EmailMessage]:
    """recipient -> the message the server stored for them."""
    found = {}
    for stored in server.messages:
        message = email.message_from_bytes(stored.raw, policy=default_policy)
        assert isinstance(message, EmailMessage)
        found[stored.rcpt_tos[0]] = message
    return found


def tick_at(store: CrmStore, server: FaultySmtpServer, clock: ManualClock, **kwargs: Any) -> Any:
    return sender(store, inbox_config(store, server.port, INBOX, SECOND_INBOX), clock, **kwargs).tick()


def test_a_follow_up_goes_when_due_in_its_thread_from_the_inbox_of_its_first_step(
    loaded: CrmStore, smtp: FaultySmtpServer
) -> None:
    threads = seed_threads(loaded, 4, inboxes=(INBOX, SECOND_INBOX))
    assert write_follow_ups(loaded, until=DUE - timedelta(days=1)) == 0, "not written a day before it is due"
    assert write_follow_ups(loaded, until=DUE + timedelta(seconds=1)) == 4
    assert write_follow_ups(loaded, until=DUE + timedelta(days=1)) == 0, "written once"

    early = tick_at(loaded, smtp, ManualClock(DUE - timedelta(minutes=1)))  # 10:59 in Berlin: business hours
    assert early.sent == 0, "not a minute before its delay"
    assert not smtp.messages
    report = tick_at(loaded, smtp, ManualClock(DUE))
    assert report.sent_by_step == {2: 4}
    got = parsed(smtp)
    ledger = sent_follow_ups(loaded)
    for thread in threads:
        message = got[thread.email]
        assert message["In-Reply-To"] == thread.first_message_id
        assert message["References"] == thread.first_message_id
        assert message["Subject"] == f"Re: {thread.subject}"
        assert message["From"].addresses[0].addr_spec == thread.inbox
        assert ledger[thread.prospect_id][:2] == ("sent", thread.inbox)
    assert {stored.mail_from for stored in smtp.messages} == {INBOX, SECOND_INBOX}

    # Step 3: four working days after step 2 really went out, in the same thread, from the same inbox.
    step_3_due = DUE + timedelta(days=6)  # Tuesday + 4 working days = the next Monday, same hour
    assert write_follow_ups(loaded, until=step_3_due + timedelta(seconds=1)) == 4
    assert tick_at(loaded, smtp, ManualClock(step_3_due - timedelta(hours=1))).sent == 0
    assert tick_at(loaded, smtp, ManualClock(step_3_due)).sent_by_step == {3: 4}
    third = {m.rcpt_tos[0]: m for m in smtp.messages[4:]}
    for thread in threads:
        message = email.message_from_bytes(third[thread.email].raw, policy=default_policy)
        step_2_id = ledger[thread.prospect_id][3]
        assert message["In-Reply-To"] == step_2_id
        assert message["References"].split() == [thread.first_message_id, step_2_id]
        assert message["Subject"] == f"Re: {thread.subject}"  # never "Re: Re:"
        assert third[thread.email].mail_from == thread.inbox


def test_due_follow_ups_go_before_first_touches_inside_the_cap_and_the_prospects_hours(
    loaded: CrmStore, smtp: FaultySmtpServer
) -> None:
    threads = seed_threads(loaded, 2)
    write_follow_ups(loaded, until=DUE + timedelta(seconds=1))
    queue_first_touches(loaded, 5)
    config = inbox_config(loaded, smtp.port, INBOX)
    evening = DUE + timedelta(hours=9)  # 20:00 in Berlin: outside the prospects' business hours
    assert sender(loaded, config, ManualClock(evening)).tick().sent == 0
    capped = inbox_config(loaded, smtp.port, INBOX, daily_cap=3)
    report = sender(loaded, capped, ManualClock(DUE + timedelta(days=1))).tick()
    assert report.sent_by_step == {2: 2, 1: 1}, "a started conversation is worth more than a new one"
    assert {t.email for t in threads} <= set(parsed(smtp))


def test_a_prospect_keeps_its_ab_arm_and_the_writer_sees_the_thread(loaded: CrmStore) -> None:
    seed_threads(loaded, 2)
    write_follow_ups(loaded, until=DUE + timedelta(seconds=1))
    rows = loaded.run(
        lambda tx: tx.fetch_all(
            "SELECT m.variant, c.variant, m.status, m.due_at, m.template FROM messages m JOIN campaign_members c"
            " ON c.prospect_id = m.prospect_id AND c.campaign_id = m.campaign_id WHERE m.step = 2"
        )
    )
    assert len(rows) == 2
    for message_variant, member_variant, status, due_at, template in rows:
        assert message_variant == member_variant is not None
        assert status == "queued"
        assert due_at == DUE
        assert template == "follow_up_1.txt.j2"  # no model answered: the prompt's fallback template


def stop_by(condition: str, store: CrmStore, thread: Any, at: Any, tmp_path: Path) -> None:
    """Make ``condition`` true for ``thread`` at ``at``, the way it happens in the product."""
    if condition == "human reply":
        reply(store, thread, "not_interested", at)
    elif condition == "unsubscribe reply":
        reply(store, thread, "unsubscribe", at)
    elif condition == "hard bounce":
        reply(store, thread, "bounce_hard", at, from_address="mailer-daemon@hotel.test")
    elif condition == "suppressed by hand":
        store.run(
            lambda tx: tx.execute(
                "INSERT INTO suppressions (email, reason, source, created_at) VALUES (?, 'manual', 'operator', ?)",
                [thread.email, at],
            )
        )
    elif condition == "archived by an operator":
        store.run(
            lambda tx: tx.execute(
                "UPDATE prospects SET archived = TRUE, active_email = NULL WHERE prospect_id = ?", [thread.prospect_id]
            )
        )
    elif condition == "moved on by an operator":
        store.run(
            lambda tx: tx.execute(
                "UPDATE prospects SET stage = 'meeting_booked' WHERE prospect_id = ?", [thread.prospect_id]
            )
        )
    else:
        raise AssertionError(condition)


STOP_ACTIVITY = {
    "human reply": "reply:not_interested",
    "unsubscribe reply": "reply:unsubscribe",
    "hard bounce": "hard_bounce",
    "suppressed by hand": "suppressed",
    "archived by an operator": "prospect_archived",
    "moved on by an operator": "stage_meeting_booked",
}


@pytest.mark.parametrize("condition", list(STOP_ACTIVITY))
def test_a_stop_one_second_before_the_tick_wins_and_is_an_activity_with_its_reason(
    condition: str, loaded: CrmStore, smtp: FaultySmtpServer, tmp_path: Path
) -> None:
    hit, spared = seed_threads(loaded, 2)
    write_follow_ups(loaded, until=DUE + timedelta(seconds=1))
    stop_by(condition, loaded, hit, DUE - timedelta(seconds=1), tmp_path)

    report = tick_at(loaded, smtp, ManualClock(DUE))
    assert set(parsed(smtp)) == {spared.email}
    assert hit.prospect_id not in sent_follow_ups(loaded)
    stopped = activities(loaded, hit.prospect_id, "sequence_stopped")
    assert len(stopped) == 1, stopped
    assert STOP_ACTIVITY[condition] in stopped[0], stopped
    assert report.sent == 1
    # and for good: days later nothing goes either
    assert tick_at(loaded, smtp, ManualClock(DUE + timedelta(days=1))).sent == 0
    assert len(smtp.messages) == 1


def test_an_out_of_office_postpones_the_step_until_the_day_after_the_return_date(
    loaded: CrmStore, smtp: FaultySmtpServer
) -> None:
    away, present = seed_threads(loaded, 2)
    write_follow_ups(loaded, until=DUE + timedelta(seconds=1))
    reply(loaded, away, "auto_reply", STEP_1_SENT + timedelta(minutes=5), return_date=date(2026, 11, 25))

    assert tick_at(loaded, smtp, ManualClock(DUE)).sent == 1
    assert set(parsed(smtp)) == {present.email}
    assert activities(loaded, away.prospect_id, "sequence_paused") == ["out of office until 2026-11-26"]
    back_too_soon = DUE + timedelta(days=1)  # Wednesday 25th: the return date itself
    assert tick_at(loaded, smtp, ManualClock(back_too_soon)).sent == 0
    back = DUE + timedelta(days=2)  # Thursday 26th, 11:00 in Berlin
    assert tick_at(loaded, smtp, ManualClock(back)).sent_by_step == {2: 1}
    assert set(parsed(smtp)) == {present.email, away.email}
    assert not activities(loaded, away.prospect_id, "sequence_stopped"), "postponed, never dropped"


def test_a_paused_campaign_holds_its_follow_ups_and_resuming_sends_them(
    loaded: CrmStore, smtp: FaultySmtpServer
) -> None:
    threads = seed_threads(loaded, 2)
    write_follow_ups(loaded, until=DUE + timedelta(seconds=1))
    change_status(loaded, CAMPAIGN, "pause", actor="test", reason="copy review", now=DUE - timedelta(seconds=1))
    assert tick_at(loaded, smtp, ManualClock(DUE)).sent == 0
    change_status(loaded, CAMPAIGN, "resume", actor="test", reason="fixed", now=DUE + timedelta(hours=1))
    assert tick_at(loaded, smtp, ManualClock(DUE + timedelta(hours=1))).sent_by_step == {2: 2}
    assert set(parsed(smtp)) == {thread.email for thread in threads}


def test_a_completed_campaign_stops_every_sequence_and_sends_nothing_more(
    loaded: CrmStore, smtp: FaultySmtpServer
) -> None:
    threads = seed_threads(loaded, 3)
    write_follow_ups(loaded, until=DUE + timedelta(seconds=1))
    change = change_status(loaded, CAMPAIGN, "complete", actor="test", reason="done", now=DUE - timedelta(seconds=1))
    assert (change.before, change.after, change.stopped) == ("active", "completed", 3)
    assert tick_at(loaded, smtp, ManualClock(DUE)).sent == 0
    assert not smtp.messages
    for thread in threads:
        assert activities(loaded, thread.prospect_id, "sequence_stopped") == [f"{CAMPAIGN}: campaign_completed"]
    statuses = loaded.run(lambda tx: tx.fetch_all("SELECT DISTINCT status FROM messages WHERE step = 2"))
    assert statuses == [("cancelled",)]


def test_a_campaign_past_its_end_date_is_completed_by_the_next_tick(
    store: CrmStore, smtp: FaultySmtpServer, tmp_path: Path
) -> None:
    load_campaigns(store, campaign_folder(tmp_path, ends_on=(DUE - timedelta(days=1)).date().isoformat()))
    thread, *_ = seed_threads(store, 1)
    write_follow_ups(store, until=DUE + timedelta(days=30))
    assert store.run(lambda tx: tx.fetch_value("SELECT count(*) FROM messages WHERE step = 2")) == 0, (
        "a step due after the end date is not even written"
    )
    store.run(
        lambda tx: tx.execute(
            "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status, due_at)"
            " SELECT 'msg_late', prospect_id, campaign_id, 2, 'Re: x', body, 'queued', ? FROM messages WHERE step = 1",
            [DUE - timedelta(days=2)],
        )
    )
    assert tick_at(store, smtp, ManualClock(DUE)).sent == 0
    assert not smtp.messages
    assert store.run(lambda tx: tx.fetch_value("SELECT status FROM campaigns")) == "completed"
    assert activities(store, thread.prospect_id, "sequence_stopped") == [f"{CAMPAIGN}: campaign_ended"]


@pytest.mark.parametrize("listed", [True, False])
def test_a_reply_from_a_colleague_stops_the_sequence_when_the_campaign_lists_company_reply(
    listed: bool, store: CrmStore, smtp: FaultySmtpServer, tmp_path: Path
) -> None:
    load_campaigns(store, campaign_folder(tmp_path, stop_on=["company_reply"] if listed else []))
    colleague, prospect = seed_threads(store, 2, domain="hotel-sole.test")
    (elsewhere,) = seed_threads(store, 1, tag="other")
    write_follow_ups(store, until=DUE + timedelta(seconds=1))
    reply(store, colleague, "interested", DUE - timedelta(seconds=1))

    tick_at(store, smtp, ManualClock(DUE))
    expected = {elsewhere.email} if listed else {elsewhere.email, prospect.email}
    assert set(parsed(smtp)) == expected
    stopped = activities(store, prospect.prospect_id, "sequence_stopped")
    assert stopped == ([f"{CAMPAIGN}: company_reply"] if listed else [])


def test_an_unread_reply_from_a_colleague_postpones_the_step_when_the_campaign_lists_company_reply(
    store: CrmStore, smtp: FaultySmtpServer, tmp_path: Path
) -> None:
    load_campaigns(store, campaign_folder(tmp_path, stop_on=["company_reply"]))
    colleague, prospect = seed_threads(store, 2, domain="hotel-sole.test")
    write_follow_ups(store, until=DUE + timedelta(seconds=1))
    reply(store, colleague, "interested", DUE - timedelta(seconds=1), processed=False)

    assert tick_at(store, smtp, ManualClock(DUE)).sent == 0
    assert activities(store, prospect.prospect_id, "sequence_postponed") == [
        f"{CAMPAIGN}: step 2 postponed, company_reply_being_processed"
    ]


def test_a_reply_that_lands_between_due_and_claim_wins(loaded: CrmStore, smtp: FaultySmtpServer) -> None:
    """The tick plans both follow-ups at once; the second is claimed a minute after the first, and a reply
    from its prospect is stored (not even classified yet) one second before that claim."""
    # Equally due, they are planned in message order: the second one goes a minute after the first.
    first, second = sorted(seed_threads(loaded, 2), key=lambda t: message_id_for(t.prospect_id, CAMPAIGN, 2))
    write_follow_ups(loaded, until=DUE + timedelta(seconds=1))
    clock = ManualClock(DUE)
    config = inbox_config(loaded, smtp.port, INBOX, min_gap_seconds=60)

    def meanwhile(seconds: float) -> None:
        clock.sleep(seconds - 1)
        reply(loaded, second, "interested", clock.now(), processed=False)
        clock.sleep(1)

    tick = sender(loaded, config, clock)
    tick.sleep = meanwhile
    report = tick.tick()
    assert report.planned == 2, "both were due and planned"
    assert report.skipped["reply_being_processed"] == 1
    assert set(parsed(smtp)) == {first.email}
    assert activities(loaded, second.prospect_id, "sequence_postponed") == [
        f"{CAMPAIGN}: step 2 postponed, reply_being_processed"
    ]

    # Once the reply is read and acted on, the sequence is stopped for good.
    reply_id = loaded.run(lambda tx: tx.fetch_value("SELECT reply_id FROM replies"))
    verdict = Verdict("interested", None, None, "yes", "test", thread_ids=(second.first_message_id,))
    loaded.run(lambda tx: process_reply(tx, reply_id, verdict, now=clock.now()))
    assert tick_at(loaded, smtp, ManualClock(DUE + timedelta(hours=2))).sent == 0
    assert set(parsed(smtp)) == {first.email}
