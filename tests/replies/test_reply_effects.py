"""What a classified reply does: the pure rules of domain/reply_effects.py."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.domain.replies.model import CATEGORIES
from jengu_pipeline.domain.reply_effects import (
    HUMAN,
    PAUSE_WITHOUT_DATE,
    SOFT_BOUNCES_AS_HARD,
    effects_of,
    next_stage,
    pause_until,
)

RECEIVED = datetime(2026, 12, 8, 10, 30, tzinfo=UTC)
STAGES = (
    "new",
    "enriched",
    "contacted",
    "replied",
    "interested",
    "not_interested",
    "bounced",
    "unsubscribed",
    "meeting_booked",
    None,
)


def effects(category: str, **overrides: object):
    arguments = {
        "current_stage": "contacted",
        "recipient": "ana@hotel.test",
        "hard_failed": (),
        "soft_in_a_row": {},
        "received_at": RECEIVED,
        "return_date": None,
        **overrides,
    }
    return effects_of(category, **arguments)  # type: ignore[arg-type]


def test_hard_bounce_suppresses_every_failed_recipient_and_counts_against_the_send() -> None:
    result = effects("bounce_hard", hard_failed=("ana@hotel.test", "bo@hotel.test"))
    assert result.suppress == ("ana@hotel.test", "bo@hotel.test")
    assert result.suppress_reason == "hard_bounce"
    assert result.invalid_emails == result.suppress
    assert result.bounce_send
    assert result.stop_sequences
    assert result.stage == "bounced"


def test_hard_bounce_without_listed_recipients_is_about_the_send_recipient() -> None:
    assert effects("bounce_hard").suppress == ("ana@hotel.test",)


def test_hard_bounce_of_someone_else_leaves_the_prospect_alone() -> None:
    result = effects("bounce_hard", hard_failed=("colleague@hotel.test",))
    assert result.suppress == ("colleague@hotel.test",)
    assert not result.bounce_send
    assert not result.stop_sequences
    assert result.stage is None


def test_soft_bounces_count_and_only_the_third_in_a_row_acts_as_hard() -> None:
    assert effects("bounce_soft", soft_in_a_row={"ana@hotel.test": SOFT_BOUNCES_AS_HARD - 1}).suppress == ()
    third = effects("bounce_soft", soft_in_a_row={"ana@hotel.test": SOFT_BOUNCES_AS_HARD})
    assert third.suppress == ("ana@hotel.test",)
    assert third.stage == "bounced"
    assert third.bounce_send


def test_auto_reply_pauses_until_the_day_after_the_return_date() -> None:
    result = effects("auto_reply", return_date=date(2026, 12, 20))
    assert result.pause_until == datetime(2026, 12, 21, tzinfo=UTC)
    assert not result.suppress
    assert not result.stop_sequences
    assert result.stage is None


def test_auto_reply_without_a_date_pauses_fourteen_days() -> None:
    assert effects("auto_reply").pause_until == RECEIVED + PAUSE_WITHOUT_DATE


def test_a_return_date_in_the_past_still_pauses_until_tomorrow() -> None:
    assert pause_until(date(2020, 1, 1), RECEIVED) == datetime(2026, 12, 9, tzinfo=UTC)


def test_unsubscribe_suppresses_and_stops() -> None:
    result = effects("unsubscribe")
    assert result.suppress == ("ana@hotel.test",)
    assert result.suppress_reason == "unsubscribe"
    assert result.stop_sequences
    assert result.stage == "unsubscribed"


def test_human_replies_stop_and_move_the_stage() -> None:
    assert effects("interested").stage == "interested"
    assert effects("not_interested").stage == "not_interested"
    assert effects("question").stage == "replied"
    assert all(effects(category).stop_sequences for category in HUMAN)


def test_a_question_from_an_interested_prospect_keeps_them_interested() -> None:
    assert next_stage("interested", "question") is None


def test_final_stages_never_move() -> None:
    for stage in ("meeting_booked", "unsubscribed", "bounced"):
        assert all(next_stage(stage, category) is None for category in CATEGORIES)


@given(
    category=st.sampled_from(CATEGORIES),
    stage=st.sampled_from(STAGES),
    return_date=st.one_of(st.none(), st.dates(date(2020, 1, 1), date(2030, 12, 31))),
    hard=st.lists(st.sampled_from(["a@x.test", "b@x.test", "ana@hotel.test"]), max_size=3, unique=True),
    soft=st.dictionaries(st.sampled_from(["a@x.test", "ana@hotel.test"]), st.integers(1, 6)),
)
def test_effects_are_consistent(
    category: str, stage: str | None, return_date: date | None, hard: list[str], soft: dict[str, int]
) -> None:
    result = effects(
        category, current_stage=stage, return_date=return_date, hard_failed=tuple(hard), soft_in_a_row=soft
    )
    # only bounces and unsubscribes suppress, and every suppressed address has a reason
    assert not result.suppress or (category in ("bounce_hard", "bounce_soft", "unsubscribe") and result.suppress_reason)
    # only auto-replies pause, and a pause always lies after the reply
    assert (result.pause_until is not None) == (category == "auto_reply")
    if result.pause_until is not None:
        assert result.pause_until > RECEIVED - timedelta(seconds=1)
    # a stage change is never a no-op and never leaves a final stage
    assert result.stage is None or result.stage != stage
    if stage in ("meeting_booked", "unsubscribed", "bounced"):
        assert result.stage is None
    # every human reply and every unsubscribe stops the sequence
    if category in HUMAN or category == "unsubscribe":
        assert result.stop_sequences
