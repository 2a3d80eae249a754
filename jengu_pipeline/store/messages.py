"""Messages in the store: who gets one, writing them down with their provenance, approval by an operator.

A batch's messages are replaced when the batch is re-materialised, except those already claimed by the sender
or approved by a person: what went out, or what someone signed off, is history. Message ids are a hash of
(prospect, campaign, step), so a rewritten message keeps its id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from jengu_pipeline.domain.campaigns import Campaign
from jengu_pipeline.domain.compose import MessageFacts
from jengu_pipeline.domain.message_gate import GateContext, check_message
from jengu_pipeline.domain.messages import WrittenMessage
from jengu_pipeline.store.campaigns import RULE_ELIGIBLE_EMAIL_STATUS, assign_by_rules, get_campaign
from jengu_pipeline.store.engine import StoreError, Tx
from jengu_pipeline.store.repository import CrmStore, add_activity

MessageStatus = Literal["queued", "awaiting_approval", "rejected"]
SENDABLE_STATUS: MessageStatus = "queued"
FIRST_STEP = 1

_UNTOUCHABLE = (
    "(m.approved_at IS NOT NULL OR EXISTS (SELECT 1 FROM sends s WHERE s.prospect_id = m.prospect_id"
    " AND s.campaign_id = m.campaign_id AND s.step = m.step))"
)
"""A message that is approved or has a ledger row: never replaced, never rewritten."""


def message_id_for(prospect_id: str, campaign_id: str, step: int) -> str:
    digest = hashlib.sha256(f"{prospect_id}\x00{campaign_id}\x00{step}".encode()).hexdigest()[:24]
    return f"msg_{digest}"


@dataclass(frozen=True)
class Recipient:
    """A campaign member due a message, with what the store knows about them and their hotel's website."""

    prospect_id: str
    email: str
    first_name: str | None
    last_name: str | None
    title: str | None
    company: str | None
    country: str | None
    website_domain: str | None
    page_title: str | None
    page_description: str | None
    page_excerpt: str | None
    variant: str | None

    def facts(self, campaign: Campaign, step: int) -> MessageFacts:
        variants = {variant.name: variant.description for variant in campaign.variants}
        return MessageFacts(
            prospect_id=self.prospect_id,
            first_name=self.first_name,
            last_name=self.last_name,
            title=self.title,
            hotel=self.company,
            country=self.country,
            website_domain=self.website_domain,
            page_title=self.page_title,
            page_description=self.page_description,
            page_excerpt=self.page_excerpt,
            value_proposition=campaign.value_proposition,
            variant=self.variant,
            variant_description=variants.get(self.variant or ""),
            step=step,
        )

    def gate_context(self, campaign: Campaign, facts: MessageFacts) -> GateContext:
        sender = campaign.sender
        return GateContext(
            recipient_email=self.email,
            recipient_first_name=self.first_name,
            recipient_last_name=self.last_name,
            hotel_name=self.company,
            sender_email=sender.sender_email,
            sender_name=sender.sender_name,
            reply_to=sender.reply_to,
            postal_address=sender.postal_address,
            unsubscribe_text=sender.unsubscribe_text,
            allowed_link_domains=campaign.link_domains(),
            scraped_text=facts.website_text(),
        )


def active_campaigns(store: CrmStore, today: date) -> list[Campaign]:
    """Campaigns an operator switched to active whose end date has not passed."""

    def read(tx: Tx) -> list[Campaign]:
        ids = tx.fetch_all(
            "SELECT campaign_id FROM campaigns WHERE status = 'active' AND ends_on >= ? ORDER BY campaign_id", [today]
        )
        return [get_campaign(tx, campaign_id) for (campaign_id,) in ids]

    return store.run(read)


def assign_members(store: CrmStore, campaigns: Sequence[Campaign], *, actor: str) -> dict[str, int]:
    """Apply each campaign's audience rules (idempotent; removed members stay out); new members per campaign."""
    return {campaign.name: len(assign_by_rules(store, campaign.name, actor=actor).added) for campaign in campaigns}


RECIPIENT_COLUMNS = (
    "p.prospect_id, p.email, p.first_name, p.last_name, p.title, p.company, p.country,"
    " w.domain, wp.title, wp.description, wp.excerpt"
)
WEBSITE_JOIN = """
LEFT JOIN (SELECT prospect_id, domain,
                  row_number() OVER (PARTITION BY prospect_id ORDER BY confidence DESC, url) AS rank
           FROM websites) w ON w.prospect_id = p.prospect_id AND w.rank = 1
LEFT JOIN website_pages wp ON wp.domain = w.domain
"""
"""Each prospect's most confident website and the homepage words kept for it."""

_RECIPIENTS = f"""
SELECT {RECIPIENT_COLUMNS}, cm.variant
FROM campaign_members cm
JOIN prospects p ON p.prospect_id = cm.prospect_id
{WEBSITE_JOIN}
WHERE cm.campaign_id = ? AND cm.removed_at IS NULL AND p.batch_id = ? AND NOT p.archived
  AND p.stage = 'enriched' AND p.email IS NOT NULL AND p.email_status IN (?, ?)
  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email = p.email)
  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.prospect_id = p.prospect_id
                  AND m.campaign_id = cm.campaign_id AND m.step = ? AND {_UNTOUCHABLE})
ORDER BY p.prospect_id
"""


def recipients(store: CrmStore, campaign_id: str, batch_id: str, step: int = FIRST_STEP) -> list[Recipient]:
    """Members of the campaign from this batch who may get ``step`` now (not suppressed, not already sent)."""
    rows = store.run(lambda tx: tx.fetch_all(_RECIPIENTS, [campaign_id, batch_id, *RULE_ELIGIBLE_EMAIL_STATUS, step]))
    return [Recipient(*row) for row in rows]


_UNSENT_APPROVED_OR_QUEUED = f"""
SELECT {RECIPIENT_COLUMNS}, m.variant, m.message_id, m.campaign_id, m.step, m.subject, m.body
FROM messages m
JOIN prospects p ON p.prospect_id = m.prospect_id
{WEBSITE_JOIN}
WHERE m.status IN ('queued', 'awaiting_approval')
  AND NOT EXISTS (SELECT 1 FROM sends s WHERE s.prospect_id = m.prospect_id AND s.campaign_id = m.campaign_id
                  AND s.step = m.step)
ORDER BY m.message_id
"""


def gate_violations(store: CrmStore) -> dict[str, list[str]]:
    """Unsent messages cleared for sending that the gate would now refuse (edited by hand, or rules changed)."""

    def read(tx: Tx) -> tuple[list[tuple[Any, ...]], dict[str, Campaign]]:
        rows = tx.fetch_all(_UNSENT_APPROVED_OR_QUEUED)
        return rows, {cid: get_campaign(tx, cid) for cid in {row[13] for row in rows}}

    rows, campaigns = store.run(read)
    violations: dict[str, list[str]] = {}
    for row in rows:
        recipient, (message_id, campaign_id, step, subject, body) = Recipient(*row[:12]), row[12:]
        campaign = campaigns[campaign_id]
        context = recipient.gate_context(campaign, recipient.facts(campaign, step))
        verdict = check_message(subject, body, None, context)
        if not verdict.passed:
            violations[message_id] = [failure.rule for failure in verdict.failures]
    return violations


def _status(written: WrittenMessage) -> MessageStatus:
    if not written.gate.passed:
        return "rejected"
    return "awaiting_approval" if written.request.campaign.requires_approval else SENDABLE_STATUS


def _row(batch_id: str | None, written: WrittenMessage) -> list[Any]:
    request = written.request
    prospect_id, campaign_id, step = request.facts.prospect_id, request.campaign.name, request.facts.step
    failures = [asdict(failure) for failure in written.gate.failures]
    return [
        message_id_for(prospect_id, campaign_id, step),
        prospect_id,
        campaign_id,
        step,
        request.facts.variant,
        written.draft.subject,
        written.draft.body,
        _status(written),
        batch_id,
        written.writer,
        written.model,
        written.prompt_version,
        written.template,
        json.dumps([asdict(a) for a in written.attempts]),
        json.dumps(failures),
        written.gate.spam_score,
    ]


def replace_batch_messages(store: CrmStore, batch_id: str, written: Sequence[WrittenMessage]) -> dict[str, int]:
    """Swap the batch's replaceable messages for ``written`` in one transaction; counts per status."""

    def write(tx: Tx) -> dict[str, int]:
        tx.execute(f"DELETE FROM messages m WHERE m.batch_id = ? AND NOT {_UNTOUCHABLE}", [batch_id])
        rows = [_row(batch_id, item) for item in written]
        tx.execute_many(
            "INSERT INTO messages (message_id, prospect_id, campaign_id, step, variant, subject, body, status,"
            " batch_id, provider, model, prompt_version, template, attempts, gate_failures, spam_score, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS JSON), CAST(? AS JSON), ?, now())",
            rows,
        )
        tx.execute_many(
            "INSERT INTO activities (prospect_id, batch_id, type, title, metadata)"
            " VALUES (?, ?, ?, ?, CAST(? AS JSON))",
            [
                (
                    row[1],
                    batch_id,
                    "message_composed",
                    f"step {row[3]} of {row[2]} written by {row[9]}: {row[7]}",
                    json.dumps(
                        {"message_id": row[0], "campaign": row[2], "step": row[3], "writer": row[9], "status": row[7]}
                    ),
                )
                for row in rows
            ],
        )
        counts: dict[str, int] = {}
        for row in rows:
            counts[row[7]] = counts.get(row[7], 0) + 1
        return counts

    return store.run(write)


def add_follow_ups(store: CrmStore, written: Sequence[tuple[WrittenMessage, datetime]]) -> dict[str, int]:
    """Store written follow-ups with their due times (a step already written by a concurrent run stays as it
    was); counts per status of those stored."""

    def write(tx: Tx) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item, due_at in written:
            row = _row(None, item)
            stored = tx.fetch_all(
                "INSERT INTO messages (message_id, prospect_id, campaign_id, step, variant, subject, body, status,"
                " batch_id, provider, model, prompt_version, template, attempts, gate_failures, spam_score,"
                " updated_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS JSON),"
                " CAST(? AS JSON), ?, now(), ?) ON CONFLICT DO NOTHING RETURNING message_id",
                [*row, due_at],
            )
            if not stored:
                continue
            add_activity(
                tx,
                "message_composed",
                f"step {row[3]} of {row[2]} written by {row[9]}: {row[7]}, due {due_at:%Y-%m-%d %H:%M} UTC",
                prospect_id=row[1],
                metadata={
                    "message_id": row[0],
                    "campaign": row[2],
                    "step": row[3],
                    "writer": row[9],
                    "status": row[7],
                    "due_at": due_at.isoformat(),
                },
            )
            counts[row[7]] = counts.get(row[7], 0) + 1
        return counts

    return store.run(write)


def approve(
    store: CrmStore, *, actor: str, campaign_id: str | None = None, message_ids: Sequence[str] = ()
) -> list[str]:
    """Queue messages awaiting approval: the given ids, or every one of a campaign. Returns the ids approved."""
    if not campaign_id and not message_ids:
        raise StoreError("name a campaign or message ids to approve")

    def run(tx: Tx) -> list[str]:
        sql = "SELECT message_id, prospect_id, status FROM messages WHERE "
        if message_ids:
            marks = ", ".join("?" for _ in message_ids)
            found = tx.fetch_all(sql + f"message_id IN ({marks})", list(message_ids))
            missing = sorted(set(message_ids) - {row[0] for row in found})
            wrong = sorted(row[0] for row in found if row[2] != "awaiting_approval")
            if missing or wrong:
                problems = ([f"unknown message ids: {', '.join(missing)}"] if missing else []) + (
                    [f"not awaiting approval: {', '.join(wrong)}"] if wrong else []
                )
                raise StoreError("; ".join(problems))
        else:
            get_campaign(tx, campaign_id or "")
            found = tx.fetch_all(sql + "campaign_id = ? AND status = 'awaiting_approval'", [campaign_id])
        tx.execute_many(
            "UPDATE messages SET status = ?, approved_at = now(), approved_by = ?, updated_at = now()"
            " WHERE message_id = ? AND status = 'awaiting_approval'",
            [(SENDABLE_STATUS, actor, row[0]) for row in found],
        )
        for message_id, prospect_id, _ in found:
            add_activity(
                tx,
                "message_approved",
                f"message approved by {actor}",
                prospect_id=prospect_id,
                metadata={"message_id": message_id, "actor": actor},
            )
        return [row[0] for row in found]

    return store.run(run)


def list_messages(
    store: CrmStore,
    *,
    status: str | None = None,
    campaign_id: str | None = None,
    batch_id: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Newest messages first, filtered; for ``jengu messages list`` and the approval view."""
    where, params = ["TRUE"], []
    for column, value in (("status", status), ("campaign_id", campaign_id), ("batch_id", batch_id)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    frame = store.query(
        "SELECT message_id, prospect_id, campaign_id, step, variant, status, provider, subject, body,"
        " gate_failures, spam_score, created_at FROM messages WHERE "
        + " AND ".join(where)
        + f" ORDER BY created_at DESC, message_id LIMIT {int(limit)}",
        params,
    )
    return frame.to_dicts()


def batch_summary(store: CrmStore, batch_id: str) -> dict[str, Any]:
    """Per status and per writer counts of the batch's messages, and gate failures by rule over every attempt."""

    def read(tx: Tx) -> dict[str, Any]:
        status = dict(
            tx.fetch_all("SELECT status, count(*) FROM messages WHERE batch_id = ? GROUP BY status", [batch_id])
        )
        writers = dict(
            tx.fetch_all(
                "SELECT coalesce(template, provider), count(*) FROM messages WHERE batch_id = ? GROUP BY 1", [batch_id]
            )
        )
        attempts = [
            json.loads(row[0]) if isinstance(row[0], str) else row[0]
            for row in tx.fetch_all("SELECT attempts FROM messages WHERE batch_id = ?", [batch_id])
        ]
        return {"status": status, "writers": writers, "attempts": attempts}

    summary = store.run(read)
    failures: dict[str, int] = {}
    fallbacks: dict[str, int] = {}
    for path in summary.pop("attempts"):
        for attempt in path:
            if attempt["outcome"] != "written":
                fallbacks[f"{attempt['writer']}: {attempt['outcome']}"] = (
                    fallbacks.get(f"{attempt['writer']}: {attempt['outcome']}", 0) + 1
                )
            for rule in attempt["failed_rules"]:
                failures[rule] = failures.get(rule, 0) + 1
    return {**summary, "gate_failures": failures, "fallbacks": fallbacks}
