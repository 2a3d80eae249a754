"""Readers and writers of the email-finding stage: who needs an address, what is known per domain, leases,
and the outcome of a run written in one transaction."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import polars as pl

from jengu_pipeline.domain.emails import PRIOR_PATTERNS, DomainFacts, FinderReport, Person
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore

WEBSITE_NOT_FOUND = "website_not_found"
"""Activity type of the website stage for a prospect no search tier could place: no domain to guess at."""
LEASE_SECONDS = 30 * 60


def people_to_find(store: CrmStore, batch_id: str) -> tuple[list[Person], int]:
    """Active prospects of the batch still at stage ``new`` without a verified address and with somewhere to
    look (a website, an imported email, or a finished website search); and how many still wait for a website."""
    frame = store.run(
        lambda tx: tx.fetch_frame(
            "SELECT p.prospect_id, p.first_name, p.last_name, p.email, p.website,"
            " (p.website IS NULL AND p.email IS NULL AND NOT EXISTS (SELECT 1 FROM activities a"
            "   WHERE a.prospect_id = p.prospect_id AND a.type = ?)) AS waiting"
            " FROM prospects p WHERE p.batch_id = ? AND NOT p.archived AND p.stage = 'new' AND p.email_status IS NULL"
            " ORDER BY p.prospect_id",
            [WEBSITE_NOT_FOUND, batch_id],
        )
    )
    ready = frame.filter(~pl.col("waiting"))
    people = [
        Person(r["prospect_id"], r["first_name"], r["last_name"], r["email"], r["website"])
        for r in ready.iter_rows(named=True)
    ]
    return people, frame.height - ready.height


def _staged(tx: Tx, name: str, column: str, values: Iterable[str]) -> None:
    tx.temp_table(name, pl.DataFrame({column: sorted(set(values))}, schema={column: pl.String}))


def domain_knowledge(store: CrmStore, domains: Sequence[str]) -> tuple[dict[str, DomainFacts], dict[str, Counter[str]]]:
    """What earlier runs learned about these domains: mail set-up, and patterns of verified addresses."""

    def read(tx: Tx) -> tuple[pl.DataFrame, pl.DataFrame]:
        _staged(tx, "wanted_domains", "domain", domains)
        facts = tx.fetch_frame(
            "SELECT d.domain, d.has_mx, d.mx_hosts, d.catch_all FROM email_domains d"
            " JOIN wanted_domains w ON w.domain = d.domain"
        )
        learned = tx.fetch_frame(
            "SELECT split_part(v.email, '@', 2) AS domain, v.pattern, count(*) AS n FROM email_verifications v"
            " JOIN wanted_domains w ON w.domain = split_part(v.email, '@', 2)"
            " WHERE v.result = 'valid' AND v.pattern IS NOT NULL GROUP BY 1, 2"
        )
        return facts, learned

    facts, learned = store.run(read)
    known = {
        r["domain"]: DomainFacts(
            r["domain"], r["has_mx"], tuple(filter(None, (r["mx_hosts"] or "").split(","))), r["catch_all"]
        )
        for r in facts.iter_rows(named=True)
    }
    patterns: dict[str, Counter[str]] = {}
    for row in learned.iter_rows(named=True):
        patterns.setdefault(row["domain"], Counter())[row["pattern"]] += int(row["n"])
    return known, patterns


def global_pattern_counts(store: CrmStore) -> Counter[str]:
    """How often each pattern gave a verified address, over the whole store."""
    rows = store.run(
        lambda tx: tx.fetch_all(
            "SELECT pattern, count(*) FROM email_verifications WHERE result = 'valid' AND pattern IS NOT NULL"
            " GROUP BY pattern"
        )
    )
    return Counter({pattern: int(n) for pattern, n in rows if pattern in PRIOR_PATTERNS})


def acquire_leases(store: CrmStore, prospect_ids: Sequence[str], holder: str, seconds: int = LEASE_SECONDS) -> set[str]:
    """Lease what no other live run holds; returns the ids this holder now has (its own leases are renewed)."""
    now = datetime.now(UTC)

    def lease(tx: Tx) -> set[str]:
        tx.execute("DELETE FROM enrichment_leases WHERE expires_at < ?", [now])
        _staged(tx, "wanted_leases", "prospect_id", prospect_ids)
        tx.execute(
            "INSERT INTO enrichment_leases (prospect_id, holder, expires_at)"
            " SELECT prospect_id, ?, ? FROM wanted_leases"
            " ON CONFLICT (prospect_id) DO UPDATE SET expires_at = excluded.expires_at"
            " WHERE enrichment_leases.holder = excluded.holder",
            [holder, now + timedelta(seconds=seconds)],
        )
        rows = tx.fetch_all(
            "SELECT l.prospect_id FROM enrichment_leases l JOIN wanted_leases w ON w.prospect_id = l.prospect_id"
            " WHERE l.holder = ?",
            [holder],
        )
        return {row[0] for row in rows}

    return store.run(lease)


def release_leases(store: CrmStore, holder: str) -> None:
    store.run(lambda tx: tx.execute("DELETE FROM enrichment_leases WHERE holder = ?", [holder]))


_ATTEMPT_SCHEMA = {
    "verification_id": pl.String,
    "prospect_id": pl.String,
    "email": pl.String,
    "provider": pl.String,
    "result": pl.String,
    "detail": pl.String,
    "pattern": pl.String,
    "cost_units": pl.Int64,
    "batch_id": pl.String,
}
_FINDING_SCHEMA = {"prospect_id": pl.String, "outcome": pl.String, "email": pl.String, "reason": pl.String}


def record_findings(store: CrmStore, batch_id: str, report: FinderReport) -> dict[str, int]:
    """Write a run's attempts, domain facts and each prospect's outcome in one transaction.

    An address another active prospect already holds is not given twice (the store's unique active email
    would refuse it); such prospects stay ``new`` and are counted as ``email_taken``.
    """
    attempts = pl.DataFrame(
        [{**asdict(a), "verification_id": uuid.uuid4().hex, "batch_id": batch_id} for a in report.attempts],
        schema=_ATTEMPT_SCHEMA,
    )
    findings = pl.DataFrame([asdict(f) for f in report.findings], schema=_FINDING_SCHEMA)
    facts = pl.DataFrame(
        [
            {"domain": f.domain, "has_mx": f.has_mx, "mx_hosts": ",".join(f.mx_hosts), "catch_all": f.catch_all}
            for f in report.facts.values()
        ],
        schema={"domain": pl.String, "has_mx": pl.Boolean, "mx_hosts": pl.String, "catch_all": pl.Boolean},
    )

    def write(tx: Tx) -> dict[str, int]:
        tx.insert_frame("email_verifications", attempts)
        tx.temp_table("learned_domains", facts)
        tx.execute(
            "INSERT INTO email_domains (domain, has_mx, mx_hosts, catch_all) SELECT * FROM learned_domains"
            " ON CONFLICT (domain) DO UPDATE SET has_mx = excluded.has_mx, mx_hosts = excluded.mx_hosts,"
            " catch_all = COALESCE(excluded.catch_all, email_domains.catch_all), checked_at = now()"
        )
        tx.temp_table("findings", findings)
        tx.execute(
            "CREATE TEMP TABLE changes AS SELECT f.prospect_id, f.outcome, f.email, f.reason,"
            " CASE f.outcome WHEN 'found' THEN 'ok' WHEN 'risky' THEN 'risky' END AS email_status,"
            " CASE WHEN f.outcome = 'unreachable' THEN 'unreachable' ELSE 'enriched' END AS stage"
            " FROM findings f JOIN prospects p ON p.prospect_id = f.prospect_id"
            " WHERE p.stage = 'new' AND NOT p.archived AND f.outcome <> 'pending'"
            " AND (f.email IS NULL OR NOT EXISTS (SELECT 1 FROM prospects o"
            "      WHERE o.active_email = f.email AND o.prospect_id <> f.prospect_id))"
            " AND (f.email IS NULL OR f.prospect_id = (SELECT min(g.prospect_id) FROM findings g"
            "      WHERE g.email = f.email AND g.outcome <> 'pending'))"
        )
        tx.execute(
            "UPDATE prospects SET email = c.email, active_email = c.email, email_status = c.email_status,"
            " stage = c.stage, version = version + 1, updated_at = now()"
            " FROM changes c WHERE prospects.prospect_id = c.prospect_id AND c.email IS NOT NULL"
        )
        tx.execute(
            "UPDATE prospects SET stage = 'unreachable', version = version + 1, updated_at = now(),"
            " email_status = CASE WHEN prospects.email IS NULL THEN NULL ELSE 'invalid' END"
            " FROM changes c WHERE prospects.prospect_id = c.prospect_id AND c.outcome = 'unreachable'"
        )
        tx.execute(
            "INSERT INTO activities (prospect_id, batch_id, type, title, metadata)"
            " SELECT prospect_id, ?, 'stage_changed', 'new -> ' || stage || ': ' || COALESCE(email, reason),"
            ' CAST(\'{"from": "new", "to": "\' || stage || \'", "outcome": "\' || outcome || \'"}\' AS JSON)'
            " FROM changes",
            [batch_id],
        )
        changed = tx.fetch_value("SELECT count(*) FROM changes")
        tx.execute("DROP TABLE changes")
        decided = findings.filter(pl.col("outcome") != "pending").height
        return {"stage_changes": int(changed), "email_taken": decided - int(changed)}

    return store.run(write)


def batch_email_summary(store: CrmStore, batch_id: str) -> dict[str, dict[str, int]]:
    """Verification results and cost per provider for the batch's attempts so far (all runs)."""
    rows = store.run(
        lambda tx: tx.fetch_all(
            "SELECT provider, result, count(*), COALESCE(sum(cost_units), 0) FROM email_verifications"
            " WHERE batch_id = ? GROUP BY provider, result ORDER BY provider, result",
            [batch_id],
        )
    )
    results: dict[str, int] = {}
    cost: dict[str, int] = {}
    for provider, result, n, units in rows:
        results[f"{provider}:{result}"] = int(n)
        cost[provider] = cost.get(provider, 0) + int(units)
    return {"results": results, "cost_units": cost}


def chosen_without_evidence(store: CrmStore) -> int:
    """Active prospects whose chosen address has no verification behind its status (should be none)."""
    return int(
        store.run(
            lambda tx: tx.fetch_value(
                "SELECT count(*) FROM prospects p WHERE NOT p.archived AND p.email_status IN ('ok', 'risky')"
                " AND NOT EXISTS (SELECT 1 FROM email_verifications v WHERE v.prospect_id = p.prospect_id"
                " AND v.email = p.email AND ((p.email_status = 'ok' AND v.result = 'valid')"
                " OR (p.email_status = 'risky' AND v.result IN ('catch_all', 'risky'))))"
            )
        )
    )
