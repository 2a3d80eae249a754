"""The messages asset end to end on both backends: import, enrich, compose against the SANDBOX, then approval."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from click.testing import CliRunner
from world_batches import write_batch

from jengu_pipeline.assets.compose import messages, messages_cleared_pass_gate
from jengu_pipeline.assets.emails import email_verifications
from jengu_pipeline.assets.enrich import websites
from jengu_pipeline.assets.ingest import prospects_and_rejects, raw_prospects
from jengu_pipeline.batch_files import stage_file
from jengu_pipeline.cli import main
from jengu_pipeline.demo import SANDBOX_CAMPAIGNS
from jengu_pipeline.jobs.messages import message_approval_job
from jengu_pipeline.partitions import PROSPECT_BATCHES
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.sandbox import Sandbox
from jengu_pipeline.sandbox.web import INJECTION_DOMAIN
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.campaigns import load_campaigns

PIPELINE = [raw_prospects, prospects_and_rejects, websites, email_verifications, messages, messages_cleared_pass_gate]
HOSTILE, FRIENDLY = "hotel-cedre.test", "bjork-kobenhavn.example"


def campaign_folder(tmp_path: Path, *, requires_approval: bool = False) -> Path:
    folder = tmp_path / "campaigns"
    folder.mkdir(exist_ok=True)
    source = SANDBOX_CAMPAIGNS / "sandbox-intro.yaml"
    text = source.read_text(encoding="utf-8") + (f"requires_approval: {str(requires_approval).lower()}\n")
    (folder / source.name).write_text(text, encoding="utf-8")
    return folder


def compose_batch(
    sandbox: Sandbox,
    tmp_path: Path,
    *,
    requires_approval: bool = False,
) -> tuple[CrmStore, dg.DagsterInstance, str]:
    """Load the campaign, then import, enrich and compose three people at a hostile and a friendly hotel."""
    store = open_store(get_settings().store_url)
    load_campaigns(store, campaign_folder(tmp_path, requires_approval=requires_approval))
    instance = dg.DagsterInstance.ephemeral()
    hotels = [sandbox.world.hotel(HOSTILE), sandbox.world.hotel(FRIENDLY)]
    source = write_batch(tmp_path / "batch.csv", [(hotel, range(3)) for hotel in hotels if hotel])
    key = stage_file(source, get_settings().home).key
    instance.add_dynamic_partitions(PROSPECT_BATCHES, [key])
    result = dg.materialize(PIPELINE, instance=instance, partition_key=key, resources=resources())
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    return store, instance, key


def rows(store: CrmStore, sql: str, params: list[object] | None = None) -> list[dict[str, object]]:
    return store.query(sql, params or []).to_dicts()


def test_members_get_a_queued_message_and_hostile_sites_never_reach_one(sandbox_env: Sandbox, tmp_path: Path) -> None:
    store, instance, key = compose_batch(sandbox_env, tmp_path)
    written = rows(store, "SELECT m.*, p.email, p.website FROM messages m JOIN prospects p USING (prospect_id)")
    enriched = store.query("SELECT count(*) AS n FROM prospects WHERE stage = 'enriched'")["n"][0]
    assert len(written) == enriched > 0
    assert {row["status"] for row in written} == {"queued"}
    for row in written:
        body = str(row["body"])
        assert INJECTION_DOMAIN not in body
        assert "Mr Smith" not in body
        attempts = json.loads(str(row["attempts"])) if isinstance(row["attempts"], str) else row["attempts"]
        if HOSTILE in str(row["website"]):
            assert [a["outcome"] for a in attempts] == ["gate_failed", "gate_failed", "written"]
            assert row["provider"] == "template"
        else:
            assert [(a["writer"], a["outcome"]) for a in attempts] == [("xai", "written")]
            assert str(row["prompt_version"]).startswith("first_touch_v1@")
    assert any(HOSTILE in str(row["website"]) for row in written)

    event = instance.get_latest_materialization_event(dg.AssetKey("messages"))
    assert event is not None
    assert event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    assert metadata["queued"].value == len(written)
    assert metadata["gate_failures_by_rule"].value  # the hostile drafts' reasons are shown

    members = dict(store.query("SELECT prospect_id, variant FROM campaign_members").rows())
    assert {row["prospect_id"]: row["variant"] for row in written} == {p: members[p] for p in members}
    paid_before = sandbox_env.stats()["providers"]["openai"]["paid"]
    again = dg.materialize([messages], instance=instance, partition_key=key, resources=resources())
    assert again.success
    rewritten = rows(store, "SELECT message_id, variant, subject, body FROM messages ORDER BY message_id")
    assert rewritten == [
        {k: row[k] for k in ("message_id", "variant", "subject", "body")}
        for row in sorted(written, key=lambda r: str(r["message_id"]))
    ]
    assert sandbox_env.stats()["providers"]["openai"]["paid"] == paid_before  # answers came from the cache


def test_approval_holds_messages_until_a_person_approves(sandbox_env: Sandbox, tmp_path: Path) -> None:
    store, instance, key = compose_batch(sandbox_env, tmp_path, requires_approval=True)
    waiting = [
        row[0]
        for row in store.query(
            "SELECT message_id FROM messages WHERE status = 'awaiting_approval' ORDER BY message_id"
        ).rows()
    ]
    assert len(waiting) >= 2
    assert store.count("messages") == len(waiting)

    cli = CliRunner().invoke(main, ["messages", "approve", waiting[0], "--as", "ops@jengu.example", "--json"])
    assert cli.exit_code == 0, cli.output
    assert json.loads(cli.output.strip().splitlines()[-1]) == {"approved": [waiting[0]]}
    refused = CliRunner().invoke(main, ["messages", "approve", waiting[0]])
    assert refused.exit_code == 1
    assert "not awaiting approval" in refused.output

    job = message_approval_job.execute_in_process(
        run_config={
            "ops": {"approve_messages": {"config": {"campaign": "sandbox-intro", "approved_by": "lead@jengu.example"}}}
        },
        resources={"store": resources()["store"]},
        instance=instance,
    )
    assert job.success
    approved = dict(store.query("SELECT message_id, approved_by FROM messages WHERE status = 'queued'").rows())
    assert set(approved) == set(waiting)
    assert approved[waiting[0]] == "ops@jengu.example"
    assert all(
        str(by).startswith("lead@jengu.example (dagster run") for mid, by in approved.items() if mid != waiting[0]
    )
    activities = store.query("SELECT count(*) AS n FROM activities WHERE type = 'message_approved'")["n"][0]
    assert activities == len(waiting)

    again = dg.materialize([messages], instance=instance, partition_key=key, resources=resources())
    assert again.success  # approved messages are history: a re-run keeps them as they were
    kept = dict(store.query("SELECT message_id, approved_by FROM messages").rows())
    assert kept == approved


def test_a_hand_edited_queued_message_fails_the_check(sandbox_env: Sandbox, tmp_path: Path) -> None:
    store, *_ = compose_batch(sandbox_env, tmp_path)
    store.run(
        lambda tx: tx.execute(
            "UPDATE messages SET body = body || ' Book now at https://cheap-rooms.example/deal' WHERE message_id ="
            " (SELECT min(message_id) FROM messages)"
        )
    )
    evaluation = messages_cleared_pass_gate(store=resources()["store"])
    assert not evaluation.passed
    assert evaluation.metadata["violations"].value == 1
    assert evaluation.metadata["examples"].value.popitem()[1] == ["link_not_allowed"]
