"""The integrity rules in SQL: how each is found and, where it is safe, repaired, on DuckDB and PostgreSQL.

Each rule is a query of offending ids (one column, ``item``); a check counts it and keeps a few examples. A
repair runs each rule in its own short transaction: find, fix, record an activity per prospect it touched, so
the fix is consistent with what was found. Every write is guarded by the same condition as the finding, which
makes a second repair a no-op. Time is the caller's ``now``, written explicitly (never the database clock).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jengu_pipeline.domain.integrity import (
    Cutoffs,
    Finding,
    IntegrityPolicy,
    Rule,
    cutoffs,
    finding,
    select_rules,
)
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore

PENDING_MESSAGE = (
    "m.status IN ('queued', 'awaiting_approval') AND NOT EXISTS (SELECT 1 FROM sends s WHERE"
    " s.prospect_id = m.prospect_id AND s.campaign_id = m.campaign_id AND s.step = m.step"
    " AND s.status <> 'deferred')"
)
"""A message that may still go: queued or awaiting approval, with no ledger row or only a deferred one."""

STALE_CLAIM_TEXT = "claim outlived its process: may have been sent"
RELEASED_CLAIM_TEXT = "claim released by integrity repair: no SMTP attempt was recorded"
CANCELLED_SEND_TEXT = "cancelled by integrity repair: recipient archived or suppressed"


@dataclass(frozen=True)
class RuleSql:
    """A rule's finding query (builds SQL and parameters from the cutoffs) and its repair, if any."""

    find: Callable[[Tx, Cutoffs], tuple[str, list[Any]]]
    repair: Callable[[Tx, Cutoffs, str], list[str]] | None = None
    """Fixes what the finding query returns; returns the prospect ids it touched (for activities) or ids."""


# Finding queries ---------------------------------------------------------------------------------------------


def _prospect_tables(tx: Tx) -> list[str]:
    """Every base table with a prospect_id column besides prospects and the registry: found, not listed, so a
    table added by a later migration is covered too."""
    rows = tx.fetch_all(
        "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t"
        " ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.column_name = 'prospect_id' AND c.table_schema = current_schema()"
        " AND t.table_type = 'BASE TABLE' AND c.table_name NOT IN ('prospects', 'prospect_registry')"
        " ORDER BY c.table_name"
    )
    return [row[0] for row in rows]


def _orphans(tx: Tx, _: Cutoffs) -> tuple[str, list[Any]]:
    parts = [
        f"SELECT '{table}:' || t.prospect_id AS item FROM {table} t WHERE t.prospect_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM prospects p WHERE p.prospect_id = t.prospect_id)"
        for table in _prospect_tables(tx)
    ]
    return " UNION ALL ".join(parts), []


EMAIL_KEY = "lower(trim({col}))"
LINKEDIN_KEY = (
    "rtrim(split_part(regexp_replace(lower(trim({col})), '^((http|https)://)*([a-z0-9-]+[.])*linkedin[.]com',"
    " ''), chr(63), 1), '/')"
)
"""The profile path, lower case, without scheme, host, query or trailing slash. No literal question mark: the
store's placeholders are ``?`` (chr(63) is one, on both backends)."""


def _duplicates(column: str, key: str) -> Callable[[Tx, Cutoffs], tuple[str, list[Any]]]:
    """Active prospects whose normalised key is shared: a grouped key list joined back (hash joins, never a
    comparison of every pair)."""

    def find(_tx: Tx, _cut: Cutoffs) -> tuple[str, list[Any]]:
        own, other = key.format(col=f"p.{column}"), key.format(col=f"q.{column}")
        return (
            f"SELECT p.prospect_id AS item FROM prospects p JOIN (SELECT {other} AS k FROM prospects q"
            f" WHERE NOT q.archived AND q.{column} IS NOT NULL GROUP BY {other} HAVING count(*) > 1) d"
            f" ON d.k = {own} WHERE NOT p.archived AND p.{column} IS NOT NULL"
        ), []

    return find


def _stale_claims(_: Tx, cut: Cutoffs) -> tuple[str, list[Any]]:
    return "SELECT send_id AS item FROM sends WHERE status = 'claimed' AND claimed_at < ?", [cut.claims_before]


def _unknown_sends(_: Tx, cut: Cutoffs) -> tuple[str, list[Any]]:
    return "SELECT send_id AS item FROM sends WHERE status = 'unknown' AND updated_at < ?", [cut.unknown_before]


_TO_SUPPRESSED_OR_ARCHIVED = (
    "SELECT m.message_id AS item FROM messages m JOIN prospects p ON p.prospect_id = m.prospect_id"
    f" WHERE {PENDING_MESSAGE} AND (p.archived OR EXISTS (SELECT 1 FROM suppressions x"
    " WHERE lower(x.email) = lower(p.email)))"
)


def _messages_to_suppressed(_: Tx, __: Cutoffs) -> tuple[str, list[Any]]:
    return _TO_SUPPRESSED_OR_ARCHIVED, []


def _messages_inactive_campaign(_: Tx, __: Cutoffs) -> tuple[str, list[Any]]:
    return (
        "SELECT m.message_id AS item FROM messages m JOIN campaigns c ON c.campaign_id = m.campaign_id"
        f" WHERE {PENDING_MESSAGE} AND c.status IN ('paused', 'completed')"
    ), []


def _utc_day(column: str) -> str:
    return f"CAST({column} AT TIME ZONE 'UTC' AS DATE)"


_CHARGED = (
    "SELECT c.provider, {day} AS day, sum(c.cost_units) AS charged FROM provider_calls c GROUP BY c.provider, {day}"
).format(day=_utc_day("c.created_at"))


def _quota_behind(_: Tx, __: Cutoffs) -> tuple[str, list[Any]]:
    return (
        f"SELECT q.provider || '/' || CAST(q.day AS VARCHAR) AS item FROM provider_quota q JOIN ({_CHARGED}) l"
        " ON l.provider = q.provider AND l.day = q.day WHERE q.used < l.charged"
    ), []


_STAGE_BOUNCED = (
    "p.stage IN ('new', 'enriched', 'contacted') AND EXISTS (SELECT 1 FROM sends s"
    " WHERE s.prospect_id = p.prospect_id AND s.status = 'bounced')"
)
_STAGE_CONTACTED = (
    "p.stage IN ('new', 'enriched') AND EXISTS (SELECT 1 FROM sends s"
    " WHERE s.prospect_id = p.prospect_id AND s.status = 'sent')"
)


def _stage_behind(_: Tx, __: Cutoffs) -> tuple[str, list[Any]]:
    return f"SELECT p.prospect_id AS item FROM prospects p WHERE ({_STAGE_BOUNCED}) OR ({_STAGE_CONTACTED})", []


_BOUNCE_UNSUPPRESSED = (
    "FROM sends s WHERE s.status = 'bounced' AND NOT EXISTS (SELECT 1 FROM suppressions x"
    " WHERE lower(x.email) = lower(s.recipient))"
)


def _bounce_unsuppressed(_: Tx, __: Cutoffs) -> tuple[str, list[Any]]:
    return f"SELECT s.send_id AS item {_BOUNCE_UNSUPPRESSED}", []


def _expired_leases(_: Tx, cut: Cutoffs) -> tuple[str, list[Any]]:
    return "SELECT prospect_id AS item FROM enrichment_leases WHERE expires_at < ?", [cut.now]


_STALE_NEW = (
    "SELECT p.prospect_id AS item FROM prospects p WHERE NOT p.archived AND p.stage = 'new'"
    " AND p.created_at < ? AND p.updated_at < ?"
    " AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.prospect_id = p.prospect_id AND a.created_at >= ?)"
)


def _stale_new(_: Tx, cut: Cutoffs) -> tuple[str, list[Any]]:
    return _STALE_NEW, [cut.stale_before] * 3


def _unclassified(_: Tx, cut: Cutoffs) -> tuple[str, list[Any]]:
    return "SELECT reply_id AS item FROM replies WHERE intent IS NULL AND created_at < ?", [cut.replies_before]


# Repairs -----------------------------------------------------------------------------------------------------


def _activity(
    tx: Tx,
    type_: str,
    title: str,
    at: datetime,
    *,
    prospect_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """An activity stamped with the repair's ``now`` (add_activity uses the database clock)."""
    tx.execute(
        "INSERT INTO activities (prospect_id, type, title, metadata, created_at) VALUES (?, ?, ?, CAST(? AS JSON), ?)",
        [prospect_id, type_, title, json.dumps(metadata or {}, default=str), at],
    )


def _each_prospect(tx: Tx, rows: Sequence[tuple[Any, ...]], rule: str, what: str, *, at: datetime, actor: str) -> None:
    for prospect_id, item in rows:
        _activity(
            tx,
            "integrity_repair",
            f"{rule}: {what} ({item})",
            at,
            prospect_id=prospect_id,
            metadata={"rule": rule, "item": item, "actor": actor},
        )


def _repair_stale_claims(tx: Tx, cut: Cutoffs, actor: str) -> list[str]:
    stale = "status = 'claimed' AND claimed_at < ?"
    no_attempt = (
        "NOT EXISTS (SELECT 1 FROM send_attempts a WHERE a.send_id = sends.send_id AND a.attempt = sends.attempts)"
    )
    released = tx.fetch_all(
        f"SELECT prospect_id, send_id FROM sends WHERE {stale} AND {no_attempt}", [cut.claims_before]
    )
    tx.execute(
        f"UPDATE sends SET status = 'deferred', retry_at = ?, attempts = attempts - 1, smtp_response = ?,"
        f" updated_at = ? WHERE {stale} AND {no_attempt}",
        [cut.now, RELEASED_CLAIM_TEXT, cut.now, cut.claims_before],
    )
    held = tx.fetch_all(f"SELECT prospect_id, send_id FROM sends WHERE {stale}", [cut.claims_before])
    tx.execute(
        f"UPDATE sends SET status = 'unknown', smtp_response = ?, updated_at = ? WHERE {stale}",
        [STALE_CLAIM_TEXT, cut.now, cut.claims_before],
    )
    _each_prospect(tx, released, "stale_claims", "claim released for a retry", at=cut.now, actor=actor)
    _each_prospect(tx, held, "stale_claims", "claim marked unknown, to be reconciled", at=cut.now, actor=actor)
    return [row[1] for row in [*released, *held]]


def _repair_messages(tx: Tx, cut: Cutoffs, actor: str) -> list[str]:
    rows = tx.fetch_all(
        f"SELECT m.prospect_id, m.message_id, m.campaign_id, m.step FROM ({_TO_SUPPRESSED_OR_ARCHIVED})"
        " f JOIN messages m ON m.message_id = f.item"
    )
    tx.execute_many(
        "UPDATE sends SET status = 'failed', retry_at = NULL, smtp_response = ?, updated_at = ?"
        " WHERE prospect_id = ? AND campaign_id = ? AND step = ? AND status = 'deferred'",
        [(CANCELLED_SEND_TEXT, cut.now, row[0], row[2], row[3]) for row in rows],
    )
    tx.execute_many(
        "UPDATE messages SET status = 'cancelled', updated_at = ? WHERE message_id = ?"
        " AND status IN ('queued', 'awaiting_approval')",
        [(cut.now, row[1]) for row in rows],
    )
    _each_prospect(
        tx,
        [row[:2] for row in rows],
        "messages_to_suppressed_or_archived",
        "message cancelled",
        at=cut.now,
        actor=actor,
    )
    return [row[1] for row in rows]


def _repair_quota(tx: Tx, _: Cutoffs, __: str) -> list[str]:
    rows = tx.fetch_all(
        f"SELECT q.provider, q.day, l.charged FROM provider_quota q JOIN ({_CHARGED}) l"
        " ON l.provider = q.provider AND l.day = q.day WHERE q.used < l.charged"
    )
    tx.execute_many(
        "UPDATE provider_quota SET used = ? WHERE provider = ? AND day = ? AND used < ?",
        [(int(charged), provider, day, int(charged)) for provider, day, charged in rows],
    )
    return [f"{provider}/{day}" for provider, day, _ in rows]


def _repair_stage(tx: Tx, cut: Cutoffs, actor: str) -> list[str]:
    touched: list[str] = []
    for stage, condition in (("bounced", _STAGE_BOUNCED), ("contacted", _STAGE_CONTACTED)):
        rows = tx.fetch_all(f"SELECT p.prospect_id, p.stage FROM prospects p WHERE {condition}")
        tx.execute(
            f"UPDATE prospects SET stage = ?, version = version + 1, updated_at = ? WHERE prospect_id IN"
            f" (SELECT p.prospect_id FROM prospects p WHERE {condition})",
            [stage, cut.now],
        )
        _each_prospect(
            tx,
            [(pid, f"{old} -> {stage}") for pid, old in rows],
            "prospect_stage_behind_ledger",
            "stage recounted from the send ledger",
            at=cut.now,
            actor=actor,
        )
        touched += [row[0] for row in rows]
    return touched


def _repair_bounces(tx: Tx, cut: Cutoffs, actor: str) -> list[str]:
    rows = tx.fetch_all(f"SELECT s.prospect_id, s.send_id {_BOUNCE_UNSUPPRESSED}")
    tx.execute(
        f"INSERT INTO suppressions (email, reason, source, created_at) SELECT s.recipient, 'hard_bounce',"
        f" min(s.send_id), ? {_BOUNCE_UNSUPPRESSED} GROUP BY s.recipient ON CONFLICT DO NOTHING",
        [cut.now],
    )
    _each_prospect(tx, rows, "hard_bounce_not_suppressed", "bounced address suppressed", at=cut.now, actor=actor)
    return [row[1] for row in rows]


def _repair_leases(tx: Tx, cut: Cutoffs, _: str) -> list[str]:
    rows = tx.fetch_all("SELECT prospect_id FROM enrichment_leases WHERE expires_at < ?", [cut.now])
    tx.execute("DELETE FROM enrichment_leases WHERE expires_at < ?", [cut.now])
    return [row[0] for row in rows]


def _repair_stale_new(tx: Tx, cut: Cutoffs, actor: str) -> list[str]:
    ids = [row[0] for row in tx.fetch_all(_STALE_NEW, [cut.stale_before] * 3)]
    tx.execute_many(
        "UPDATE prospects SET archived = TRUE, active_email = NULL, active_linkedin_url = NULL,"
        " version = version + 1, updated_at = ? WHERE prospect_id = ? AND NOT archived",
        [(cut.now, prospect_id) for prospect_id in ids],
    )
    for prospect_id in ids:
        _activity(
            tx,
            "prospect_archived",
            "archived by integrity repair: stage new with no activity for the stale period",
            cut.now,
            prospect_id=prospect_id,
            metadata={"rule": "stale_new_prospects", "actor": actor, "inactive_since": cut.stale_before},
        )
    return ids


SQL: dict[str, RuleSql] = {
    "orphan_rows": RuleSql(_orphans),
    "duplicate_active_email": RuleSql(_duplicates("email", EMAIL_KEY)),
    "duplicate_active_linkedin_url": RuleSql(_duplicates("linkedin_url", LINKEDIN_KEY)),
    "stale_claims": RuleSql(_stale_claims, _repair_stale_claims),
    "unknown_sends": RuleSql(_unknown_sends),
    "messages_to_suppressed_or_archived": RuleSql(_messages_to_suppressed, _repair_messages),
    "messages_in_inactive_campaigns": RuleSql(_messages_inactive_campaign),
    "provider_quota_behind_ledger": RuleSql(_quota_behind, _repair_quota),
    "prospect_stage_behind_ledger": RuleSql(_stage_behind, _repair_stage),
    "hard_bounce_not_suppressed": RuleSql(_bounce_unsuppressed, _repair_bounces),
    "expired_leases": RuleSql(_expired_leases, _repair_leases),
    "stale_new_prospects": RuleSql(_stale_new, _repair_stale_new),
    "unclassified_replies": RuleSql(_unclassified),
}

REPAIR_ORDER = (
    "stale_claims",
    "expired_leases",
    "hard_bounce_not_suppressed",
    "prospect_stage_behind_ledger",
    "stale_new_prospects",
    "messages_to_suppressed_or_archived",
    "provider_quota_behind_ledger",
)
"""Repairs that create work for another rule run before it: a suppression or an archive before cancelling the
messages it stops; a stale claim before counting unknown sends."""


def _find(tx: Tx, rule: Rule, cut: Cutoffs, max_examples: int) -> Finding:
    sql, params = SQL[rule.name].find(tx, cut)
    if not sql:
        return finding(rule, 0, ())
    count = int(tx.fetch_value(f"SELECT count(*) FROM ({sql}) f", params))
    examples = (
        [
            row[0]
            for row in tx.fetch_all(
                f"SELECT DISTINCT item FROM ({sql}) f ORDER BY item LIMIT ?", [*params, max_examples]
            )
        ]
        if count
        else []
    )
    return finding(rule, count, examples, max_examples=max_examples)


def _ordered(rules: Sequence[Rule]) -> list[Rule]:
    first = [r for name in REPAIR_ORDER for r in rules if r.name == name]
    return first + [r for r in rules if r not in first]


def check(
    store: CrmStore, now: datetime, *, policy: IntegrityPolicy | None = None, rules: Sequence[str] | None = None
) -> list[Finding]:
    """Every rule (or those named), in the canonical order, each with its count; reads only."""
    policy = policy or IntegrityPolicy()
    cut = cutoffs(now, policy)
    chosen = select_rules(rules)
    return store.run(lambda tx: [_find(tx, rule, cut, policy.max_examples) for rule in chosen])


def repair(
    store: CrmStore,
    *,
    dry_run: bool,
    now: datetime,
    actor: str,
    policy: IntegrityPolicy | None = None,
    rules: Sequence[str] | None = None,
) -> list[Finding]:
    """Fix what is safe to fix, rule by rule, and report every rule as found before its repair.

    Each finding's ``repaired`` counts the items fixed (0 in a dry run and for rules that need a person). A
    dry run changes nothing: it is a check that says what a repair would do.
    """
    policy = policy or IntegrityPolicy()
    cut = cutoffs(now, policy)
    chosen = select_rules(rules)
    if dry_run:
        return check(store, now, policy=policy, rules=[rule.name for rule in chosen])

    def one(rule: Rule) -> Callable[[Tx], Finding]:
        def work(tx: Tx) -> Finding:
            found = _find(tx, rule, cut, policy.max_examples)
            fix = SQL[rule.name].repair
            if fix is None or found.count == 0:
                return found
            fixed = fix(tx, cut, actor)
            return finding(rule, found.count, found.examples, repaired=len(fixed), max_examples=policy.max_examples)

        return work

    results = {rule.name: store.run(one(rule)) for rule in _ordered(chosen)}
    repaired = {name: f.repaired for name, f in results.items() if f.repaired}
    if repaired:
        store.run(
            lambda tx: _activity(
                tx,
                "integrity_repair",
                f"integrity repair by {actor}: {repaired}",
                cut.now,
                metadata={"actor": actor, "repaired": repaired},
            )
        )
    return [results[rule.name] for rule in chosen]


def record_findings(
    store: CrmStore, findings: Sequence[Finding], *, mode: str, actor: str, at: datetime, run_id: str | None = None
) -> str:
    """Keep one row per rule of this run in ``integrity_findings``; returns the run id."""
    run_id = run_id or f"int_{uuid.uuid4().hex}"
    store.run(
        lambda tx: tx.execute_many(
            "INSERT INTO integrity_findings (run_id, rule, mode, found, repaired, repairable, examples, actor,"
            " checked_at) VALUES (?, ?, ?, ?, ?, ?, CAST(? AS JSON), ?, ?)",
            [
                (run_id, f.rule, mode, f.count, f.repaired, f.repairable, json.dumps(list(f.examples)), actor, at)
                for f in findings
            ],
        )
    )
    return run_id


def latest_findings(store: CrmStore) -> dict[str, int]:
    """Counts per rule of the most recent recorded integrity run (empty when none ran)."""
    rows = store.run(
        lambda tx: tx.fetch_all(
            "SELECT rule, found - repaired FROM integrity_findings WHERE run_id = (SELECT run_id FROM"
            " integrity_findings ORDER BY checked_at DESC, run_id LIMIT 1)"
        )
    )
    return {rule: int(count) for rule, count in rows}
