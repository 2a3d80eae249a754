"""The jobs of one prospect batch: the import alone, and the main job the drop-folder sensor launches."""

import dagster as dg

from jengu_pipeline.assets.integrity import integrity_check_selection

ingest_job = dg.define_asset_job(
    name="ingest_job",
    selection=dg.AssetSelection.groups("ingest") - integrity_check_selection,
    description="Import one prospect batch: read the file, normalise, deduplicate, keep rejects.",
    tags={"jengu/lane": "ingest"},
)

prospect_batch_job = dg.define_asset_job(
    name="prospect_batch_job",
    selection=dg.AssetSelection.groups("ingest", "enrich", "compose") - integrity_check_selection,
    description=(
        "The main job for one batch: import it, find each hotel's website and each person's address, then write "
        "the first message of every active campaign."
    ),
    tags={"jengu/lane": "ingest"},
)
