"""Each integrity rule on both backends: a broken state seeded through SQL is found, a repair fixes what is safe,
a second repair has nothing to do, and a dry run changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from integrity_seeds import NOW, SEEDS, baseline, seed, seed_stale_new, snapshot

from jengu_pipeline.domain.integrity import RULES, RULES_BY_NAME, IntegrityPolicy
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.integrity import check, latest_findings, record_findings, repair

ALL_RULES = [rule.name for rule in RULES]


def counts(findings: list) -> dict[str, int]:
    return {f.rule: f.count for f in findings}


def test_a_clean_store_lists_every_rule_with_zero(store: CrmStore) -> None:
    seed(store, baseline)
    findings = check(store, NOW)
    assert [f.rule for f in findings] == ALL_RULES
    assert counts(findings) == dict.fromkeys(ALL_RULES, 0)
    assert all(f.examples == () for f in findings)
    assert all(f.repairable == RULES_BY_NAME[f.rule].repairable for f in findings)


@pytest.mark.parametrize("rule", ALL_RULES)
def test_each_rule_finds_its_seeded_state_and_repair_is_safe_and_idempotent(store: CrmStore, rule: str) -> None:
    breaker, expected, ids = SEEDS[rule]
    seed(store, baseline, breaker)

    found = check(store, NOW)
    assert counts(found) == {**dict.fromkeys(ALL_RULES, 0), rule: expected}
    assert list(next(f for f in found if f.rule == rule).examples) == ids

    before = snapshot(store)
    dry = repair(store, dry_run=True, now=NOW, actor="test")
    assert counts(dry) == counts(found)
    assert all(f.repaired == 0 for f in dry)
    assert snapshot(store) == before, "a dry run changed the store"

    first = {f.rule: f for f in repair(store, dry_run=False, now=NOW, actor="test")}
    repairable = RULES_BY_NAME[rule].repairable
    assert first[rule].count == expected
    assert first[rule].repaired == (expected if repairable else 0)
    if not repairable:
        assert snapshot(store) == before, "a rule that needs a person was changed by repair"

    after = counts(check(store, NOW))
    assert after == {**dict.fromkeys(ALL_RULES, 0), rule: 0 if repairable else expected}

    settled = snapshot(store)
    second = repair(store, dry_run=False, now=NOW, actor="test")
    assert all(f.repaired == 0 for f in second)
    assert counts(second) == after
    assert snapshot(store) == settled, "a second repair changed the store"


def _one(store: CrmStore, sql: str, params: list | None = None) -> list[tuple]:
    return store.query(sql, params or []).rows()


def test_stale_claims_without_an_attempt_are_released_and_the_others_held_as_unknown(store: CrmStore) -> None:
    seed(store, baseline, SEEDS["stale_claims"][0])
    repair(store, dry_run=False, now=NOW, actor="test")
    rows = {
        r[0]: r[1:]
        for r in _one(
            store,
            "SELECT send_id, status, attempts, retry_at IS NOT NULL FROM sends"
            " WHERE send_id IN ('snd_noattempt', 'snd_maybe', 'snd_fresh_claim')",
        )
    }
    assert rows == {
        "snd_noattempt": ("deferred", 0, True),
        "snd_maybe": ("unknown", 1, False),
        "snd_fresh_claim": ("claimed", 1, False),
    }
    # The unknown send is now a person's (or the Sent folder's) business once the grace period has passed.
    later = counts(check(store, NOW + timedelta(minutes=20)))
    assert later["unknown_sends"] == 1
    assert later["stale_claims"] == 1  # the fresh claim, now 25 minutes old


def test_cancelled_messages_and_their_deferred_send_are_never_retried(store: CrmStore) -> None:
    seed(store, baseline, SEEDS["messages_to_suppressed_or_archived"][0])
    repair(store, dry_run=False, now=NOW, actor="ops")
    status = dict(
        _one(store, "SELECT message_id, status FROM messages WHERE prospect_id IN ('p_sup', 'p_arch', 'p_sup2')")
    )
    assert status == {
        "msg_p_sup_c1_1": "cancelled",
        "msg_p_arch_c1_1": "cancelled",
        "msg_p_sup2_c1_1": "queued",
        "msg_p_sup2_c1_2": "cancelled",
    }
    assert _one(store, "SELECT status FROM sends WHERE send_id = 'snd_sup2_2'") == [("failed",)]
    assert _one(store, "SELECT status FROM sends WHERE send_id = 'snd_sup2_1'") == [("sent",)]
    audited = _one(
        store,
        "SELECT prospect_id FROM activities WHERE type = 'integrity_repair' AND prospect_id IS NOT NULL ORDER BY 1",
    )
    assert audited == [("p_arch",), ("p_sup",), ("p_sup2",)]


def test_archiving_frees_the_identity_and_records_an_activity(store: CrmStore) -> None:
    seed(store, baseline, seed_stale_new)
    repair(store, dry_run=False, now=NOW, actor="ops")
    assert _one(
        store, "SELECT archived, active_email, active_linkedin_url, stage FROM prospects WHERE prospect_id = 'p_old'"
    ) == [(True, None, None, "new")]
    assert _one(
        store, "SELECT count(*) FROM activities WHERE prospect_id = 'p_old' AND type = 'prospect_archived'"
    ) == [(1,)]
    assert _one(store, "SELECT archived FROM prospects WHERE prospect_id = 'p_old_busy'") == [(False,)]


def test_recounts_follow_the_ledger(store: CrmStore) -> None:
    seed(
        store,
        baseline,
        SEEDS["prospect_stage_behind_ledger"][0],
        SEEDS["provider_quota_behind_ledger"][0],
        SEEDS["hard_bounce_not_suppressed"][0],
    )
    repair(store, dry_run=False, now=NOW, actor="ops")
    assert dict(_one(store, "SELECT prospect_id, stage FROM prospects WHERE prospect_id IN ('p_lag', 'p_bnc')")) == {
        "p_lag": "contacted",
        "p_bnc": "bounced",
    }
    assert _one(store, "SELECT used FROM provider_quota WHERE provider = 'google_cse'") == [(8,)]
    assert _one(store, "SELECT used FROM provider_quota WHERE provider = 'brave'") == [(5,)]  # ahead is fine
    assert _one(store, "SELECT reason, source FROM suppressions WHERE email = 'hb@hotel.test'") == [
        ("hard_bounce", "snd_hb")
    ]


def test_every_broken_state_at_once_is_repaired_in_one_run_and_the_second_finds_nothing_to_do(store: CrmStore) -> None:
    seed(store, baseline, *(breaker for breaker, _, _ in SEEDS.values()))

    def extra(tx) -> None:  # a stale prospect with a queued message: archived first, then its message cancelled
        from integrity_seeds import message

        message(tx, "p_old")

    seed(store, extra)
    first = repair(store, dry_run=False, now=NOW, actor="ops")
    assert {f.rule for f in first if f.count} == set(ALL_RULES)
    second = repair(store, dry_run=False, now=NOW, actor="ops")
    assert {f.rule: f.count for f in second if f.count} == {
        rule.name: SEEDS[rule.name][1] for rule in RULES if not rule.repairable
    }
    assert _one(store, "SELECT status FROM messages WHERE message_id = 'msg_p_old_c1_1'") == [("cancelled",)]


def test_findings_carry_ids_only(store: CrmStore) -> None:
    seed(store, baseline, *(breaker for breaker, _, _ in SEEDS.values()))
    for f in check(store, NOW):
        assert not any("@" in example for example in f.examples), f


def test_policy_and_rule_selection(store: CrmStore) -> None:
    seed(store, baseline, seed_stale_new)
    assert counts(check(store, NOW, rules=["stale_new_prospects"])) == {"stale_new_prospects": 1}
    lenient = IntegrityPolicy(stale_after=timedelta(days=200))
    assert counts(check(store, NOW, policy=lenient, rules=["stale_new_prospects"])) == {"stale_new_prospects": 0}
    with pytest.raises(ValueError, match="unknown integrity rules"):
        check(store, NOW, rules=["nope"])


def test_recorded_findings_keep_every_rule(store: CrmStore) -> None:
    seed(store, baseline, seed_stale_new)
    findings = repair(store, dry_run=False, now=NOW, actor="ops")
    run_id = record_findings(store, findings, mode="repair", actor="ops", at=NOW)
    assert _one(store, "SELECT count(*) FROM integrity_findings WHERE run_id = ?", [run_id]) == [(len(ALL_RULES),)]
    assert latest_findings(store) == dict.fromkeys(ALL_RULES, 0)  # found minus repaired: nothing left
