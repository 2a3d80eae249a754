"""Sending rules: warm-up caps, local business hours, pacing, spacing, rotation, bounce health; plan properties."""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jengu_pipeline.domain.inboxes import InboxConfig, SendingRules, SmtpConfig
from jengu_pipeline.domain.sending import (
    InboxState,
    QueueItem,
    TickPlan,
    bounce_health,
    day_progress,
    in_business_hours,
    inbox_block,
    inbox_day_cap,
    plan_tick,
    prospect_zone,
    sending_day,
    warmup_cap,
)

MONDAY_NOON = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # Berlin 13:00
UNPACED = SendingRules(pace_over_day=False, gap_jitter_seconds=0)


def item(
    n: int,
    *,
    step: int = 1,
    risky: bool = False,
    zone: str | None = "Europe/Berlin",
    country: str | None = None,
    inbox: str | None = None,
) -> QueueItem:
    return QueueItem(f"m{n}", f"p{n}", step, risky, zone, country, inbox)


def inbox(address: str = "a@jengu.test", cap: int = 30, **state: object) -> InboxState:
    return InboxState(address, cap, **state)  # type: ignore[arg-type]


def plan(
    queue: list[QueueItem],
    inboxes: list[InboxState],
    rules: SendingRules = UNPACED,
    now: datetime = MONDAY_NOON,
    *,
    seed: int = 1,
    global_remaining: int | None = None,
) -> TickPlan:
    return plan_tick(queue, inboxes, now=now, rules=rules, rng=random.Random(seed), global_remaining=global_remaining)


def reasons(tick: TickPlan) -> dict[str, str]:
    return {skip.item.message_id: skip.reason for skip in tick.skipped}


# ----------------------------------------------------------------------------- warm-up and caps


@pytest.mark.parametrize(
    ("provider", "expected"),
    [
        ("google", {0: 5, 6: 5, 7: 10, 34: 25, 35: 30, 63: 30}),
        ("microsoft", {0: 5, 7: 10, 14: 15, 21: 15, 35: 15}),
        ("other", {0: 5, 7: 10, 28: 25, 35: 30, 42: 35, 63: 50, 400: 50}),
    ],
)
def test_warmup_caps_on_day_0_7_35_and_after(provider: str, expected: dict[int, int]) -> None:
    start = date(2027, 1, 4)
    config = InboxConfig(
        address="mia@jengu.test",
        display_name="Mia",
        host_provider=provider,
        smtp=SmtpConfig(host="smtp.jengu.test", port=587),
        warmup_start=start,
    )
    rules = SendingRules()
    assert {day: inbox_day_cap(config, start + timedelta(days=day), rules) for day in expected} == expected


def test_warmup_before_its_start_and_under_a_low_cap() -> None:
    start = date(2027, 1, 4)
    assert warmup_cap(start, start - timedelta(days=1), [5, 10], 30) == 0
    assert [warmup_cap(start, start + timedelta(days=d), [5, 10, 15], 12) for d in (0, 7, 14, 99)] == [5, 10, 12, 12]
    assert [warmup_cap(start, start + timedelta(days=d), [8], 30, stage_days=2) for d in (0, 2, 4, 6)] == [
        8,
        16,
        24,
        30,
    ]


# ----------------------------------------------------------------------------- local time


def test_a_prospect_in_tokyo_and_one_in_denver_on_the_same_tick() -> None:
    queue = [item(1, zone="Asia/Tokyo"), item(2, zone="America/Denver")]
    tokyo_morning = plan(queue, [inbox()], SendingRules(), now=datetime(2027, 3, 2, 1, 0, tzinfo=UTC))
    assert [a.item.message_id for a in tokyo_morning.assignments] == ["m1"]  # Tokyo Tue 10:00
    assert reasons(tokyo_morning) == {"m2": "outside_business_hours"}  # Denver Mon 18:00
    denver_morning = plan(queue, [inbox()], SendingRules(), now=datetime(2027, 3, 2, 17, 0, tzinfo=UTC))
    assert [a.item.message_id for a in denver_morning.assignments] == ["m2"]  # Denver Tue 10:00
    assert reasons(denver_morning) == {"m1": "outside_business_hours"}  # Tokyo Wed 02:00


def test_the_zone_comes_from_the_prospect_else_from_a_country_with_one_local_time() -> None:
    assert prospect_zone("Asia/Tokyo", "US", MONDAY_NOON) == ZoneInfo("Asia/Tokyo")
    assert prospect_zone(None, "jp", MONDAY_NOON) == ZoneInfo("Asia/Tokyo")
    assert prospect_zone(None, "DE", MONDAY_NOON) == ZoneInfo("Europe/Berlin")  # Busingen keeps the same time
    assert prospect_zone("Mars/Olympus", "DE", MONDAY_NOON) == ZoneInfo("Europe/Berlin")
    assert prospect_zone(" America ", None, MONDAY_NOON) is None  # a folder, not a zone
    assert prospect_zone(None, "US", MONDAY_NOON) is None  # Hawaii to Maine
    assert prospect_zone(None, None, MONDAY_NOON) is None
    tick = plan([item(1, zone=None, country="US"), item(2, zone=None, country="NO")], [inbox()])
    assert reasons(tick) == {"m1": "unknown_local_time"}


def test_business_hours_are_the_prospects_weekdays_and_hours() -> None:
    rules = SendingRules()
    berlin = ZoneInfo("Europe/Berlin")
    assert in_business_hours(datetime(2027, 3, 1, 8, 0, tzinfo=UTC), berlin, rules)  # Mon 09:00
    assert not in_business_hours(datetime(2027, 3, 1, 7, 59, tzinfo=UTC), berlin, rules)
    assert not in_business_hours(datetime(2027, 3, 1, 16, 0, tzinfo=UTC), berlin, rules)  # 17:00, end exclusive
    assert not in_business_hours(datetime(2027, 3, 6, 10, 0, tzinfo=UTC), berlin, rules)  # Saturday
    assert in_business_hours(datetime(2027, 3, 6, 10, 0, tzinfo=UTC), berlin, SendingRules(weekdays=["sat"]))


def test_a_send_that_would_fall_after_the_end_of_the_day_waits() -> None:
    now = datetime(2027, 3, 1, 15, 59, 0, tzinfo=UTC)  # Berlin 16:59; the second slot is 17:00
    tick = plan([item(1), item(2)], [inbox()], now=now)
    assert [a.item.message_id for a in tick.assignments] == ["m1"]
    assert reasons(tick) == {"m2": "outside_business_hours"}


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone aware"):
        plan([item(1)], [inbox()], now=datetime(2027, 3, 1, 12, 0))


# ----------------------------------------------------------------------------- capacity, pacing, spacing


def test_the_day_is_spread_over_the_scheduled_ticks() -> None:
    rules = SendingRules(gap_jitter_seconds=0)  # "*/5 8-18 * * 1-6": 132 ticks a weekday
    assert day_progress(datetime(2027, 3, 1, 8, 0, 30, tzinfo=UTC), rules) == (1, 132)
    assert day_progress(datetime(2027, 3, 1, 6, 0, tzinfo=UTC), rules) == (1, 132)  # by hand before the first
    assert day_progress(datetime(2027, 3, 1, 13, 0, tzinfo=UTC), rules) == (61, 132)
    assert day_progress(datetime(2027, 3, 7, 13, 0, tzinfo=UTC), rules) == (1, 1)  # Sunday: no ticks, by hand
    queue = [item(n) for n in range(10)]
    first = plan(queue, [inbox(cap=30)], rules, now=datetime(2027, 3, 1, 8, 0, tzinfo=UTC))
    assert len(first.assignments) == 1  # ceil(30 * 1/132)
    assert reasons(first)["m1"] == "paced"
    noon = plan(queue, [inbox(cap=30, sent_today=10)], rules, now=datetime(2027, 3, 1, 13, 0, tzinfo=UTC))
    assert len(noon.assignments) == 4  # ceil(30 * 61/132) = 14 by now, 10 sent
    new_york = [item(n, zone="America/New_York") for n in range(10)]  # 13:55 there
    last = plan(new_york, [inbox(cap=30, sent_today=28)], rules, now=datetime(2027, 3, 1, 18, 55, tzinfo=UTC))
    assert len(last.assignments) == 2  # the rest of the day


def test_sends_from_one_inbox_are_spaced_and_fit_inside_the_tick() -> None:
    tick = plan([item(n) for n in range(10)], [inbox()])
    assert [(a.at - MONDAY_NOON).total_seconds() for a in tick.assignments] == [0, 60, 120, 180, 240]
    assert tick.window_end == MONDAY_NOON + timedelta(minutes=5)
    assert set(reasons(tick).values()) == {"paced"}
    recent = plan([item(n) for n in range(10)], [inbox(last_sent_at=MONDAY_NOON - timedelta(seconds=20))])
    assert [(a.at - MONDAY_NOON).total_seconds() for a in recent.assignments] == [40, 100, 160, 220, 280]


def test_jitter_adds_between_zero_and_its_maximum() -> None:
    rules = SendingRules(pace_over_day=False, min_gap_seconds=60, gap_jitter_seconds=30, schedule="0 * * * *")
    times = [a.at for a in plan([item(n) for n in range(20)], [inbox()], rules).assignments]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(times)]
    assert all(60 <= gap <= 90 for gap in gaps)
    assert len(set(gaps)) > 1


def test_inboxes_take_turns_healthiest_first() -> None:
    inboxes = [
        inbox("b@jengu.test", bounce_rate=0.01),
        inbox("a@jengu.test", bounce_rate=0.0),
        inbox("c@jengu.test", bounce_rate=0.0, sent_today=20),
    ]
    tick = plan([item(n) for n in range(6)], inboxes)
    by_item = {a.item.message_id: a.inbox for a in tick.assignments}
    assert [by_item[f"m{n}"] for n in range(6)] == ["a@jengu.test", "c@jengu.test", "b@jengu.test"] * 2


def test_follow_ups_go_before_first_touches_within_a_cap() -> None:
    queue = [item(1), item(2), item(3, step=2), item(4, step=3)]
    tick = plan(queue, [inbox(cap=10, sent_today=8)])
    assert sorted(a.item.message_id for a in tick.assignments) == ["m3", "m4"]
    assert reasons(tick) == {"m1": "daily_cap", "m2": "daily_cap"}


def test_a_follow_up_goes_from_its_threads_inbox_only() -> None:
    queue = [item(1, step=2, inbox="b@jengu.test"), item(2, step=2, inbox="gone@jengu.test")]
    tick = plan(queue, [inbox("a@jengu.test"), inbox("b@jengu.test")])
    assert [(a.item.message_id, a.inbox) for a in tick.assignments] == [("m1", "b@jengu.test")]
    assert reasons(tick) == {"m2": "inbox_unavailable"}
    blocked = plan(queue[:1], [inbox("a@jengu.test"), inbox("b@jengu.test", blocked="paused")])
    assert reasons(blocked) == {"m1": "inbox_unavailable"}


def test_catch_all_addresses_get_a_share_of_each_inboxs_day() -> None:
    queue = [item(1, risky=True), item(2, risky=True), item(3)]
    tick = plan(queue, [inbox(cap=10, risky_sent_today=1)])  # 20% of 10 = 2, one used
    assert sorted(a.item.message_id for a in tick.assignments) == ["m1", "m3"]
    assert reasons(tick) == {"m2": "risky_share"}
    warming = plan(queue, [inbox(cap=4)])  # 20% of 4 rounds down to none
    assert reasons(warming) == {"m1": "risky_share", "m2": "risky_share"}


def test_the_global_cap_holds_across_inboxes() -> None:
    tick = plan([item(n) for n in range(5)], [inbox("a@jengu.test"), inbox("b@jengu.test")], global_remaining=3)
    assert len(tick.assignments) == 3
    assert Counter(reasons(tick).values()) == {"global_cap": 2}


def test_the_random_skip_is_seeded_and_configurable() -> None:
    rules = SendingRules(pace_over_day=False, skip_probability=0.5, schedule="0 * * * *")
    queue = [item(n) for n in range(40)]
    one, again, other = (plan(queue, [inbox(cap=50)], rules, seed=seed) for seed in (7, 7, 8))
    assert one == again
    assert one != other
    assert 5 < Counter(reasons(one).values())["random_skip"] < 35


# ----------------------------------------------------------------------------- health, blocking, the sending day


@pytest.mark.parametrize(
    ("recent", "judged", "pause"),
    [
        ([True] + [False] * 18, False, False),  # 19 sends: too few to judge
        ([True] + [False] * 19, True, True),  # 1 in 20 = 5%
        ([True, True] + [False] * 98, True, True),  # 2% of 100
        ([True] + [False] * 99, True, False),  # 1%
        ([False] * 100 + [True] * 50, True, False),  # older than the window
    ],
)
def test_bounce_health(recent: list[bool], judged: bool, pause: bool) -> None:
    health = bounce_health(recent, SendingRules())
    assert (health.judged, health.should_pause) == (judged, pause)
    assert health.sends == min(len(recent), 100)


def test_an_inbox_is_blocked_when_paused_bouncing_or_failing_preflight_without_override() -> None:
    healthy, bouncing = bounce_health([False] * 30, SendingRules()), bounce_health([True] * 30, SendingRules())
    assert inbox_block(paused=False, health=healthy, preflight_failed=False, preflight_override=False) is None
    assert inbox_block(paused=True, health=healthy, preflight_failed=False, preflight_override=False) == "paused"
    assert inbox_block(paused=False, health=bouncing, preflight_failed=False, preflight_override=False) == (
        "30 hard bounces in its last 30 sends (100.0%)"
    )
    assert "preflight" in str(
        inbox_block(paused=False, health=healthy, preflight_failed=True, preflight_override=False)
    )
    assert inbox_block(paused=False, health=healthy, preflight_failed=True, preflight_override=True) is None


def test_the_sending_day_is_the_schedules_local_date() -> None:
    rules = SendingRules(schedule_timezone="Europe/Berlin")
    day = sending_day(datetime(2027, 3, 1, 23, 30, tzinfo=UTC), rules)  # already Tuesday in Berlin
    assert day == (date(2027, 3, 2), datetime(2027, 3, 1, 23, 0, tzinfo=UTC), datetime(2027, 3, 2, 23, 0, tzinfo=UTC))


# ----------------------------------------------------------------------------- properties

ADDRESSES = ["a@jengu.test", "b@jengu.test", "c@jengu.test"]
PLACES = [
    ("Asia/Tokyo", None),
    ("America/Denver", None),
    ("Europe/Berlin", None),
    (None, "NO"),
    (None, "US"),
    ("Europe/Lisbon", "PT"),
    ("America/New_York", None),
    ("Asia/Kolkata", None),
    ("Australia/Sydney", None),
]

rules_st = st.builds(
    SendingRules,
    schedule=st.sampled_from(["*/5 8-18 * * 1-6", "*/10 * * * *", "0 * * * *", "*/2 * * * *"]),
    pace_over_day=st.booleans(),
    min_gap_seconds=st.integers(0, 120),
    gap_jitter_seconds=st.integers(0, 60),
    skip_probability=st.sampled_from([0.0, 0.3]),
    risky_share=st.sampled_from([0.0, 0.2, 0.5]),
    weekdays=st.sampled_from([["mon", "tue", "wed", "thu", "fri"], ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]),
)


@st.composite
def inboxes_st(draw: st.DrawFn, now: datetime) -> list[InboxState]:
    found = []
    for address in draw(st.lists(st.sampled_from(ADDRESSES), unique=True, min_size=1, max_size=3)):
        cap = draw(st.integers(0, 30))
        sent = draw(st.integers(0, 2) | st.integers(0, cap + 2))
        last = draw(st.none() | st.integers(0, 600).map(lambda s: now - timedelta(seconds=s)))
        found.append(
            InboxState(
                address,
                cap,
                sent,
                draw(st.integers(0, sent)),
                last,
                draw(st.sampled_from([0.0, 0.01, 0.05])),
                draw(st.sampled_from([None, None, None, "paused"])),
            )
        )
    return found


@st.composite
def queue_st(draw: st.DrawFn) -> list[QueueItem]:
    items = []
    for n in range(draw(st.integers(0, 25) | st.integers(5, 25))):
        zone, country = draw(st.sampled_from(PLACES))
        items.append(
            QueueItem(
                f"m{n}",
                f"p{n}",
                draw(st.integers(1, 3)),
                draw(st.booleans()),
                zone,
                country,
                draw(st.sampled_from([None, None, *ADDRESSES])),
            )
        )
    return items


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[QueueItem], list[InboxState], datetime, SendingRules, int | None, int]:
    weekday = datetime(2027, 3, 1, tzinfo=UTC) + timedelta(weeks=draw(st.integers(0, 40)), days=draw(st.integers(0, 4)))
    now = weekday + timedelta(seconds=draw(st.integers(8 * 3600, 16 * 3600) | st.integers(0, 86399)))  # Europe awake
    return (
        draw(queue_st()),
        draw(inboxes_st(now)),
        now,
        draw(rules_st),
        draw(st.none() | st.integers(0, 20)),
        draw(st.integers(0, 2**32)),
    )


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_a_plan_keeps_every_rule(
    case: tuple[list[QueueItem], list[InboxState], datetime, SendingRules, int | None, int],
) -> None:
    queue, inboxes, now, rules, global_remaining, seed = case
    tick = plan(queue, inboxes, rules, now, seed=seed, global_remaining=global_remaining)
    assert tick == plan(
        queue, inboxes, rules, now, seed=seed, global_remaining=global_remaining
    )  # deterministic for a seed
    assert sorted(
        x.message_id for x in [*(a.item for a in tick.assignments), *(s.item for s in tick.skipped)]
    ) == sorted(x.message_id for x in queue)
    assert global_remaining is None or len(tick.assignments) <= global_remaining
    reached, total = day_progress(now, rules)
    states = {state.address: state for state in inboxes}
    sent: dict[str, list[datetime]] = defaultdict(list)
    for assignment in tick.assignments:
        state = states[assignment.inbox]
        assert state.blocked is None
        assert assignment.item.inbox in (None, assignment.inbox)
        assert now <= assignment.at < tick.window_end
        zone = prospect_zone(assignment.item.timezone, assignment.item.country, now)
        assert zone is not None
        assert in_business_hours(now, zone, rules)
        assert in_business_hours(assignment.at, zone, rules)
        sent[assignment.inbox].append(assignment.at)
    for address, times in sent.items():
        state = states[address]
        paced = -(-state.cap_today * reached // total) if rules.pace_over_day else state.cap_today
        assert len(times) <= min(state.remaining, max(0, paced - state.sent_today))
        risky = sum(a.item.risky for a in tick.assignments if a.inbox == address)
        assert risky <= max(0, int(state.cap_today * rules.risky_share + 1e-9) - state.risky_sent_today)
        spaced = sorted([*times, *([state.last_sent_at] if state.last_sent_at else [])])
        assert all(
            later - earlier >= timedelta(seconds=rules.min_gap_seconds) for earlier, later in itertools.pairwise(spaced)
        )
    # follow-ups first: a follow-up left for want of room means no first touch took room it could have used
    for skip in tick.skipped:
        if skip.item.is_follow_up and skip.reason in {"daily_cap", "paced", "global_cap"}:
            assert not [
                a
                for a in tick.assignments
                if not a.item.is_follow_up
                and skip.item.inbox in (None, a.inbox)
                and (skip.reason == "global_cap" or not skip.item.risky or a.item.risky)
            ]
