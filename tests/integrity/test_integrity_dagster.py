"""The daily integrity job on an ephemeral instance, on both backends: it repairs, records every rule, and its
checks on the concerned assets report what is left for a person."""

from __future__ import annotations

import dagster as dg
from integrity_seeds import NOW, SEEDS, baseline, seed

from jengu_pipeline.assets.integrity import CHECK_NAMES, FINDINGS_ASSET, PIPELINE_ASSETS
from jengu_pipeline.clock import running_at
from jengu_pipeline.definitions import defs
from jengu_pipeline.domain.integrity import RULES, RULES_BY_NAME
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.store import CrmStore


def _run(store_url: str, **config: object) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def("integrity_job")
    with running_at(NOW):
        return job.execute_in_process(
            instance=dg.DagsterInstance.ephemeral(),
            resources={"store": CrmStoreResource(url=store_url)},
            run_config={"ops": {FINDINGS_ASSET: {"config": config}}} if config else None,
        )


def test_integrity_job_repairs_then_checks_report_what_needs_a_person(store: CrmStore, store_url: str) -> None:
    seed(store, baseline, *(breaker for breaker, _, _ in SEEDS.values()))
    result = _run(store_url)
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == set(CHECK_NAMES.values())
    for rule in RULES:
        evaluation = evaluations[CHECK_NAMES[rule.name]]
        assert evaluation.passed == rule.repairable, rule.name
        assert evaluation.metadata["count"].value == (0 if rule.repairable else SEEDS[rule.name][1])
        assert evaluation.severity.value == rule.severity.upper()
    metadata = result.asset_materializations_for_node(FINDINGS_ASSET)[0].metadata
    assert metadata["found"].value == {rule: expected for rule, (_, expected, _) in SEEDS.items()}
    assert set(metadata["repaired"].value) == {rule.name for rule in RULES if rule.repairable}
    rows = store.query("SELECT rule, found, repaired, mode FROM integrity_findings")
    assert rows.height == len(RULES)
    assert set(rows["mode"]) == {"repair"}

    again = _run(store_url)
    metadata = again.asset_materializations_for_node(FINDINGS_ASSET)[0].metadata
    assert metadata["repaired"].value == {}
    assert {e.check_name for e in again.get_asset_check_evaluations() if not e.passed} == {
        CHECK_NAMES[rule.name] for rule in RULES if not rule.repairable
    }


def test_a_dry_run_from_the_launchpad_changes_nothing(store: CrmStore, store_url: str) -> None:
    seed(store, baseline, SEEDS["stale_new_prospects"][0], SEEDS["expired_leases"][0])
    result = _run(store_url, dry_run=True)
    assert result.success
    metadata = result.asset_materializations_for_node(FINDINGS_ASSET)[0].metadata
    assert metadata["repaired"].value == {}
    assert store.query("SELECT archived FROM prospects WHERE prospect_id = 'p_old'").item() is False
    assert store.query("SELECT count(*) FROM enrichment_leases").item() == 2
    assert set(store.query("SELECT mode FROM integrity_findings")["mode"]) == {"dry_run"}


def test_each_check_sits_on_the_asset_its_rule_concerns_when_the_definitions_have_it() -> None:
    graph = defs.resolve_asset_graph()
    materialisable = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).is_materializable}
    assert {rule.table for rule in RULES} & materialisable == set(PIPELINE_ASSETS) & {rule.table for rule in RULES}
    on = {key.name: key.asset_key.to_user_string() for key in graph.asset_check_keys}
    for rule in RULES:
        expected = rule.table if rule.table in materialisable else FINDINGS_ASSET
        assert on[CHECK_NAMES[rule.name]] == expected, rule.name
    schedule = defs.resolve_schedule_def("integrity_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.execution_timezone
    for job in ("ingest_job", "prospect_batch_job"):  # the daily checks do not slow every batch down
        nodes = {node.name for node in defs.resolve_job_def(job).nodes}
        assert not any(name.endswith(tuple(CHECK_NAMES.values())) for name in nodes), job
    assert RULES_BY_NAME["unknown_sends"].table in materialisable
