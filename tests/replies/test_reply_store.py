"""Replies in the store, on DuckDB and PostgreSQL: stored once, matched to their send, acted on once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from reply_seeds import NOW, contacts

from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.replies import (
    FailedAddress,
    Inbound,
    Verdict,
    process_reply,
    record_reclassification,
    store_inbound,
)


def stored(
    store: CrmStore,
    *,
    sender: str | None = None,
    message_id: str | None = None,
    raw: bytes | None = None,
    subject: str = "Re: direct bookings",
) -> str:
    body = raw or f"From: {sender}\r\nSubject: {subject}\r\n\r\n{uuid.uuid4().hex}\r\n".encode()
    inbound = Inbound(
        "maildir:test", uuid.uuid4().hex, body, NOW, message_id or f"<{uuid.uuid4().hex}@mail.test>", sender, subject
    )
    reply_id = store.run(lambda tx: store_inbound(tx, inbound))
    assert reply_id is not None
    return reply_id


def verdict(category: str, **fields: Any) -> Verdict:
    return Verdict(
        category=category,
        detail=fields.pop("detail", None),  # type: ignore[arg-type]
        return_date=fields.pop("return_date", None),
        new_text=fields.pop("new_text", "thanks"),
        classifier="test",
        **fields,
    )


def process(store: CrmStore, reply_id: str, result: Verdict, **options: Any) -> Any:
    return store.run(lambda tx: process_reply(tx, reply_id, result, now=NOW, **options))


def row(store: CrmStore, sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    return store.run(lambda tx: tx.fetch_one(sql, params))


def member(store: CrmStore, prospect_id: str) -> tuple[Any, ...] | None:
    return row(
        store, "SELECT stopped_at, stop_reason, paused_until FROM campaign_members WHERE prospect_id = ?", [prospect_id]
    )


def suppressions(store: CrmStore, email: str) -> set[str]:
    return {
        r[0] for r in store.run(lambda tx: tx.fetch_all("SELECT reason FROM suppressions WHERE email = ?", [email]))
    }


def test_the_same_bytes_or_the_same_message_id_are_stored_once(store: CrmStore) -> None:
    raw = b"From: a@hotel.test\r\nMessage-ID: <same@hotel.test>\r\n\r\nhello\r\n"
    first = Inbound("maildir:test", "k1", raw, NOW, "<same@hotel.test>", "a@hotel.test", None)
    again = Inbound("imap:x", "7", raw, NOW, "<same@hotel.test>", "a@hotel.test", None)
    other_bytes = Inbound("imap:x", "8", raw + b"\r\n", NOW, "<same@hotel.test>", "a@hotel.test", None)
    results = [store.run(lambda tx, m=m: store_inbound(tx, m)) for m in (first, again, other_bytes)]
    assert results[0] is not None
    assert results[1:] == [None, None]
    assert store.count("replies") == 1
    assert row(store, "SELECT size_bytes FROM reply_raw", []) == (len(raw),)


def test_an_interested_reply_matched_by_in_reply_to_moves_the_stage_and_stops_the_sequence(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    reply_id = stored(store, sender=ana.email)
    outcome = process(
        store, reply_id, verdict("interested", thread_ids=(ana.rfc_message_id,), in_reply_to=ana.rfc_message_id)
    )
    assert (outcome.matched_by, outcome.prospect_id, outcome.stage) == ("in_reply_to", ana.prospect_id, "interested")
    assert row(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [ana.prospect_id]) == ("interested",)
    assert row(
        store, "SELECT send_id, intent, processed_at IS NOT NULL FROM replies WHERE reply_id = ?", [reply_id]
    ) == (ana.send_id, "interested", True)
    stopped = member(store, ana.prospect_id)
    assert stopped is not None
    assert stopped[0] is not None
    assert stopped[1] == "reply:interested"
    assert not suppressions(store, ana.email)
    # processed again: nothing happens twice
    assert process(store, reply_id, verdict("interested", thread_ids=(ana.rfc_message_id,))) is None
    assert row(
        store, "SELECT count(*) FROM activities WHERE type = 'reply_received' AND prospect_id = ?", [ana.prospect_id]
    ) == (1,)


def test_a_reply_quoting_only_references_is_matched_by_them(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    outcome = process(
        store,
        stored(store, sender="someone-else@elsewhere.test"),
        verdict("question", thread_ids=("<unknown@x.test>", ana.rfc_message_id)),
    )
    assert (outcome.matched_by, outcome.prospect_id, outcome.stage) == ("references", ana.prospect_id, "replied")


def test_a_retried_send_is_matched_by_the_message_id_of_any_attempt(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    store.run(
        lambda tx: tx.execute(
            "INSERT INTO send_attempts (send_id, prospect_id, attempt, inbox, rfc_message_id, started_at)"
            " VALUES (?, ?, 2, 'mia@jengu.test', '<retry.2@jengu.test>', ?)",
            [ana.send_id, ana.prospect_id, NOW],
        )
    )
    outcome = process(
        store,
        stored(store),
        verdict("not_interested", thread_ids=("<retry.2@jengu.test>",), in_reply_to="<retry.2@jengu.test>"),
    )
    assert (outcome.matched_by, outcome.prospect_id, outcome.stage) == (
        "in_reply_to",
        ana.prospect_id,
        "not_interested",
    )


def test_a_late_hard_bounce_suppresses_marks_invalid_and_counts_against_the_inbox(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    failed = (FailedAddress(ana.email, True, "5.1.1", "failed", "550 5.1.1 user unknown"),)
    outcome = process(
        store,
        stored(store, sender="MAILER-DAEMON@mx.hotel-rosa.test"),
        verdict("bounce_hard", detail="user_unknown", failed=failed, original_message_id=ana.rfc_message_id),
    )
    assert outcome.matched_by == "dsn_original"
    assert outcome.suppressed == [ana.email]
    assert suppressions(store, ana.email) == {"hard_bounce"}
    assert row(store, "SELECT stage, email_status FROM prospects WHERE prospect_id = ?", [ana.prospect_id]) == (
        "bounced",
        "invalid",
    )
    assert row(store, "SELECT status FROM sends WHERE send_id = ?", [ana.send_id]) == ("bounced",)
    assert row(store, "SELECT email, hard, status FROM reply_failed_recipients", []) == (ana.email, True, "5.1.1")


def test_a_bounce_without_our_original_is_matched_by_its_failed_recipient(store: CrmStore) -> None:
    ana, bo = contacts(store, 2)
    failed = (FailedAddress(bo.email, True, "5.1.1", "failed", None),)
    outcome = process(store, stored(store), verdict("bounce_hard", failed=failed))
    assert (outcome.matched_by, outcome.prospect_id) == ("failed_recipient", bo.prospect_id)
    assert suppressions(store, bo.email) == {"hard_bounce"}
    assert not suppressions(store, ana.email)


def test_three_soft_bounces_in_a_row_act_as_a_hard_one(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    soft = (FailedAddress(ana.email, False, "4.2.2", "failed", "mailbox full"),)
    for n in range(3):
        process(
            store,
            stored(store),
            verdict("bounce_soft", detail="mailbox_full", failed=soft, original_message_id=ana.rfc_message_id),
        )
        assert bool(suppressions(store, ana.email)) == (n == 2)
    assert row(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [ana.prospect_id]) == ("bounced",)


def test_an_out_of_office_pauses_the_sequence_until_the_day_after_its_return(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    outcome = process(
        store, stored(store), verdict("auto_reply", return_date=date(2026, 12, 20), thread_ids=(ana.rfc_message_id,))
    )
    assert outcome.paused_until == datetime(2026, 12, 21, tzinfo=UTC)
    paused = member(store, ana.prospect_id)
    assert paused is not None
    assert paused[0] is None
    assert paused[2] == datetime(2026, 12, 21, tzinfo=UTC)
    assert row(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [ana.prospect_id]) == ("contacted",)
    assert not suppressions(store, ana.email)


def test_an_unsubscribe_suppresses_the_address_we_wrote_to(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    outcome = process(
        store,
        stored(store, sender="Ana.Alias@hotel-rosa.test"),
        verdict("unsubscribe", thread_ids=(ana.rfc_message_id,)),
    )
    assert outcome.suppressed == [ana.email]
    assert suppressions(store, ana.email) == {"unsubscribe"}
    assert row(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [ana.prospect_id]) == ("unsubscribed",)


def test_mail_to_the_unsubscribe_address_is_matched_by_the_send_id_in_its_subject(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    reply_id = stored(store, sender="other@elsewhere.test", subject=f"unsubscribe {ana.send_id}")
    outcome = process(
        store,
        reply_id,
        verdict("unsubscribe", to_addresses=("unsubscribe@jengu.test",)),
        unsubscribe_addresses=frozenset({"unsubscribe@jengu.test"}),
    )
    assert outcome.matched_by == "unsubscribe_address"
    assert outcome.suppressed == [ana.email]


def test_a_reply_from_a_known_address_without_thread_headers_is_matched_by_its_sender(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    outcome = process(store, stored(store, sender=ana.email.upper()), verdict("question"))
    assert (outcome.matched_by, outcome.prospect_id) == ("sender", ana.prospect_id)


def test_an_unmatched_reply_stays_visible(store: CrmStore) -> None:
    reply_id = stored(store, sender="stranger@nowhere.test")
    outcome = process(store, reply_id, verdict("other"))
    assert outcome.matched_by == "none"
    assert outcome.prospect_id is None
    assert row(store, "SELECT intent, matched_by FROM replies WHERE reply_id = ?", [reply_id]) == ("other", "none")


def test_reclassifying_records_the_change_and_only_adds_effects(store: CrmStore) -> None:
    (ana,) = contacts(store, 1)
    reply_id = stored(store, sender=ana.email)
    process(store, reply_id, verdict("other", thread_ids=(ana.rfc_message_id,)))
    old = store.run(
        lambda tx: record_reclassification(
            tx, reply_id, verdict("unsubscribe", thread_ids=(ana.rfc_message_id,)), now=NOW
        )
    )
    assert old == "other"
    assert suppressions(store, ana.email) == {"unsubscribe"}
    assert row(store, "SELECT count(*) FROM activities WHERE type = 'reply_reclassified'", []) == (1,)
    assert row(store, "SELECT count(*) FROM activities WHERE type = 'reply_received'", []) == (1,)


@pytest.mark.parametrize("category", ["interested", "not_interested", "question", "other", "unsubscribe"])
def test_a_human_reply_or_unsubscribe_stops_every_running_sequence(store: CrmStore, category: str) -> None:
    ana, bo = contacts(store, 2)
    process(store, stored(store), verdict(category, thread_ids=(ana.rfc_message_id,)))
    stopped_ana, stopped_bo = member(store, ana.prospect_id), member(store, bo.prospect_id)
    assert stopped_ana is not None
    assert stopped_ana[0] is not None
    assert stopped_bo is not None
    assert stopped_bo[0] is None
