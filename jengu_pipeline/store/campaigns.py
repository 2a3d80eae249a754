"""Campaigns in the store: definitions loaded from YAML, and membership by audience rules or by hand.

Every membership change is an activity on the prospect, so the history says who put a prospect in a
campaign, by which rule or operator, and in which A/B arm. A member removed by hand stays removed: the rules
never bring them back (only a manual assignment does).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jengu_pipeline.domain.campaigns import Campaign, CampaignFile, read_campaign_folder
from jengu_pipeline.store.engine import StoreError, Tx
from jengu_pipeline.store.repository import CrmStore, add_activity

RULE_ELIGIBLE_EMAIL_STATUS = ("ok", "risky")
"""Rules only pick prospects with an address worth writing to; a manual assignment may override this."""
FROZEN_STATUSES = frozenset({"completed"})
"""A completed campaign's membership is history: it is not changed any more."""


@dataclass(frozen=True)
class LoadResult:
    """What ``load_campaigns`` did per campaign id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MembershipChange:
    """Who a membership operation added, removed, or left alone (already in / already out / not found)."""

    added: dict[str, str | None] = field(default_factory=dict)
    """prospect id -> A/B variant"""
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _json_value(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def parse_tags(text: str | None) -> list[str]:
    """A prospect's tags: a JSON array of strings, or (typed by hand in SQL) a comma-separated list."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text.split(",")
    items = value if isinstance(value, list) else [value]
    return [str(item).strip() for item in items if str(item).strip()]


def load_campaigns(store: CrmStore, folder: Path) -> LoadResult:
    """Validate every file in ``folder`` and upsert the definitions, all or none; unchanged files write nothing."""
    files = read_campaign_folder(folder)

    def upsert(tx: Tx) -> LoadResult:
        known = dict(tx.fetch_all("SELECT campaign_id, content_hash FROM campaigns"))
        result = LoadResult()
        for item in files:
            campaign = item.campaign
            if known.get(campaign.name) == item.content_hash:
                result.unchanged.append(campaign.name)
                continue
            _upsert_campaign(tx, item)
            (result.updated if campaign.name in known else result.added).append(campaign.name)
            add_activity(
                tx,
                "campaign_loaded",
                f"campaign {campaign.name} loaded from {item.source_file}",
                metadata={
                    "campaign": campaign.name,
                    "status": campaign.status,
                    "content_hash": item.content_hash,
                    "new": campaign.name not in known,
                },
            )
        return result

    return store.run(upsert)


def _upsert_campaign(tx: Tx, item: CampaignFile) -> None:
    campaign = item.campaign
    tx.execute("INSERT INTO campaign_registry (campaign_id) VALUES (?) ON CONFLICT DO NOTHING", [campaign.name])
    tx.execute(
        "INSERT INTO campaigns (campaign_id, name, status, starts_on, ends_on, definition, source_file, content_hash)"
        " VALUES (?, ?, ?, ?, ?, CAST(? AS JSON), ?, ?) ON CONFLICT (campaign_id) DO UPDATE SET name = excluded.name,"
        # a status set by a lifecycle command (or completed) outlives the file: see migration 0012
        " status = CASE WHEN campaigns.status = 'completed' OR campaigns.status_changed_by IS NOT NULL"
        " THEN campaigns.status ELSE excluded.status END, starts_on = excluded.starts_on, ends_on = excluded.ends_on,"
        " definition = excluded.definition, source_file = excluded.source_file,"
        " content_hash = excluded.content_hash, loaded_at = now()",
        [
            campaign.name,
            campaign.title or campaign.name,
            campaign.status,
            campaign.starts_on,
            campaign.ends_on,
            campaign.model_dump_json(),
            item.source_file,
            item.content_hash,
        ],
    )


def get_campaign(tx: Tx, campaign_id: str) -> Campaign:
    """The stored definition with its current status; a clear error when the campaign was never loaded."""
    row = tx.fetch_one("SELECT definition, status FROM campaigns WHERE campaign_id = ?", [campaign_id])
    if row is None:
        raise StoreError(f"campaign {campaign_id!r} is not loaded (run `jengu campaign load`)")
    return Campaign.model_validate(_json_value(row[0])).model_copy(update={"status": row[1]})


def _lock_membership(tx: Tx, campaign_id: str) -> Campaign:
    """Serialise membership changes of one campaign (PostgreSQL row lock; DuckDB has a single writer)."""
    campaign = get_campaign(tx, campaign_id)
    if campaign.status in FROZEN_STATUSES:
        raise StoreError(f"campaign {campaign_id!r} is {campaign.status}: its membership can no longer change")
    if tx.backend == "postgresql":
        tx.execute("SELECT campaign_id FROM campaign_registry WHERE campaign_id = ? FOR UPDATE", [campaign_id])
    return campaign


def _memberships(tx: Tx, campaign_id: str) -> dict[str, bool]:
    """prospect id -> currently a member (False: removed)."""
    rows = tx.fetch_all(
        "SELECT prospect_id, removed_at IS NULL FROM campaign_members WHERE campaign_id = ?", [campaign_id]
    )
    return {prospect_id: bool(active) for prospect_id, active in rows}


def _record(
    tx: Tx, type_: str, title: str, rows: Sequence[tuple[str, str | None]], *, campaign_id: str, source: str, actor: str
) -> None:
    tx.execute_many(
        "INSERT INTO activities (prospect_id, type, title, metadata) VALUES (?, ?, ?, CAST(? AS JSON))",
        [
            (
                prospect_id,
                type_,
                title,
                json.dumps({"campaign": campaign_id, "variant": variant, "source": source, "actor": actor}),
            )
            for prospect_id, variant in rows
        ],
    )


def assign_by_rules(store: CrmStore, campaign_id: str, *, actor: str = "rules") -> MembershipChange:
    """Add every eligible prospect matching the campaign's audience that was never a member (removed ones stay out)."""

    def assign(tx: Tx) -> MembershipChange:
        campaign = _lock_membership(tx, campaign_id)
        members = _memberships(tx, campaign_id)
        frame = tx.fetch_frame(
            "SELECT prospect_id, tier, country, title, batch_id, tags FROM prospects"
            " WHERE NOT archived AND stage = 'enriched' AND email_status IN (?, ?) ORDER BY prospect_id",
            list(RULE_ELIGIBLE_EMAIL_STATUS),
        )
        added: dict[str, str | None] = {}
        for row in frame.iter_rows(named=True):
            row["tags"] = parse_tags(row["tags"])
            if row["prospect_id"] not in members and campaign.audience.matches(row):
                added[row["prospect_id"]] = campaign.assign_variant(row["prospect_id"])
        tx.execute_many(
            "INSERT INTO campaign_members (campaign_id, prospect_id, variant, source) VALUES (?, ?, ?, 'rule')",
            [(campaign_id, prospect_id, variant) for prospect_id, variant in added.items()],
        )
        _record(
            tx,
            "campaign_member_added",
            f"added to campaign {campaign_id} by its audience rules",
            list(added.items()),
            campaign_id=campaign_id,
            source="rule",
            actor=actor,
        )
        return MembershipChange(added=added)

    return store.run(assign)


def assign_manually(
    store: CrmStore, campaign_id: str, prospect_ids: Sequence[str], *, actor: str = "operator"
) -> MembershipChange:
    """Put these prospects in the campaign (back in, if they were removed); unknown or archived ids are an error."""

    def assign(tx: Tx) -> MembershipChange:
        campaign = _lock_membership(tx, campaign_id)
        _require_active_prospects(tx, prospect_ids)
        members = _memberships(tx, campaign_id)
        change = MembershipChange()
        for prospect_id in dict.fromkeys(prospect_ids):
            if members.get(prospect_id):
                change.unchanged.append(prospect_id)
                continue
            variant = campaign.assign_variant(prospect_id)
            if prospect_id in members:
                tx.execute(
                    "UPDATE campaign_members SET removed_at = NULL, source = 'manual', variant = ?,"
                    " added_at = now() WHERE campaign_id = ? AND prospect_id = ?",
                    [variant, campaign_id, prospect_id],
                )
            else:
                tx.execute(
                    "INSERT INTO campaign_members (campaign_id, prospect_id, variant, source)"
                    " VALUES (?, ?, ?, 'manual')",
                    [campaign_id, prospect_id, variant],
                )
            change.added[prospect_id] = variant
        _record(
            tx,
            "campaign_member_added",
            f"added to campaign {campaign_id} by {actor}",
            list(change.added.items()),
            campaign_id=campaign_id,
            source="manual",
            actor=actor,
        )
        return change

    return store.run(assign)


def remove_manually(
    store: CrmStore, campaign_id: str, prospect_ids: Sequence[str], *, actor: str = "operator"
) -> MembershipChange:
    """Take these prospects out of the campaign for good (rules will not re-add them); non-members are left alone."""

    def remove(tx: Tx) -> MembershipChange:
        _lock_membership(tx, campaign_id)
        members = _memberships(tx, campaign_id)
        change = MembershipChange()
        for prospect_id in dict.fromkeys(prospect_ids):
            (change.removed if members.get(prospect_id) else change.unchanged).append(prospect_id)
        tx.execute_many(
            "UPDATE campaign_members SET removed_at = now() WHERE campaign_id = ? AND prospect_id = ?",
            [(campaign_id, prospect_id) for prospect_id in change.removed],
        )
        _record(
            tx,
            "campaign_member_removed",
            f"removed from campaign {campaign_id} by {actor}",
            [(prospect_id, None) for prospect_id in change.removed],
            campaign_id=campaign_id,
            source="manual",
            actor=actor,
        )
        return change

    return store.run(remove)


def _require_active_prospects(tx: Tx, prospect_ids: Sequence[str]) -> None:
    if not prospect_ids:
        raise StoreError("no prospect ids given")
    marks = ", ".join("?" for _ in prospect_ids)
    found = {
        row[0]
        for row in tx.fetch_all(
            f"SELECT prospect_id FROM prospects WHERE NOT archived AND prospect_id IN ({marks})", list(prospect_ids)
        )
    }
    missing = sorted(set(prospect_ids) - found)
    if missing:
        raise StoreError(f"no active prospect with id: {', '.join(missing)}")


def list_campaigns(store: CrmStore) -> list[dict[str, Any]]:
    """Each loaded campaign with its current and removed member counts, for ``jengu campaign list``."""
    frame = store.query(
        "SELECT c.campaign_id, c.name, c.status, c.starts_on, c.ends_on, c.source_file,"
        " count(m.prospect_id) FILTER (WHERE m.removed_at IS NULL) AS members,"
        " count(m.prospect_id) FILTER (WHERE m.removed_at IS NOT NULL) AS removed,"
        " c.status_changed_by, c.status_reason"
        " FROM campaigns c LEFT JOIN campaign_members m ON m.campaign_id = c.campaign_id"
        " GROUP BY c.campaign_id, c.name, c.status, c.starts_on, c.ends_on, c.source_file, c.status_changed_by,"
        " c.status_reason ORDER BY c.campaign_id"
    )
    return frame.to_dicts()
