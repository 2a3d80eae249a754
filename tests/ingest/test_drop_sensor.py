"""The drop-folder sensor registers new files as batches and their runs materialise them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg

from jengu_pipeline.definitions import defs
from jengu_pipeline.partitions import prospect_batches
from jengu_pipeline.sensors.drop_folder import prospect_drop_sensor
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import open_store
from jengu_pipeline.store.ingest import batch_summary


def tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    return prospect_drop_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))


def test_sensor_registers_new_files_once_and_their_runs_import_them(jengu_env: Path, prospects_file: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    drop = get_settings().drop_dir
    drop.mkdir(parents=True)
    shutil.copy(prospects_file, drop / prospects_file.name)

    result = tick(instance, None)
    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests or []
    key = request.partition_key
    assert key is not None
    assert request.run_key == key
    assert result.dynamic_partitions_requests == [prospect_batches.build_add_request([key])]
    assert json.loads(result.cursor or "")[1] == prospects_file.name

    instance.add_dynamic_partitions(prospect_batches.name, [key])
    run = defs.resolve_job_def("ingest_job").execute_in_process(instance=instance, partition_key=key)
    assert run.success
    assert all(check.passed for check in run.get_asset_check_evaluations())
    assert len(run.get_asset_check_evaluations()) == 2
    materialized = run.asset_materializations_for_node("prospects_and_rejects")
    metadata = {m.asset_key.to_user_string(): m.metadata for m in materialized}
    assert metadata["prospects"]["dagster/partition_row_count"].value == 6
    assert metadata["rejected_rows"]["dagster/partition_row_count"].value == 2
    assert "@" not in str(metadata["prospects"]["preview"].value), "previews never show email addresses"
    assert batch_summary(open_store(get_settings().store_url), key).conserved

    assert isinstance(tick(instance, result.cursor), dg.SkipReason)
    shutil.copy(prospects_file, drop / "same-bytes-new-name.csv")
    again = tick(instance, result.cursor)
    assert isinstance(again, dg.SensorResult)
    assert again.run_requests == []
    assert again.dynamic_partitions_requests == []


def test_a_refused_file_is_logged_and_neither_staged_nor_registered(jengu_env: Path, prospects_file: Path) -> None:
    instance = dg.DagsterInstance.ephemeral()
    drop = get_settings().drop_dir
    drop.mkdir(parents=True)
    (drop / "a-header-only.csv").write_text("First Name,Company\n", encoding="utf-8")
    shutil.copy(prospects_file, drop / "b-good.csv")
    result = tick(instance, None)
    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests or []
    assert request.partition_key is not None
    assert request.partition_key.startswith("b-good-")
    assert [p.name for p in (jengu_env / "batches").iterdir()] == [request.partition_key]
    assert json.loads(result.cursor or "")[1] == "b-good.csv", "the refused file is behind the cursor: not retried"
