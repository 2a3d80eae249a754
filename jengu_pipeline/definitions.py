"""The one Definitions object: assets, checks, jobs, schedules, sensors and resources."""

from __future__ import annotations

import dagster as dg

from jengu_pipeline.assets.ingest import (
    prospects_and_rejects,
    prospects_rows_conserved,
    prospects_unique_active_identity,
    raw_prospects,
)
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.sensors.drop_folder import prospect_drop_sensor

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.groups("ingest"),
    description="Import one prospect batch: read the file, normalise, deduplicate, keep rejects.",
    tags={"jengu/lane": "ingest"},
)


defs = dg.Definitions(
    assets=[raw_prospects, prospects_and_rejects],
    asset_checks=[prospects_rows_conserved, prospects_unique_active_identity],
    jobs=[ingest_job],
    sensors=[prospect_drop_sensor],
    resources={"store": CrmStoreResource()},
    executor=dg.multiprocess_executor.configured({"max_concurrent": 2}),
)
