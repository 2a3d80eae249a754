"""The warehouse as Dagster assets on an ephemeral instance, over a seeded store on DuckDB and PostgreSQL: the run
publishes the file, reports each table's rows and a preview without personal data, and its checks reconcile with
the store; the automation rebuilds it after a sending run and every morning, and not again without a reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from jengu_pipeline.assets.warehouse import (
    CHECK_SPECS,
    CRM_SIDE_ASSETS,
    RATE_MARTS,
    REBUILD_TIMEZONE,
    warehouse,
)
from jengu_pipeline.definitions import defs
from jengu_pipeline.resources.sending import SendingResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.resources.wiring import resources
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.warehouse import MARTS, WAREHOUSE_TABLES, rate_columns

EXPECTED_ROWS = {"dim_prospects": 12, "dim_campaigns": 2, "fct_sends": 8, "fct_replies": 7, "fct_provider_calls": 11}


def run_resources(store_url: str, tmp_path: Path, inbox_file: Path | None = None) -> dict[str, Any]:
    """Every resource the Definitions wire (the asset needs `store` and `sending`), pointed at this test's store
    and, unless given, at an inbox file that does not exist (so the default sending rules apply)."""
    return {
        **resources(),
        "store": CrmStoreResource(url=store_url),
        "sending": SendingResource(inbox_file=str(inbox_file or tmp_path / "no-inboxes.yaml")),
    }


def materialize(store_url: str, tmp_path: Path, inbox_file: Path | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [warehouse],
        instance=dg.DagsterInstance.ephemeral(),
        resources=run_resources(store_url, tmp_path, inbox_file),
        raise_on_error=False,
    )


def test_the_run_publishes_every_table_with_row_counts_previews_and_passing_checks(
    seeded: CrmStore, store_url: str, jengu_home: Path, tmp_path: Path
) -> None:
    result = materialize(store_url, tmp_path)
    assert result.success
    path = get_settings().warehouse_path
    with duckdb.connect(str(path), read_only=True) as reader:
        counts = {t: reader.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WAREHOUSE_TABLES}  # type: ignore[index]
        described = {t: [row[0] for row in reader.execute(f"DESCRIBE {t}").fetchall()] for t in WAREHOUSE_TABLES}
    materializations = {m.asset_key.to_user_string(): m for m in result.asset_materializations_for_node("warehouse")}
    assert set(materializations) == set(WAREHOUSE_TABLES)
    for table in WAREHOUSE_TABLES:
        metadata = materializations[table].metadata
        assert metadata["dagster/row_count"].value == counts[table], table
        assert metadata["path"].value == str(path)
        assert metadata["sending_rules"].value.startswith("defaults")
        columns = [column.name for column in metadata["dagster/column_schema"].value.columns]
        assert columns == described[table], table
        preview = metadata["preview"].value
        header = {cell.strip() for cell in preview.splitlines()[0].split("|")}
        assert header - {""} <= set(columns), table
        assert not {"email", "first_name", "last_name"} & header, f"{table} preview shows personal data"
        assert "@hotel-" not in preview, f"{table} preview shows an address"
        assert "P01" not in preview, f"{table} preview shows a name"
    assert {t: counts[t] for t in EXPECTED_ROWS} == EXPECTED_ROWS
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(checks) == {spec.name for spec in CHECK_SPECS}
    assert all(e.passed for e in checks.values()), {n: e.metadata for n, e in checks.items() if not e.passed}
    ledger = checks["fct_sends_sent_matches_ledger"].metadata
    assert ledger["fct_sends_sent"].value == ledger["ledger_sent_at_build"].value == 7  # 6 sent + 1 bounced
    assert ledger["ledger_sent_now"].value == 7


def test_an_empty_store_publishes_empty_tables_with_their_previews(
    store: CrmStore, store_url: str, jengu_home: Path, tmp_path: Path
) -> None:
    result = materialize(store_url, tmp_path)
    assert result.success
    materializations = result.asset_materializations_for_node("warehouse")
    assert {m.asset_key.to_user_string() for m in materializations} == set(WAREHOUSE_TABLES)
    assert all(m.metadata["dagster/row_count"].value == 0 for m in materializations if "dim_" in str(m.asset_key))


def test_every_mart_with_rates_is_checked(seeded: CrmStore, store_url: str, jengu_home: Path, tmp_path: Path) -> None:
    assert materialize(store_url, tmp_path).success
    with duckdb.connect(str(get_settings().warehouse_path), read_only=True) as reader:
        with_rates = {table for table, _ in rate_columns(reader)}
    assert with_rates == set(RATE_MARTS)
    assert with_rates < set(MARTS)


def test_an_invalid_inbox_file_fails_the_run_naming_it_and_leaves_the_published_file(
    seeded: CrmStore, store_url: str, jengu_home: Path, tmp_path: Path
) -> None:
    assert materialize(store_url, tmp_path).success
    path = get_settings().warehouse_path
    before = path.read_bytes()
    broken = tmp_path / "inboxes.yaml"
    broken.write_text("sending:\n  warmup_stage_days: 0\ninboxes: []\n")
    result = materialize(store_url, tmp_path, inbox_file=broken)
    assert not result.success
    failure = next(event for event in result.all_events if event.is_step_failure)
    error = failure.step_failure_data.error
    assert error is not None
    assert "warehouse not published" in error.message
    assert f"{broken}: line 2: sending.warmup_stage_days" in error.message
    assert path.read_bytes() == before


def test_the_root_tables_depend_on_every_crm_side_asset_the_definitions_have() -> None:
    graph = defs.resolve_asset_graph()
    defined = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for table in ("dim_prospects", "fct_sends", "dim_campaigns", "fct_provider_calls"):
        parents = {key.to_user_string() for key in graph.get(dg.AssetKey(table)).parent_keys}
        assert parents == {key for key in CRM_SIDE_ASSETS if key in defined}, table
    marts = {key.to_user_string() for key in graph.get(dg.AssetKey("mart_provider_costs")).parent_keys}
    assert marts == {"dim_prospects", "fct_sends", "fct_provider_calls"}


def _requested(result: Any) -> set[str]:
    return {table for table in WAREHOUSE_TABLES if result.get_num_requested(dg.AssetKey(table))}


def test_automation_rebuilds_after_a_sending_run_and_every_morning() -> None:
    instance = dg.DagsterInstance.ephemeral()
    start = datetime(2025, 1, 6, 7, 0, tzinfo=ZoneInfo(REBUILD_TIMEZONE))  # a Monday, after the 06:00 rebuild tick

    def evaluate(at: datetime, cursor: Any = None) -> Any:
        return dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor, evaluation_time=at)

    first = evaluate(start)
    for table in WAREHOUSE_TABLES:  # the warehouse exists (as after a first build)
        instance.report_runless_asset_event(dg.AssetMaterialization(table))
    quiet = evaluate(start + timedelta(minutes=1), first.cursor)
    assert _requested(quiet) == set()
    instance.report_runless_asset_event(dg.AssetMaterialization("sends"))  # a sending run
    after_send = evaluate(start + timedelta(minutes=2), quiet.cursor)
    assert _requested(after_send) == set(WAREHOUSE_TABLES)
    for table in WAREHOUSE_TABLES:
        instance.report_runless_asset_event(dg.AssetMaterialization(table))
    settled = evaluate(start + timedelta(minutes=3), after_send.cursor)
    assert _requested(settled) == set()
    still = evaluate(start + timedelta(hours=12), settled.cursor)
    assert _requested(still) == set()
    next_morning = evaluate(start + timedelta(days=1), still.cursor)  # 07:00 next day: the 06:00 tick passed
    assert _requested(next_morning) == set(WAREHOUSE_TABLES)
