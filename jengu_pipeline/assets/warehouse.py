"""Warehouse stage: the analysts' DuckDB file (dims, facts and marts), rebuilt from the CRM store and published
atomically, with checks that reconcile it with the store.

Thin on purpose: the copy, the SQL and the atomic rename are in ``store.warehouse``. The tables are built together
in one new file and published by one rename, so they are one multi-asset that cannot be subset. It is rebuilt every
morning before the sending day and after every run that updated the CRM-side assets it reads (declarative
automation: ``warehouse_automation_sensor`` evaluates it).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl

from jengu_pipeline import clock
from jengu_pipeline.assets.ingest import OWNERS, PREVIEW_ROWS
from jengu_pipeline.assets.integrity import PIPELINE_ASSETS
from jengu_pipeline.domain.inboxes import SendingRules, read_inbox_file
from jengu_pipeline.domain.yaml_files import ConfigFileError
from jengu_pipeline.resources.sending import SendingResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.sensors.sending import sending_schedule
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, StoreError
from jengu_pipeline.store.warehouse import (
    WAREHOUSE_TABLES,
    CheckOutcome,
    PublishedWarehouse,
    check_funnel_narrows,
    check_rates_in_unit_interval,
    check_sent_matches_ledger,
    open_warehouse,
    publish_warehouse,
    table_description,
    table_inputs,
)

GROUP = "warehouse"
CRM_SIDE_ASSETS = ("sends", "replies")
"""The CRM-side assets whose runs change what the warehouse shows. Only those the code location defines are
dependencies (``replies`` joins when its asset is registered in ``PIPELINE_ASSETS``): a dependency on an
undefined key would put a stub asset without description or owner into the graph."""
UPSTREAM = [key for key in CRM_SIDE_ASSETS if key in PIPELINE_ASSETS]
REBUILD_CRON = "0 6 * * *"
"""Every morning at 06:00 in the sending schedule's zone, before the sending day starts."""
REBUILD_TIMEZONE = sending_schedule.execution_timezone or "UTC"
PREVIEW_HIDDEN = frozenset({"first_name", "last_name", "email", "linkedin_url"})
"""Columns a metadata preview never shows (they identify a person)."""

SENT_MATCHES_LEDGER = "fct_sends_sent_matches_ledger"
FUNNEL_NEVER_WIDENS = "mart_funnel_never_widens"
RATE_MARTS = (
    "mart_funnel",
    "mart_campaign_variants",
    "mart_inbox_health",
    "mart_provider_costs",
    "mart_reply_intents",
)
"""The marts with proportion or probability columns (a test compares this with a built warehouse)."""


def rates_check_name(table: str) -> str:
    return f"{table}_rates_in_unit_interval"


_rebuild_trigger: dg.AutomationCondition = (
    dg.AutomationCondition.newly_missing()
    | dg.AutomationCondition.any_deps_updated()
    | dg.AutomationCondition.cron_tick_passed(REBUILD_CRON, cron_timezone=REBUILD_TIMEZONE)
)
warehouse_automation = (
    _rebuild_trigger.since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("after CRM-side runs and every morning")


def _spec(table: str) -> dg.AssetSpec:
    inputs = table_inputs(table)
    return dg.AssetSpec(
        table,
        deps=inputs or UPSTREAM,
        group_name=GROUP,
        kinds={"duckdb"},
        owners=OWNERS,
        description=table_description(table),
        automation_condition=warehouse_automation,
        metadata={"dagster/table_name": f"warehouse.main.{table}"},
    )


CHECK_SPECS = [
    dg.AssetCheckSpec(
        SENT_MATCHES_LEDGER,
        asset="fct_sends",
        description="fct_sends counts as sent exactly what the send ledger held as sent or bounced, status by status, "
        "in the store snapshot the warehouse was copied from.",
    ),
    dg.AssetCheckSpec(
        FUNNEL_NEVER_WIDENS,
        asset="mart_funnel",
        description="No row of mart_funnel has more prospects at a stage than at the stage before it.",
    ),
    *(
        dg.AssetCheckSpec(
            rates_check_name(table),
            asset=table,
            description=f"Every rate, share and p-value of {table} lies between 0 and 1 (NULL: no denominator).",
        )
        for table in RATE_MARTS
    ),
]


def sending_rules(sending: SendingResource) -> tuple[SendingRules, str]:
    """The rules inbox caps and sending days are computed by, and where they came from: the inbox file when there
    is one (an invalid one raises, naming the file and field), else the defaults."""
    path = sending.path()
    if not path.exists():
        return SendingRules(), f"defaults ({path} not found)"
    return read_inbox_file(path).sending, str(path)


def publish(crm: CrmStore, sending: SendingResource, path: Path) -> tuple[PublishedWarehouse, str]:
    """Build and publish the warehouse at ``path`` now, by the configured sending rules; and the rules' source."""
    rules, source = sending_rules(sending)
    return publish_warehouse(crm, path, built_at=clock.now(), rules=rules), source


def check_outcomes(path: Path, crm: CrmStore) -> dict[str, CheckOutcome]:
    """Every check of a published warehouse by its check name, reconciled with ``crm`` where the check reads it."""
    return {
        SENT_MATCHES_LEDGER: check_sent_matches_ledger(path, crm),
        FUNNEL_NEVER_WIDENS: check_funnel_narrows(path),
        **{rates_check_name(table): check_rates_in_unit_interval(path, table) for table in RATE_MARTS},
    }


def _metadata_value(value: Any) -> Any:
    return dg.MetadataValue.json(value) if isinstance(value, dict | list) else value


def _table_metadata(connection: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    columns = connection.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    shown = ", ".join(f'"{name}"' for name, _ in columns if name not in PREVIEW_HIDDEN)
    preview = connection.execute(f"SELECT {shown} FROM {table} LIMIT {PREVIEW_ROWS}").pl()  # an empty table too
    with pl.Config(
        tbl_formatting="MARKDOWN",
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
        tbl_cols=-1,
        tbl_width_chars=60_000,
        fmt_str_lengths=40,
    ):
        text = str(preview)
    return {
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(name, str(kind).lower()) for name, kind in columns]
        ),
        "preview": dg.MetadataValue.md(text),
    }


@dg.multi_asset(
    name="warehouse",
    specs=[_spec(table) for table in WAREHOUSE_TABLES],
    check_specs=CHECK_SPECS,
    can_subset=False,
    pool="crm_writer",  # on a DuckDB store the copy's read-only connection holds off the one writer: queue with them
)
def warehouse(
    context: dg.AssetExecutionContext, store: CrmStoreResource, sending: SendingResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Copy the CRM store into a new DuckDB file, build every table, publish it with one rename, then check it."""
    crm = store.open()
    try:
        published, rules_source = publish(crm, sending, get_settings().warehouse_path)
    except (ConfigFileError, StoreError) as error:  # the published file is left as it was
        raise dg.Failure(f"warehouse not published: {error}") from error
    context.log.info(
        f"published {published.path} in {published.seconds:.2f}s: "
        + ", ".join(f"{table} {rows}" for table, rows in published.tables.items())
    )
    with open_warehouse(published.path) as connection:
        for table, rows in published.tables.items():
            yield dg.MaterializeResult(
                asset_key=table,
                metadata={
                    "dagster/row_count": rows,
                    **_table_metadata(connection, table),
                    "path": dg.MetadataValue.path(str(published.path)),
                    "built_at": published.built_at.isoformat(),
                    "build_seconds": round(published.seconds, 3),
                    "sending_rules": rules_source,
                },
            )
    for name, outcome in check_outcomes(published.path, crm).items():
        spec = next(spec for spec in CHECK_SPECS if spec.name == name)
        yield dg.AssetCheckResult(
            asset_key=spec.asset_key,
            check_name=name,
            passed=outcome.passed,
            metadata={key: _metadata_value(value) for key, value in outcome.metadata.items()},
        )


warehouse_automation_sensor = dg.AutomationConditionSensorDefinition(
    name="warehouse_automation_sensor",
    target=dg.AssetSelection.groups(GROUP),
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Rebuilds the warehouse after runs that updated the CRM-side assets it reads (sends) and every morning. "
        "On by default: a rebuild only reads the store and replaces the warehouse file atomically."
    ),
)
