"""A campaign's lifecycle on both backends: `jengu campaign pause|resume|complete`, the Dagster job, a reload
of the file keeping what an operator decided, starts_on, daily_new_prospects, and the health guard pausing a
campaign by itself (and alerting) from a real sending tick."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml
from click.testing import CliRunner, Result
from smtp_faults import FaultySmtpServer

from jengu_pipeline.cli import main
from jengu_pipeline.definitions import defs
from jengu_pipeline.domain.campaigns import CampaignFileError, parse_campaign
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.campaigns import load_campaigns
from tests.sequences.conftest import (
    CAMPAIGN,
    DUE,
    INBOX,
    SANDBOX_CAMPAIGN,
    ManualClock,
    campaign_folder,
    inbox_config,
    queue_first_touches,
    reply,
    seed_threads,
    sender,
    write_follow_ups,
)


def campaign_cli(*args: str) -> Result:
    return CliRunner().invoke(main, ["campaign", *args], catch_exceptions=False)


def status(store: CrmStore) -> tuple[str, str | None]:
    row = store.run(lambda tx: tx.fetch_one("SELECT status, status_changed_by FROM campaigns"))
    assert row is not None
    return row[0], row[1]


@pytest.fixture
def configured(jengu_env: Path, tmp_path: Path) -> tuple[CrmStore, Path]:
    """The configured store (DuckDB or PostgreSQL) with the SANDBOX campaign loaded from a folder of its own."""
    folder = campaign_folder(tmp_path)
    store = open_store(get_settings().store_url)
    load_campaigns(store, folder)
    return store, folder


def test_pause_resume_complete_from_the_command_line(configured: tuple[CrmStore, Path]) -> None:
    store, _ = configured
    paused = campaign_cli("pause", CAMPAIGN, "--reason", "copy review", "--json")
    assert paused.exit_code == 0, paused.output
    assert json.loads(paused.output.splitlines()[-1]) == {
        "campaign": CAMPAIGN,
        "from": "active",
        "to": "paused",
        "sequences_stopped": 0,
    }
    assert status(store) == ("paused", "cli")
    assert f"{CAMPAIGN}  paused by cli: copy review  " in campaign_cli("list").output
    again = campaign_cli("pause", CAMPAIGN)
    assert again.exit_code == 1
    assert again.output.strip() == (
        f"Error: campaign {CAMPAIGN}: the campaign is paused: only an active campaign can be paused"
    )
    resumed = campaign_cli("resume", CAMPAIGN)
    assert (resumed.exit_code, resumed.output.strip()) == (0, f"{CAMPAIGN}: paused -> active")
    seed_threads(store, 2)
    completed = campaign_cli("complete", CAMPAIGN)
    assert completed.output.strip() == f"{CAMPAIGN}: active -> completed; 2 running sequences stopped"
    assert campaign_cli("resume", CAMPAIGN).exit_code == 1
    unknown = campaign_cli("pause", "no-such-campaign")
    assert unknown.exit_code == 1
    assert "not loaded" in unknown.output
    kinds = store.query(
        "SELECT type, count(*) AS n FROM activities WHERE type LIKE 'campaign_%' AND type <> 'campaign_loaded'"
        " GROUP BY type ORDER BY type"
    ).rows()
    assert kinds == [("campaign_completed", 1), ("campaign_paused", 1), ("campaign_resumed", 1)]


def test_reloading_the_file_keeps_what_an_operator_decided(configured: tuple[CrmStore, Path]) -> None:
    store, folder = configured
    campaign_cli("pause", CAMPAIGN)
    path = folder / SANDBOX_CAMPAIGN.name
    path.write_text(path.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert load_campaigns(store, folder).updated == [CAMPAIGN]
    assert status(store) == ("paused", "cli"), "a reload does not resume a paused campaign"
    campaign_cli("complete", CAMPAIGN)
    path.write_text(path.read_text(encoding="utf-8") + "# again\n", encoding="utf-8")
    load_campaigns(store, folder)
    assert status(store)[0] == "completed", "nor reopen a completed one"
    assign = campaign_cli("assign", CAMPAIGN)
    assert assign.exit_code == 1
    assert "completed" in assign.output


def test_the_dagster_job_changes_the_status_and_fails_on_a_refused_change(configured: tuple[CrmStore, Path]) -> None:
    store, _ = configured
    job = defs.resolve_job_def("campaign_lifecycle_job")
    config = {"campaign": CAMPAIGN, "action": "pause", "actor": "ops@jengu.example", "reason": "bounces"}
    run_config = {"ops": {"change_campaign_status": {"config": config}}}
    instance = dg.DagsterInstance.ephemeral()
    result = job.execute_in_process(run_config=run_config, instance=instance, resources=resources())
    assert result.success
    assert status(store)[0] == "paused"
    refused = job.execute_in_process(
        run_config=run_config, instance=instance, resources=resources(), raise_on_error=False
    )
    assert not refused.success
    assert status(store)[0] == "paused"


def test_daily_new_prospects_caps_first_touches_per_sending_day(
    store: CrmStore, smtp: FaultySmtpServer, tmp_path: Path
) -> None:
    load_campaigns(store, campaign_folder(tmp_path, daily_new_prospects=3))
    seed_threads(store, 2)  # follow-ups are not new prospects: they are not counted
    write_follow_ups(store, until=DUE + timedelta(seconds=1))
    queue_first_touches(store, 7)
    config = inbox_config(store, smtp.port, INBOX)
    first = sender(store, config, ManualClock(DUE)).tick()
    assert first.sent_by_step == {2: 2, 1: 3}
    assert first.skipped["campaign_daily_new_prospects"] == 4
    assert sender(store, config, ManualClock(DUE + timedelta(hours=2))).tick().sent == 0, "the day's three are used"
    assert sender(store, config, ManualClock(DUE + timedelta(days=1))).tick().sent_by_step == {1: 3}


def test_a_campaign_sends_nothing_before_it_starts(store: CrmStore, smtp: FaultySmtpServer, tmp_path: Path) -> None:
    load_campaigns(store, campaign_folder(tmp_path, starts_on=(DUE + timedelta(days=1)).date().isoformat()))
    queue_first_touches(store, 2)
    config = inbox_config(store, smtp.port, INBOX)
    assert sender(store, config, ManualClock(DUE)).tick().planned == 0
    assert sender(store, config, ManualClock(DUE + timedelta(days=1))).tick().sent == 2


def test_the_health_guard_pauses_a_campaign_whose_first_touches_draw_too_many_unsubscribes(
    store: CrmStore, smtp: FaultySmtpServer, tmp_path: Path
) -> None:
    load_campaigns(store, campaign_folder(tmp_path, health={"max_negative_share": 0.15}))
    threads = seed_threads(store, 20)
    for thread in threads[:3]:
        reply(store, thread, "unsubscribe", DUE - timedelta(hours=2))  # 15 %: not over the line yet
    queue_first_touches(store, 2)
    config = inbox_config(store, smtp.port, INBOX)
    alerts: list[str] = []
    assert sender(store, config, ManualClock(DUE - timedelta(hours=1)), alerts).tick().sent == 2
    assert not alerts
    reply(store, threads[3], "not_interested", DUE - timedelta(minutes=30))  # 4 of the first 20: 20 %
    queue_first_touches(store, 2)
    report = sender(store, config, ManualClock(DUE), alerts).tick()
    assert report.paused_campaigns == [CAMPAIGN]
    assert report.sent == 0, "paused before planning: nothing more goes out"
    assert status(store) == ("paused", "health guard")
    (alert,) = alerts
    assert f"campaign {CAMPAIGN} paused itself" in alert
    assert "unsubscribes and not-interested replies from its first 22 prospects" in alert
    assert f"jengu campaign resume {CAMPAIGN}" in alert


def test_the_health_guard_pauses_a_campaign_on_hard_bounces_at_the_inbox_rule(
    store: CrmStore, smtp: FaultySmtpServer, tmp_path: Path
) -> None:
    load_campaigns(store, campaign_folder(tmp_path))
    seed_threads(store, 25)
    emails = queue_first_touches(store, 3)
    smtp.script(emails[0], ["550 5.1.1 no such user"])
    config = inbox_config(store, smtp.port, INBOX, bounce_min_sends=20)
    alerts: list[str] = []
    report = sender(store, config, ManualClock(DUE), alerts).tick()
    assert report.paused_campaigns == [CAMPAIGN], alerts
    assert report.outcomes["bounced"] == 1
    assert any(re.search(r"campaign .* paused itself: 1 hard bounces in its last 2\d sends", a) for a in alerts)
    assert status(store) == ("paused", "health guard")


def test_a_campaign_file_with_a_bad_health_rule_names_the_field(tmp_path: Path) -> None:
    data = yaml.safe_load(SANDBOX_CAMPAIGN.read_text(encoding="utf-8"))
    data["health"] = {"first_sends": 10, "min_first_sends": 20}
    with pytest.raises(
        CampaignFileError, match=r"sandbox-intro.yaml: line \d+: health: min_first_sends \(20\) exceeds"
    ):
        parse_campaign(yaml.safe_dump(data), "sandbox-intro.yaml")
