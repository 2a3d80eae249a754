"""Follow-ups in the store: which members of a campaign are due their next step, and the thread it continues.

A member is due step N+1 once step N went out (``sent`` in the ledger, never a bounced or unknown one), no later
step was claimed, their sequence is neither stopped nor removed, and they are still someone outreach goes to;
the step's due time counts from step N's real send time in the prospect's calendar. The thread is every
message sent so far in the campaign, plus any automatic answer (an out-of-office) that did not end it: the
writer sees them as quoted, untrusted data, and the gate checks the draft against the automatic answers' text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from jengu_pipeline.domain.campaigns import Campaign
from jengu_pipeline.domain.compose import ThreadMessage
from jengu_pipeline.domain.messages import MessageRequest
from jengu_pipeline.domain.sending import prospect_zone
from jengu_pipeline.domain.sequences import follow_up_due, thread_subject
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.messages import RECIPIENT_COLUMNS, WEBSITE_JOIN, Recipient
from jengu_pipeline.store.repository import CrmStore
from jengu_pipeline.store.sending import SENDABLE_STAGES

CHUNK = 500

_LAST_SENT = f"""
SELECT {RECIPIENT_COLUMNS}, cm.variant, s.step, coalesce(s.sent_at, s.claimed_at), m.subject, p.timezone
FROM campaign_members cm
JOIN prospects p ON p.prospect_id = cm.prospect_id
{WEBSITE_JOIN}
JOIN sends s ON s.prospect_id = cm.prospect_id AND s.campaign_id = cm.campaign_id AND s.status = 'sent'
JOIN messages m ON m.message_id = s.message_id
WHERE cm.campaign_id = ? AND cm.removed_at IS NULL AND cm.stopped_at IS NULL AND s.step < ?
  AND NOT p.archived AND p.email IS NOT NULL AND p.stage IN ({", ".join("?" for _ in SENDABLE_STAGES)})
  AND NOT EXISTS (SELECT 1 FROM suppressions x WHERE x.email = p.email)
  AND NOT EXISTS (SELECT 1 FROM sends n WHERE n.prospect_id = s.prospect_id AND n.campaign_id = s.campaign_id
                  AND n.step > s.step)
  AND NOT EXISTS (SELECT 1 FROM messages n WHERE n.prospect_id = s.prospect_id AND n.campaign_id = s.campaign_id
                  AND n.step = s.step + 1)
ORDER BY p.prospect_id
"""
"""Each running member's last step that went out, when nothing after it is written or claimed yet."""


@dataclass(frozen=True)
class FollowUp:
    """A member due their next step: who, which step, from when, and the thread it continues."""

    recipient: Recipient
    step: int
    due_at: datetime
    previous_subject: str
    thread: tuple[ThreadMessage, ...]

    def request(self, campaign: Campaign) -> MessageRequest:
        """What the writing chain gets: the step as this prospect's A/B arm writes it, the thread as quoted
        data, the thread's subject, and the automatic answers' text for the gate to check copies against."""
        step = campaign.steps[self.step - 1]
        facts = self.recipient.facts(campaign, self.step)
        facts = dataclasses.replace(
            facts,
            thread=self.thread,
            variant_description=step.variant_description(self.recipient.variant) or facts.variant_description,
        )
        gate = self.recipient.gate_context(campaign, facts)
        answers = "\n".join(message.text for message in self.thread if message.author != "us")
        gate = dataclasses.replace(gate, scraped_text="\n".join(part for part in (gate.scraped_text, answers) if part))
        arm = step.for_variant(self.recipient.variant)
        return MessageRequest(facts, campaign, arm, gate, subject=thread_subject(self.previous_subject, arm.subject))


def due_follow_ups(store: CrmStore, campaign: Campaign, *, until: datetime) -> list[FollowUp]:
    """The campaign's members whose next step falls due before ``until`` (and before the campaign ends)."""

    def read(tx: Tx) -> list[FollowUp]:
        rows = tx.fetch_all(_LAST_SENT, [campaign.name, len(campaign.steps), *SENDABLE_STAGES])
        due = []
        for row in rows:
            recipient = Recipient(*row[:12])
            sent_step, sent_at, subject, timezone = row[12:16]
            zone = prospect_zone(timezone, recipient.country, sent_at)
            next_step = campaign.steps[sent_step]  # steps are numbered from 1: this is step sent_step + 1
            due_at = follow_up_due(sent_at, next_step.delay_days, zone=zone, business_days=campaign.business_days)
            if due_at < until and due_at.date() <= campaign.ends_on:
                due.append((recipient, sent_step + 1, due_at, subject))
        threads = _threads(tx, campaign.name, [recipient.prospect_id for recipient, *_ in due])
        return [
            FollowUp(recipient, step, due_at, subject, threads.get(recipient.prospect_id, ()))
            for recipient, step, due_at, subject in due
        ]

    return store.run(read)


def _threads(tx: Tx, campaign_id: str, prospect_ids: Sequence[str]) -> dict[str, tuple[ThreadMessage, ...]]:
    """Per prospect, what was sent to them in the campaign and the automatic answers to it, oldest first."""
    found: dict[str, list[tuple[datetime, ThreadMessage]]] = {}
    for start in range(0, len(prospect_ids), CHUNK):
        chunk = list(prospect_ids[start : start + CHUNK])
        marks = ", ".join("?" for _ in chunk)
        rows = tx.fetch_all(
            "SELECT s.prospect_id, 'us', coalesce(s.sent_at, s.claimed_at), m.subject, m.body FROM sends s"
            " JOIN messages m ON m.message_id = s.message_id"
            f" WHERE s.campaign_id = ? AND s.status = 'sent' AND s.prospect_id IN ({marks})"
            " UNION ALL SELECT r.prospect_id, 'prospect', r.received_at, coalesce(r.subject, ''),"
            " coalesce(r.new_text, '') FROM replies r JOIN sends s ON s.send_id = r.send_id"
            f" WHERE s.campaign_id = ? AND r.intent = 'auto_reply' AND r.prospect_id IN ({marks})",
            [campaign_id, *chunk, campaign_id, *chunk],
        )
        for prospect_id, author, at, subject, text in rows:
            found.setdefault(prospect_id, []).append((at, ThreadMessage(author, at.isoformat(), subject, text)))
    return {
        prospect_id: tuple(message for _, message in sorted(items, key=lambda item: item[0]))
        for prospect_id, items in found.items()
    }
