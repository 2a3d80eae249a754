"""Campaigns in the store on both backends: idempotent load, rule assignment, manual changes as activities."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jengu_pipeline.domain.campaigns import CampaignFileError, assign_variant
from jengu_pipeline.store import CrmStore, StoreError, Tx
from jengu_pipeline.store.campaigns import (
    assign_by_rules,
    assign_manually,
    list_campaigns,
    load_campaigns,
    parse_tags,
    remove_manually,
)

CAMPAIGN = """\
name: nordics
status: active
starts_on: 2027-03-01
ends_on: 2027-05-31
audience:
  tiers: [hot, warm]
  countries: [DK, NO]
  title_keywords: [manager, owner]
sender:
  sender_name: Mia
  sender_email: mia@jengu.test
  postal_address: 1 Example Street, Nowhere
  unsubscribe_text: Reply stop to opt out.
steps:
  - delay_days: 0
    prompt: first_touch_v1
variants:
  - {name: a, weight: 1}
  - {name: b, weight: 1}
"""


def add_prospect(
    store: CrmStore,
    prospect_id: str,
    *,
    tier: str = "hot",
    country: str = "DK",
    title: str = "General Manager",
    stage: str = "enriched",
    email_status: str | None = "ok",
    batch_id: str = "b1",
    tags: list[str] | None = None,
) -> None:
    def insert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, 'f.csv', ?)"
            " ON CONFLICT DO NOTHING",
            [batch_id, batch_id, f"hash-{batch_id}"],
        )
        tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [prospect_id])
        email = f"{prospect_id}@hotel.test"
        tx.execute(
            "INSERT INTO prospects (prospect_id, batch_id, first_name, title, email, active_email, country,"
            " tier, stage, email_status, tags) VALUES (?, ?, 'Zoë', ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                prospect_id,
                batch_id,
                title,
                email,
                email,
                country,
                tier,
                stage,
                email_status,
                json.dumps(tags) if tags is not None else None,
            ],
        )

    store.run(insert)


def write_campaign(folder: Path, text: str = CAMPAIGN, name: str = "nordics") -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return folder


def members(store: CrmStore, campaign: str = "nordics") -> dict[str, tuple[str | None, str, bool]]:
    rows = store.query(
        "SELECT prospect_id, variant, source, removed_at IS NULL AS active FROM campaign_members WHERE campaign_id = ?",
        [campaign],
    ).rows()
    return {prospect_id: (variant, source, active) for prospect_id, variant, source, active in rows}


def activities(store: CrmStore, type_: str) -> list[tuple[str, dict[str, object]]]:
    rows = store.query(
        "SELECT prospect_id, CAST(metadata AS VARCHAR) FROM activities WHERE type = ? ORDER BY activity_id", [type_]
    ).rows()
    return [(prospect_id, json.loads(metadata)) for prospect_id, metadata in rows]


def test_load_is_idempotent_and_picks_up_changes(store: CrmStore, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "campaigns")
    first = load_campaigns(store, folder)
    assert (first.added, first.updated, first.unchanged) == (["nordics"], [], [])
    again = load_campaigns(store, folder)
    assert (again.added, again.updated, again.unchanged) == ([], [], ["nordics"])
    assert store.count("campaigns") == 1
    assert len(activities(store, "campaign_loaded")) == 1

    write_campaign(folder, CAMPAIGN.replace("status: active", "status: paused"))
    changed = load_campaigns(store, folder)
    assert changed.updated == ["nordics"]
    row = store.query("SELECT status, CAST(definition AS VARCHAR) AS d FROM campaigns").row(0, named=True)
    assert row["status"] == "paused"
    assert json.loads(row["d"])["status"] == "paused"


def test_an_invalid_file_loads_nothing(store: CrmStore, tmp_path: Path) -> None:
    folder = write_campaign(tmp_path / "campaigns")
    write_campaign(
        folder,
        CAMPAIGN.replace("name: nordics", "name: broken").replace("delay_days: 0", "delay_days: -1"),
        name="broken",
    )
    with pytest.raises(CampaignFileError, match=r"broken\.yaml: line \d+: steps\.0\.delay_days"):
        load_campaigns(store, folder)
    assert store.count("campaigns") == 0


def test_rules_pick_eligible_matching_prospects_with_their_arm(store: CrmStore, tmp_path: Path) -> None:
    add_prospect(store, "match-1")
    add_prospect(store, "match-2", tier="warm", country="NO", title="Owner", email_status="risky")
    add_prospect(store, "cold", tier="cold")
    add_prospect(store, "swede", country="SE")
    add_prospect(store, "receptionist", title="Receptionist")
    add_prospect(store, "not-enriched", stage="new", email_status=None)
    add_prospect(store, "bad-address", email_status="invalid")
    add_prospect(store, "archived")
    store.archive_prospect("archived", "left the hotel")
    load_campaigns(store, write_campaign(tmp_path / "campaigns"))

    change = assign_by_rules(store, "nordics")
    assert change.added == {p: assign_variant("nordics", p, [("a", 1), ("b", 1)]) for p in ("match-1", "match-2")}
    assert members(store) == {p: (change.added[p], "rule", True) for p in ("match-1", "match-2")}
    assert [p for p, _ in activities(store, "campaign_member_added")] == ["match-1", "match-2"]
    assert activities(store, "campaign_member_added")[0][1]["source"] == "rule"

    assert assign_by_rules(store, "nordics").added == {}
    assert len(activities(store, "campaign_member_added")) == 2


def test_tags_and_batches_are_audience_rules(store: CrmStore, tmp_path: Path) -> None:
    add_prospect(store, "spa-b2", tags=["spa", "boutique"], batch_id="b2")
    add_prospect(store, "spa-b1", tags=["spa"], batch_id="b1")
    add_prospect(store, "untagged-b2", batch_id="b2")
    add_prospect(store, "typed-by-hand-b2", batch_id="b2")
    store.run(lambda tx: tx.execute("UPDATE prospects SET tags = 'city, SPA' WHERE prospect_id = 'typed-by-hand-b2'"))
    text = CAMPAIGN.replace("  title_keywords: [manager, owner]", "  tags: [Spa]\n  batch_ids: [b2]")
    load_campaigns(store, write_campaign(tmp_path / "campaigns", text))
    assert list(assign_by_rules(store, "nordics").added) == ["spa-b2", "typed-by-hand-b2"]


def test_manual_changes_are_activities_and_removed_members_stay_out(store: CrmStore, tmp_path: Path) -> None:
    add_prospect(store, "p1")
    add_prospect(store, "p2")
    add_prospect(store, "picked-by-hand", country="SE", stage="new", email_status=None)
    load_campaigns(store, write_campaign(tmp_path / "campaigns"))
    assign_by_rules(store, "nordics")

    removed = remove_manually(store, "nordics", ["p1", "not-a-member"], actor="alice")
    assert (removed.removed, removed.unchanged) == (["p1"], ["not-a-member"])
    assert members(store)["p1"][2] is False
    assert assign_by_rules(store, "nordics").added == {}
    assert members(store)["p1"][2] is False

    added = assign_manually(store, "nordics", ["picked-by-hand", "p2"], actor="alice")
    assert (list(added.added), added.unchanged) == (["picked-by-hand"], ["p2"])
    assert members(store)["picked-by-hand"] == (
        assign_variant("nordics", "picked-by-hand", [("a", 1), ("b", 1)]),
        "manual",
        True,
    )
    back = assign_manually(store, "nordics", ["p1"], actor="bob")
    assert list(back.added) == ["p1"]
    assert members(store)["p1"][1:] == ("manual", True)

    history = [(p, meta["source"], meta["actor"]) for p, meta in activities(store, "campaign_member_removed")]
    assert history == [("p1", "manual", "alice")]
    manual = [
        (p, meta["actor"]) for p, meta in activities(store, "campaign_member_added") if meta["source"] == "manual"
    ]
    assert manual == [("picked-by-hand", "alice"), ("p1", "bob")]
    assert [c["members"] for c in list_campaigns(store)] == [3]
    assert [c["removed"] for c in list_campaigns(store)] == [0]


def test_unknown_campaigns_and_prospects_are_clear_errors(store: CrmStore, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="'nordics' is not loaded"):
        assign_by_rules(store, "nordics")
    load_campaigns(store, write_campaign(tmp_path / "campaigns"))
    with pytest.raises(StoreError, match="no active prospect with id: ghost"):
        assign_manually(store, "nordics", ["ghost"])
    assert store.count("campaign_members") == 0
    write_campaign(tmp_path / "campaigns", CAMPAIGN.replace("status: active", "status: completed"))
    load_campaigns(store, tmp_path / "campaigns")
    with pytest.raises(StoreError, match="completed"):
        assign_by_rules(store, "nordics")


def test_tags_read_json_arrays_and_comma_lists() -> None:
    assert parse_tags('["spa", " golf "]') == ["spa", "golf"]
    assert parse_tags("spa, golf,") == ["spa", "golf"]
    assert parse_tags('"spa"') == ["spa"]
    assert parse_tags(None) == []


def test_deleting_a_prospect_removes_its_memberships(store: CrmStore, tmp_path: Path) -> None:
    add_prospect(store, "p1")
    load_campaigns(store, write_campaign(tmp_path / "campaigns"))
    assign_by_rules(store, "nordics")
    store.delete_prospect("p1")
    assert store.count("campaign_members") == 0
