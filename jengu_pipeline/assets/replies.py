"""Replies stage: read what is new in the reply mailboxes, classify it, match it to its send and act on it.

Thin on purpose: reading in ``resources.mailbox``, the classifier in ``domain.replies``, what a reply does in
``domain.reply_effects`` and the transactions in ``store.replies``. The table this asset owns is ``replies``.
"""

import dagster as dg
import polars as pl

from jengu_pipeline.assets.ingest import OWNERS
from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.replies import ReplyMailboxResource
from jengu_pipeline.resources.store import CrmStoreResource

REPLY_PREVIEW = (
    "SELECT received_at, intent, detail, matched_by, prospect_id, left(subject, 60) AS subject"
    " FROM replies ORDER BY received_at DESC LIMIT 10"
)


def _markdown(frame: pl.DataFrame) -> str:
    with pl.Config(
        tbl_formatting="MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True, fmt_str_lengths=60
    ):
        return str(frame)


@dg.asset(
    deps=["sends"],
    group_name="replies",
    kinds={"duckdb", "python"},
    owners=OWNERS,
    pool="crm_writer",
    description=(
        "Every inbound message, stored once with its raw bytes: bounces (RFC 3464 and other MTAs), auto-replies, "
        "unsubscribes and human replies by intent, matched to the send they answer. Processing suppresses "
        "bounced and unsubscribed addresses, stops or pauses sequences and moves the prospect's stage."
    ),
)
def replies(
    context: dg.AssetExecutionContext, store: CrmStoreResource, mailboxes: ReplyMailboxResource, alerts: AlertsResource
) -> dg.MaterializeResult:
    crm = store.open()
    report = mailboxes.run_pass(crm, alert=alerts.send)
    summary = report.as_dict()
    for source in report.sources:
        if source.error:
            context.log.error(f"{source.source}/{source.folder}: {source.error}")
    context.log.info(
        f"read {summary['read']}, stored {summary['stored']}, processed {summary['processed']}: {summary['categories']}"
    )
    totals = crm.query("SELECT coalesce(intent, 'unclassified') AS intent, count(*) AS n FROM replies GROUP BY 1")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(totals["n"].sum()) if totals.height else 0,
            "read": summary["read"],
            "stored": summary["stored"],
            "duplicates": summary["duplicates"],
            "processed": summary["processed"],
            "suppressed": summary["suppressed"],
            "sequences_stopped": summary["stopped"],
            "sequences_paused": summary["paused"],
            "unmatched": summary["unmatched"],
            "this_pass_by_category": dg.MetadataValue.json(summary["categories"]),
            "all_by_category": dg.MetadataValue.json(dict(zip(totals["intent"], map(int, totals["n"]), strict=True))),
            "sources": dg.MetadataValue.json(summary["sources"]),
            "preview": dg.MetadataValue.md(_markdown(crm.query(REPLY_PREVIEW))),
        }
    )


def _none_found(store: CrmStoreResource, count_sql: str, name: str) -> dg.AssetCheckResult:
    """Passed when ``count_sql`` (one row, column ``n``) counts nothing; the count goes in the metadata."""
    count = int(store.open().query(count_sql)["n"][0])
    return dg.AssetCheckResult(passed=count == 0, metadata={name: count})


@dg.asset_check(asset=replies, blocking=False, description="Every stored reply was classified and processed.")
def replies_all_classified(store: CrmStoreResource) -> dg.AssetCheckResult:
    return _none_found(
        store, "SELECT count(*) AS n FROM replies WHERE intent IS NULL OR processed_at IS NULL", "unprocessed"
    )


@dg.asset_check(
    asset=replies,
    blocking=False,
    description="No message went to an address after a reply suppressed it (bounce or unsubscribe).",
)
def replies_no_send_after_suppression(store: CrmStoreResource) -> dg.AssetCheckResult:
    return _none_found(
        store,
        "SELECT count(*) AS n FROM sends s JOIN suppressions x ON x.email = s.recipient"
        " WHERE x.source LIKE 'reply:%' AND s.claimed_at > x.created_at",
        "sends_after_reply_suppression",
    )


@dg.asset_check(
    asset=replies,
    blocking=False,
    description="No reply was acted on twice: one reply_received activity per reply at most.",
)
def replies_processed_once(store: CrmStoreResource) -> dg.AssetCheckResult:
    return _none_found(
        store,
        "SELECT count(*) AS n FROM (SELECT metadata->>'reply_id' AS reply_id FROM activities"
        " WHERE type = 'reply_received' GROUP BY 1 HAVING count(*) > 1) AS twice",
        "replies_processed_twice",
    )
