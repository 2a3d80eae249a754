"""Contacted prospects in a store, each with one sent step of the sandbox campaign: what replies answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.campaigns import load_campaigns

CAMPAIGNS = Path(__file__).parents[2] / "jengu_pipeline" / "sandbox" / "campaigns"
CAMPAIGN = "sandbox-intro"
NOW = datetime(2026, 12, 8, 11, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Contact:
    prospect_id: str
    email: str
    send_id: str
    rfc_message_id: str


def contacts(store: CrmStore, count: int, domain: str = "hotel-rosa.test") -> list[Contact]:
    """``count`` contacted prospects at one hotel, each a member of the sandbox campaign with one sent step."""
    if not store.run(lambda tx: tx.fetch_value("SELECT count(*) FROM campaigns WHERE campaign_id = ?", [CAMPAIGN])):
        load_campaigns(store, CAMPAIGNS)
    batch = f"b_{uuid.uuid4().hex[:10]}"
    made = []
    for n in range(count):
        tag = uuid.uuid4().hex[:8]
        made.append(Contact(f"pr_{tag}", f"person{n}.{tag}@{domain}", f"snd_{tag}", f"<{tag}.1@jengu.test>"))

    def insert(tx: Any) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)",
            [batch, batch, f"{batch}.csv", uuid.uuid4().hex],
        )
        for n, item in enumerate(made):
            tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [item.prospect_id])
            tx.execute(
                "INSERT INTO prospects (prospect_id, batch_id, first_name, last_name, email, active_email,"
                " company, stage, email_status) VALUES (?, ?, ?, 'Rossi', ?, ?, 'Hotel Rosa', 'contacted', 'ok')",
                [item.prospect_id, batch, f"Anna{n}", item.email, item.email],
            )
            tx.execute(
                "INSERT INTO campaign_members (campaign_id, prospect_id, variant, source) VALUES (?, ?, 'a', 'rule')",
                [CAMPAIGN, item.prospect_id],
            )
            tx.execute(
                "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
                " rfc_message_id, status, claimed_at, sent_at) VALUES (?, ?, ?, 1, ?, 'mia@jengu.test', ?, ?,"
                " 'sent', ?, ?)",
                [
                    item.send_id,
                    item.prospect_id,
                    CAMPAIGN,
                    f"msg_{item.send_id}",
                    item.email,
                    item.rfc_message_id,
                    NOW - timedelta(days=1),
                    NOW - timedelta(days=1),
                ],
            )

    store.run(insert)
    return made
