"""The pure side of the integrity rules: the catalogue, the findings' JSON shape, and the exit codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.domain.integrity import (
    RULES,
    Finding,
    IntegrityPolicy,
    check_exit_code,
    cutoffs,
    finding,
    needs_a_person,
    repair_exit_code,
    select_rules,
    summary_line,
)

REPAIRABLE = {
    "stale_claims",
    "messages_to_suppressed_or_archived",
    "provider_quota_behind_ledger",
    "prospect_stage_behind_ledger",
    "hard_bounce_not_suppressed",
    "expired_leases",
    "stale_new_prospects",
}


def test_the_catalogue_names_each_rule_once_and_says_what_a_repair_may_fix() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names)) == 13
    assert {rule.name for rule in RULES if rule.repairable} == REPAIRABLE
    assert all(rule.description.endswith(".") for rule in RULES)


def test_cutoffs_come_from_the_injected_now() -> None:
    now = datetime(2030, 1, 15, 10, tzinfo=UTC)
    cut = cutoffs(now, IntegrityPolicy())
    assert cut.claims_before == now - timedelta(minutes=15)
    assert cut.stale_before == now - timedelta(days=90)
    with pytest.raises(ValueError, match="time zone aware"):
        cutoffs(datetime(2030, 1, 15), IntegrityPolicy())


def test_select_rules_keeps_the_canonical_order() -> None:
    assert [r.name for r in select_rules(["unclassified_replies", "orphan_rows"])] == [
        "orphan_rows",
        "unclassified_replies",
    ]


findings = st.lists(
    st.builds(
        Finding,
        rule=st.sampled_from([r.name for r in RULES]),
        count=st.integers(0, 5),
        examples=st.lists(st.text(max_size=8), max_size=3).map(tuple),
        repairable=st.booleans(),
        repaired=st.integers(0, 5),
    ),
    max_size=13,
)


@given(findings)
def test_check_exits_one_exactly_when_something_was_found(found: list[Finding]) -> None:
    assert check_exit_code(found) == (1 if any(f.count for f in found) else 0)


@given(findings, st.booleans())
def test_repair_exits_one_when_a_person_is_needed_or_a_dry_run_would_act(found: list[Finding], dry: bool) -> None:
    code = repair_exit_code(found, dry_run=dry)
    if needs_a_person(found):
        assert code == 1
    elif dry:
        assert code == (1 if any(f.count for f in found) else 0)
    else:
        assert code == 0


@given(findings)
def test_the_json_shape_is_exactly_the_contract(found: list[Finding]) -> None:
    for f in found:
        assert list(f.to_json()) == ["rule", "count", "examples", "repairable"]
        assert f.to_json()["examples"] == list(f.examples)
    assert summary_line(found).startswith("integrity: ")


@given(st.lists(st.text(min_size=1, max_size=5), max_size=40))
def test_examples_are_distinct_sorted_and_capped(ids: list[str]) -> None:
    made = finding(RULES[0], len(ids), ids, max_examples=10)
    assert list(made.examples) == sorted(set(ids))[:10]
