"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import os

import dagster as dg

from jengu_pipeline.assets.ingest import (
    prospects_and_rejects,
    prospects_rows_conserved,
    prospects_unique_active_identity,
    raw_prospects,
)
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.sensors.drop_folder import prospect_drop_sensor
from jengu_pipeline.settings import get_settings

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.groups("ingest"),
    description="Import one prospect batch: read the file, normalise, deduplicate, keep rejects.",
    tags={"jengu/lane": "ingest"},
)


def store_resource() -> CrmStoreResource:
    """PostgreSQL when JENGU_DATABASE_URL is set (wired as an EnvVar: the URL may hold a password)."""
    if os.environ.get("JENGU_DATABASE_URL"):
        return CrmStoreResource(url=dg.EnvVar("JENGU_DATABASE_URL"))
    return CrmStoreResource(url=get_settings().store_url)


defs = dg.Definitions(
    assets=[raw_prospects, prospects_and_rejects],
    asset_checks=[prospects_rows_conserved, prospects_unique_active_identity],
    jobs=[ingest_job],
    sensors=[prospect_drop_sensor],
    resources={"store": store_resource()},
    executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
)
