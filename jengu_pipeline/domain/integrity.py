"""Integrity rules of the CRM store: what each one looks for, whether a repair may fix it, and what the
outcome of a check or a repair means for the operator.

Pure: the SQL that finds and repairs lives in ``store/integrity.py``; times are computed from the ``now`` the
caller passes. Findings name ids only (prospect, send, message, reply ids): never an email or a name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class Rule:
    """One integrity rule. ``repairable`` means ``repair`` fixes it without a person; ``table`` is the store
    table (and Dagster asset) the rule is about."""

    name: str
    table: str
    description: str
    repairable: bool
    severity: Severity


RULES: Final[tuple[Rule, ...]] = (
    Rule(
        "orphan_rows",
        "prospects",
        "Rows in a table with a prospect_id whose prospect no longer exists (only its registry id remains). "
        "A person decides: the rows may be history worth keeping.",
        repairable=False,
        severity="error",
    ),
    Rule(
        "duplicate_active_email",
        "prospects",
        "Active prospects sharing an email address once case and spaces are ignored. A person merges them.",
        repairable=False,
        severity="error",
    ),
    Rule(
        "duplicate_active_linkedin_url",
        "prospects",
        "Active prospects sharing a LinkedIn profile once scheme, host, case, query and trailing slash are "
        "ignored. A person merges them.",
        repairable=False,
        severity="error",
    ),
    Rule(
        "stale_claims",
        "sends",
        "Sends still `claimed` after the claim timeout: their process died. Repair releases (defers for an "
        "immediate retry) those with no SMTP attempt recorded and marks the others `unknown`, as a sending tick "
        "would, since they may have gone out.",
        repairable=True,
        severity="error",
    ),
    Rule(
        "unknown_sends",
        "sends",
        "Sends left `unknown` (the server may have accepted them) that no tick reconciled from the Sent folder. "
        "A person resolves each with `jengu sending resolve`.",
        repairable=False,
        severity="error",
    ),
    Rule(
        "messages_to_suppressed_or_archived",
        "messages",
        "Messages still waiting to go (queued or awaiting approval, unsent) to a prospect who is archived or "
        "whose address is suppressed. Repair cancels them.",
        repairable=True,
        severity="error",
    ),
    Rule(
        "messages_in_inactive_campaigns",
        "messages",
        "Messages still waiting to go in a campaign that is paused or completed. A person resumes or closes "
        "the campaign.",
        repairable=False,
        severity="warn",
    ),
    Rule(
        "provider_quota_behind_ledger",
        "integrity_findings",
        "Daily provider quota counters below the units the call ledger charged that day. (Inboxes keep no "
        "counters: caps and bounce health are counted from the send ledger at every claim.) Repair recounts.",
        repairable=True,
        severity="error",
    ),
    Rule(
        "prospect_stage_behind_ledger",
        "prospects",
        "Prospects whose stage lags the send ledger: a sent step while still new or enriched, a hard bounce "
        "while not yet bounced. Repair recounts the stage.",
        repairable=True,
        severity="warn",
    ),
    Rule(
        "hard_bounce_not_suppressed",
        "sends",
        "Hard-bounced sends whose recipient is not suppressed. Repair suppresses the address.",
        repairable=True,
        severity="error",
    ),
    Rule(
        "expired_leases",
        "email_verifications",
        "Enrichment leases past their expiry: the run holding them died. Repair releases them.",
        repairable=True,
        severity="warn",
    ),
    Rule(
        "stale_new_prospects",
        "prospects",
        "Active prospects in stage `new` with no activity for the stale period (90 days by default). Repair "
        "archives each, with an activity saying why.",
        repairable=True,
        severity="warn",
    ),
    Rule(
        "unclassified_replies",
        "replies",
        "Stored replies never classified (no intent) after the grace period. The replies run or a person "
        "classifies them.",
        repairable=False,
        severity="warn",
    ),
)
RULES_BY_NAME: Final[dict[str, Rule]] = {rule.name: rule for rule in RULES}

MAX_EXAMPLES: Final = 10


@dataclass(frozen=True)
class IntegrityPolicy:
    """The thresholds of the rules; defaults match the sender's 15-minute claim timeout and the seed's 90 days."""

    claim_timeout: timedelta = timedelta(minutes=15)
    unknown_grace: timedelta = timedelta(minutes=15)
    reply_grace: timedelta = timedelta(hours=1)
    stale_after: timedelta = timedelta(days=90)
    max_examples: int = MAX_EXAMPLES


@dataclass(frozen=True)
class Cutoffs:
    """The instants the rules compare with, all derived from one ``now``."""

    now: datetime
    claims_before: datetime
    unknown_before: datetime
    replies_before: datetime
    stale_before: datetime


def cutoffs(now: datetime, policy: IntegrityPolicy) -> Cutoffs:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"a time zone aware now is required, got {now.isoformat()}")
    return Cutoffs(
        now, now - policy.claim_timeout, now - policy.unknown_grace, now - policy.reply_grace, now - policy.stale_after
    )


@dataclass(frozen=True)
class Finding:
    """What one rule found: how many items, a few of their ids, and (after a repair) how many were fixed."""

    rule: str
    count: int
    examples: tuple[str, ...] = ()
    repairable: bool = False
    repaired: int = 0

    def to_json(self) -> dict[str, Any]:
        """The stable ``--json`` shape: rule, count, examples, repairable."""
        return {"rule": self.rule, "count": self.count, "examples": list(self.examples), "repairable": self.repairable}


def finding(
    rule: Rule, count: int, examples: Iterable[str], *, repaired: int = 0, max_examples: int = MAX_EXAMPLES
) -> Finding:
    return Finding(rule.name, count, tuple(sorted(set(examples)))[:max_examples], rule.repairable, repaired)


def select_rules(names: Sequence[str] | None) -> tuple[Rule, ...]:
    """The rules named (in the canonical order), or all of them; an unknown name is an error."""
    if names is None:
        return RULES
    unknown = sorted(set(names) - set(RULES_BY_NAME))
    if unknown:
        raise ValueError(f"unknown integrity rules: {', '.join(unknown)}")
    return tuple(rule for rule in RULES if rule.name in set(names))


def needs_a_person(findings: Iterable[Finding]) -> list[Finding]:
    """Findings no repair will fix: each needs someone to look."""
    return [f for f in findings if f.count > 0 and not f.repairable]


def check_exit_code(findings: Iterable[Finding]) -> int:
    """``jengu integrity check``: 0 when every rule is clean, 1 when any rule found something."""
    return 1 if any(f.count > 0 for f in findings) else 0


def repair_exit_code(findings: Iterable[Finding], *, dry_run: bool) -> int:
    """``jengu integrity repair``: 0 when nothing is left to do; 1 when a finding needs a person, or (dry run)
    when the repair would change something."""
    found = list(findings)
    if needs_a_person(found):
        return 1
    if dry_run and any(f.count > 0 for f in found):
        return 1
    return 0


def summary_line(findings: Sequence[Finding]) -> str:
    """One line for logs and alerts: the rules with something found."""
    dirty = [f for f in findings if f.count > 0]
    if not dirty:
        return f"integrity: all {len(findings)} rules clean"
    parts = [f"{f.rule}={f.count}" + (f" (repaired {f.repaired})" if f.repaired else "") for f in dirty]
    return f"integrity: {len(dirty)} of {len(findings)} rules found something: " + ", ".join(parts)
