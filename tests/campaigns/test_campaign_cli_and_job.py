"""`jengu campaign` round trip and the Dagster membership job, on both store backends."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jengu_pipeline.cli import main
from jengu_pipeline.definitions import defs
from jengu_pipeline.domain.campaigns import assign_variant
from jengu_pipeline.instance import PROJECT_ROOT
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, Tx, open_store

CAMPAIGN = "spring-boutique"
ARMS = [("short-intro", 1.0), ("case-study", 1.0)]


def add_prospect(store: CrmStore, prospect_id: str, country: str) -> None:
    def insert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES ('b1', 'b1', 'f.csv', 'h')"
            " ON CONFLICT DO NOTHING"
        )
        tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [prospect_id])
        tx.execute(
            "INSERT INTO prospects (prospect_id, batch_id, title, email, active_email, country, tier, stage,"
            " email_status) VALUES (?, 'b1', 'Hotel Manager', ?, ?, ?, 'hot', 'enriched', 'ok')",
            [prospect_id, f"{prospect_id}@hotel.test", f"{prospect_id}@hotel.test", country],
        )

    store.run(insert)


def jengu(*args: str) -> Result:
    return CliRunner().invoke(main, ["campaign", *args], catch_exceptions=False)


def last_json(result: Result) -> dict[str, object]:
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


@pytest.fixture
def crm(jengu_env: Path, tmp_path: Path) -> CrmStore:
    """The configured store with three prospects (two in the example campaign's countries) and its folder."""
    shutil.copytree(PROJECT_ROOT / "campaigns", tmp_path / "campaigns")
    store = open_store(get_settings().store_url)
    for prospect_id, country in (("dk-1", "DK"), ("no-1", "NO"), ("fr-1", "FR")):
        add_prospect(store, prospect_id, country)
    return store


def test_cli_round_trip(crm: CrmStore, tmp_path: Path) -> None:
    folder = str(tmp_path / "campaigns")
    assert last_json(jengu("load", "--dir", folder, "--json")) == {"added": [CAMPAIGN], "updated": [], "unchanged": []}
    assert last_json(jengu("load", "--dir", folder, "--json"))["unchanged"] == [CAMPAIGN]

    by_rules = last_json(jengu("assign", CAMPAIGN, "--json"))
    assert by_rules["added"] == {p: assign_variant(CAMPAIGN, p, ARMS) for p in ("dk-1", "no-1")}

    removed = jengu("remove", CAMPAIGN, "dk-1")
    assert removed.exit_code == 0, removed.output
    assert "removed dk-1" in removed.output
    assert last_json(jengu("assign", CAMPAIGN, "--json"))["added"] == {}
    assert list(last_json(jengu("assign", CAMPAIGN, "fr-1", "--json"))["added"]) == ["fr-1"]

    listed = last_json(jengu("list", "--json"))["campaigns"]
    assert [(c["campaign_id"], c["status"], c["members"], c["removed"]) for c in listed] == [(CAMPAIGN, "draft", 2, 1)]
    kinds = crm.query(
        "SELECT type, count(*) AS n FROM activities WHERE prospect_id IS NOT NULL GROUP BY type ORDER BY type"
    ).rows()
    assert kinds == [("campaign_member_added", 3), ("campaign_member_removed", 1)]


def test_cli_errors_are_one_clean_line(crm: CrmStore, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "spring.yaml").write_text("name: spring\nstatus: [draft\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["campaign", "load", "--dir", str(bad)])
    assert result.exit_code == 1
    assert f"Error: {bad / 'spring.yaml'}: line " in result.output
    assert "Traceback" not in result.output
    unknown = CliRunner().invoke(main, ["campaign", "assign", "nope"])
    assert unknown.exit_code == 1
    assert "campaign 'nope' is not loaded" in unknown.output
    assert crm.count("campaigns") == 0


def test_membership_job_with_run_config(crm: CrmStore, tmp_path: Path) -> None:
    assert last_json(jengu("load", "--dir", str(tmp_path / "campaigns"), "--json"))["added"] == [CAMPAIGN]
    job = defs.resolve_job_def("campaign_membership_job")
    config = {
        "ops": {
            "change_campaign_membership": {
                "config": {"campaign": CAMPAIGN, "add": ["fr-1", "dk-1"], "remove": ["dk-1"]}
            }
        }
    }
    result = job.execute_in_process(run_config=config)
    assert result.success
    members = crm.query(
        "SELECT prospect_id, source, removed_at IS NULL AS active FROM campaign_members ORDER BY prospect_id"
    ).rows()
    assert members == [("dk-1", "manual", False), ("fr-1", "manual", True)]
    actors = crm.query(
        "SELECT DISTINCT CAST(metadata AS VARCHAR) AS m FROM activities WHERE type LIKE 'campaign_member%'"
    )
    assert {json.loads(m)["actor"] for m in actors["m"]} == {f"dagster run {result.run_id}"}

    rules = job.execute_in_process(
        run_config={"ops": {"change_campaign_membership": {"config": {"campaign": CAMPAIGN, "by_rules": True}}}}
    )
    assert rules.success
    assert crm.query("SELECT prospect_id FROM campaign_members WHERE removed_at IS NULL ORDER BY 1")[
        "prospect_id"
    ].to_list() == ["fr-1", "no-1"]
