"""Ingest stage: one partition per imported prospect file.

``raw_prospects`` keeps every data record with its line number; ``prospects`` and ``rejected_rows`` are
written together from it, so each input row ends up accepted or rejected in one transaction. The batch is
``importing`` from the first step on, ``imported`` in the transaction that writes its prospects, ``failed`` when a
step fails (its reason kept), in the store's ``batch_states`` and in each step's metadata.
"""

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import dagster as dg
import polars as pl

from jengu_pipeline.batch_files import batch_file
from jengu_pipeline.domain.batches import content_hash
from jengu_pipeline.domain.dedup import assign_prospects
from jengu_pipeline.domain.normalise import normalise_records
from jengu_pipeline.domain.prospect_files import ProspectFileError, read_prospect_file
from jengu_pipeline.partitions import prospect_batches
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store import ingest as ingest_store
from jengu_pipeline.store.ingest import FAILED, IMPORTED, IMPORTING

OWNERS = ["team:jengu"]
PREVIEW_ROWS = 10
PREVIEW_COLUMNS = ("first_name", "last_name", "title", "company", "website", "country", "tier", "score")
"""What a preview shows: never emails, phones or raw text (those may identify a person outside the CRM)."""
BATCH_STATE = "batch_state"
"""Metadata key: the batch's state in the store once the step ended (importing, imported, failed)."""


def markdown_preview(frame: pl.DataFrame) -> dg.MetadataValue:
    with pl.Config(
        tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True, fmt_str_lengths=40
    ):
        return dg.MetadataValue.md(str(frame.head(PREVIEW_ROWS)))


@dg.asset(
    partitions_def=prospect_batches,
    group_name="ingest",
    kinds={"duckdb", "polars", "csv"},
    owners=OWNERS,
    pool="crm_writer",
    description="Every data record of one imported prospect file, with its line number and raw text.",
)
def raw_prospects(context: dg.AssetExecutionContext, store: CrmStoreResource) -> dg.MaterializeResult:
    batch_id = context.partition_key
    path = batch_file(get_settings().home, batch_id)
    crm = store.open()
    ingest_store.start_batch(
        crm, batch_id, name=path.name, source_file=str(path), digest=content_hash(path), run_id=context.run.run_id
    )
    with failing_batch(crm, batch_id, context.run.run_id):
        try:
            readout = read_prospect_file(path)
        except ProspectFileError as refused:  # a file-level reason, not a bug: no traceback needed, no retry helps
            raise dg.Failure(
                description=refused.reason, metadata={"file": path.name, BATCH_STATE: FAILED}, allow_retries=False
            ) from refused
        ingest_store.replace_raw_rows(crm, batch_id, readout.rows)
    unreadable = readout.rows.filter(pl.col("error").is_not_null()).height
    return dg.MaterializeResult(
        metadata={
            "dagster/partition_row_count": readout.rows.height,
            "dagster/table_name": "raw_prospects",
            BATCH_STATE: IMPORTING,
            "file": path.name,
            "encoding": readout.encoding,
            "delimiter": repr(readout.delimiter),
            "column_mapping": dg.MetadataValue.json(readout.mapping),
            "unreadable_rows": unreadable,
        }
    )


@contextmanager
def failing_batch(crm: CrmStore, batch_id: str, run_id: str) -> Iterator[None]:
    """Mark the batch ``failed`` with the reason when the block raises, then let the error go on.

    A process killed in the block cannot do this; its batch stays ``importing`` until the next import finds the
    run dead (:func:`jengu_pipeline.imports.settle_abandoned_batches`).
    """
    try:
        yield
    except Exception as error:
        reason = error.description if isinstance(error, dg.Failure) and error.description else _one_line(error)
        with suppress(Exception):  # the store itself may be what failed; the run's failure says why either way
            ingest_store.fail_batch(crm, batch_id, run_id, reason)
        raise


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0][:300]}"


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "prospects",
            deps=[raw_prospects],
            group_name="ingest",
            kinds={"duckdb", "polars"},
            owners=OWNERS,
            partitions_def=prospect_batches,
            description="Normalised prospects, deduplicated within the batch and against every "
            "earlier batch; duplicates merge into the existing prospect.",
        ),
        dg.AssetSpec(
            "rejected_rows",
            deps=[raw_prospects],
            group_name="ingest",
            kinds={"duckdb"},
            owners=OWNERS,
            partitions_def=prospect_batches,
            description="Input rows that could not become a prospect, each with its line and reason.",
        ),
    ],
    pool="crm_writer",
)
def prospects_and_rejects(context: dg.AssetExecutionContext, store: CrmStoreResource) -> Iterator[dg.MaterializeResult]:
    """Normalise, score and deduplicate one batch, writing prospects and rejects in one transaction."""
    batch_id = context.partition_key
    crm = store.open()
    with failing_batch(crm, batch_id, context.run.run_id):
        normalised = normalise_records(ingest_store.raw_fields(crm, batch_id))  # the raw frame is freed at once
        assigned, summary = ingest_store.write_normalised_batch(
            crm,
            batch_id,
            lambda existing: assign_prospects(normalised.accepted, existing, batch_id),
            normalised.rejected,
            run_id=context.run.run_id,
        )
    yield dg.MaterializeResult(
        asset_key="prospects",
        metadata={
            "dagster/partition_row_count": summary.accepted,
            "dagster/table_name": "prospects",
            BATCH_STATE: IMPORTED,
            "rows": summary.rows,
            "accepted": summary.accepted,
            "duplicates": summary.duplicates,
            "new_prospects": summary.new_prospects,
            "tiers": dg.MetadataValue.json(_value_counts(assigned, "tier")),
            "preview": markdown_preview(assigned.select(PREVIEW_COLUMNS)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="rejected_rows",
        metadata={
            "dagster/partition_row_count": summary.rejected,
            "dagster/table_name": "rejected_rows",
            BATCH_STATE: IMPORTED,
            "rejected_by_reason": dg.MetadataValue.json(ingest_store.rejected_by_reason(crm, batch_id)),
            "preview": markdown_preview(normalised.rejected.select("line_number", "reason")),
        },
    )


def _value_counts(frame: pl.DataFrame, column: str) -> dict[str, Any]:
    counts = frame[column].value_counts(sort=True)
    return dict(zip(counts[column].to_list(), counts["count"].to_list(), strict=True))


ROWS_CONSERVED = "prospects_rows_conserved"
UNIQUE_IDENTITY = "prospects_unique_active_identity"


@dg.asset_check(
    asset="prospects",
    name=ROWS_CONSERVED,
    blocking=True,
    description="Every raw row of the batch is accepted or rejected, none twice, none lost (outside a partition: of"
    " every imported batch; one a killed or failed run left is failed, not a violation).",
)
def prospects_rows_conserved(context: dg.AssetCheckExecutionContext, store: CrmStoreResource) -> dg.AssetCheckResult:
    crm = store.open()
    batch_ids = (
        [context.op_execution_context.partition_key]
        if context.op_execution_context.has_partition_key
        else crm.query("SELECT batch_id FROM batch_states WHERE state = 'imported'")["batch_id"].to_list()
    )
    summaries = [ingest_store.batch_summary(crm, b) for b in batch_ids]
    broken = [s.__dict__ for s in summaries if not s.conserved]
    return dg.AssetCheckResult(
        passed=not broken, metadata={"batches_checked": len(summaries), "violations": dg.MetadataValue.json(broken)}
    )


@dg.asset_check(
    asset="prospects",
    name=UNIQUE_IDENTITY,
    blocking=True,
    description="No two active prospects share an email address or a LinkedIn URL.",
)
def prospects_unique_active_identity(store: CrmStoreResource) -> dg.AssetCheckResult:
    clashes = store.open().query(
        "SELECT 'email' AS key, email AS value, count(*) AS n FROM prospects WHERE NOT archived AND email IS NOT NULL"
        " GROUP BY email HAVING count(*) > 1 UNION ALL"
        " SELECT 'linkedin_url', linkedin_url, count(*) FROM prospects WHERE NOT archived"
        " AND linkedin_url IS NOT NULL GROUP BY linkedin_url HAVING count(*) > 1"
    )
    return dg.AssetCheckResult(
        passed=clashes.is_empty(),
        metadata={"clashes": clashes.height, "keys": dg.MetadataValue.json(clashes["key"].to_list()[:20])},
    )
