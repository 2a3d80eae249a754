"""The analytics warehouse: a DuckDB file of shaped tables and marts, rebuilt from the CRM store and published
atomically.

Analysts must never hold the pipeline's store (DuckDB lets one process write a file, and a reader blocks it), and
must never see a half-built table. So a publish reads the store in one consistent read-only transaction (keyset
pages through ``Tx.fetch_frame``, the same on DuckDB and PostgreSQL, no DuckDB extension), copies the columns
the marts need into temporary staging tables of a *new* DuckDB file next to the published one, builds the
tables there with the SQL in ``warehouse_sql/`` (one file per table), checkpoints and closes it, then moves it
into place with ``os.replace``. A reader that opened the old file keeps reading the old file; one that opens
after the rename reads the new one; a crash at any point before the rename leaves the old file untouched (the
half-built file is removed, or swept by the next publish when the builder was killed).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from jengu_pipeline.domain.inboxes import SendingRules
from jengu_pipeline.domain.replies.model import CATEGORIES
from jengu_pipeline.domain.reply_effects import HUMAN, STOPPING
from jengu_pipeline.domain.sending import warmup_cap
from jengu_pipeline.domain.stats import two_proportion_test, wilson_interval
from jengu_pipeline.store.engine import Tx
from jengu_pipeline.store.repository import CrmStore

DIMENSIONS = ("dim_prospects", "dim_campaigns")
FACTS = ("fct_sends", "fct_replies", "fct_provider_calls")
MARTS = (
    "mart_funnel",
    "mart_campaign_variants",
    "mart_inbox_health",
    "mart_provider_costs",
    "mart_reply_intents",
    "mart_time_to_reply",
)
WAREHOUSE_TABLES = (*DIMENSIONS, *FACTS, *MARTS)
"""The published tables (the analyst contract: add columns freely, rename none), in build order."""
BUILD_TABLE = "warehouse_builds"
"""One row describing the build: when, from which store, and the send ledger's counts in the same snapshot."""
SENT_STATUSES = ("sent", "bounced")
"""Ledger states of a message that reached a mail server; ``fct_sends.is_sent`` must count exactly these."""
DEFAULT_PAGE_ROWS = 100_000
DEFAULT_MEMORY_LIMIT = "1GB"
BUILDING_SUFFIX = ".building"
_BUILDING = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{12}\.building(?:\.wal)?$")


@dataclass(frozen=True)
class Source:
    """A staging table copied from the store: its typed columns and the SELECT that reads one page of it.

    ``query`` has a ``{page}`` placeholder inside its WHERE clause; ``keys`` are (SQL expression, result column)
    pairs, unique together, that order the pages (keyset pagination: each page starts after the last row read).
    """

    name: str
    columns: tuple[tuple[str, str], ...]
    query: str
    keys: tuple[tuple[str, str], ...]


SOURCES: tuple[Source, ...] = (
    Source(
        "src_batches",
        (("batch_id", "VARCHAR"), ("name", "VARCHAR"), ("source_file", "VARCHAR"), ("created_at", "TIMESTAMPTZ")),
        "SELECT batch_id, name, source_file, created_at FROM batches WHERE {page}",
        (("batch_id", "batch_id"),),
    ),
    Source(
        "src_prospects",
        (
            ("prospect_id", "VARCHAR"),
            ("batch_id", "VARCHAR"),
            ("first_name", "VARCHAR"),
            ("last_name", "VARCHAR"),
            ("title", "VARCHAR"),
            ("company", "VARCHAR"),
            ("linkedin_url", "VARCHAR"),
            ("email", "VARCHAR"),
            ("email_status", "VARCHAR"),
            ("website", "VARCHAR"),
            ("country", "VARCHAR"),
            ("timezone", "VARCHAR"),
            ("tier", "VARCHAR"),
            ("score", "INTEGER"),
            ("stage", "VARCHAR"),
            ("archived", "BOOLEAN"),
            ("created_at", "TIMESTAMPTZ"),
            ("updated_at", "TIMESTAMPTZ"),
        ),
        "SELECT prospect_id, batch_id, first_name, last_name, title, company, linkedin_url, email, email_status,"
        " website, country, timezone, tier, score, stage, archived, created_at, updated_at FROM prospects"
        " WHERE {page}",
        (("prospect_id", "prospect_id"),),
    ),
    Source(
        "src_websites",
        (("prospect_id", "VARCHAR"), ("sites", "INTEGER"), ("best_confidence", "DOUBLE")),
        "SELECT prospect_id, CAST(count(*) AS INTEGER) AS sites, max(confidence) AS best_confidence FROM websites"
        " WHERE {page} GROUP BY prospect_id",
        (("prospect_id", "prospect_id"),),
    ),
    Source(
        "src_messages",
        (
            ("message_id", "VARCHAR"),
            ("prospect_id", "VARCHAR"),
            ("campaign_id", "VARCHAR"),
            ("step", "INTEGER"),
            ("variant", "VARCHAR"),
            ("status", "VARCHAR"),
            ("provider", "VARCHAR"),
            ("template", "VARCHAR"),
            ("created_at", "TIMESTAMPTZ"),
        ),
        "SELECT message_id, prospect_id, campaign_id, step, variant, status, provider, template, created_at"
        " FROM messages WHERE {page}",
        (("message_id", "message_id"),),
    ),
    Source(
        "src_sends",
        (
            ("send_id", "VARCHAR"),
            ("prospect_id", "VARCHAR"),
            ("campaign_id", "VARCHAR"),
            ("step", "INTEGER"),
            ("message_id", "VARCHAR"),
            ("inbox", "VARCHAR"),
            ("recipient_domain", "VARCHAR"),
            ("risky", "BOOLEAN"),
            ("status", "VARCHAR"),
            ("attempts", "INTEGER"),
            ("smtp_code", "INTEGER"),
            ("claimed_at", "TIMESTAMPTZ"),
            ("sent_at", "TIMESTAMPTZ"),
            ("updated_at", "TIMESTAMPTZ"),
        ),
        "SELECT send_id, prospect_id, campaign_id, step, message_id, inbox,"
        " lower(split_part(recipient, '@', 2)) AS recipient_domain, risky, status, attempts, smtp_code,"
        " claimed_at, sent_at, updated_at FROM sends WHERE {page}",
        (("send_id", "send_id"),),
    ),
    Source(
        "src_replies",
        (
            ("reply_id", "VARCHAR"),
            ("prospect_id", "VARCHAR"),
            ("send_id", "VARCHAR"),
            ("matched_by", "VARCHAR"),
            ("received_at", "TIMESTAMPTZ"),
            ("intent", "VARCHAR"),
            ("classifier", "VARCHAR"),
            ("classified_at", "TIMESTAMPTZ"),
            ("processed_at", "TIMESTAMPTZ"),
            ("handled_at", "TIMESTAMPTZ"),
            ("failed_recipients", "INTEGER"),
            ("hard_failed_recipients", "INTEGER"),
        ),
        "SELECT r.reply_id, r.prospect_id, r.send_id, r.matched_by, r.received_at, r.intent, r.classifier,"
        " r.classified_at, r.processed_at, r.handled_at,"
        " CAST(coalesce(f.failed, 0) AS INTEGER) AS failed_recipients,"
        " CAST(coalesce(f.hard, 0) AS INTEGER) AS hard_failed_recipients FROM replies r LEFT JOIN"
        " (SELECT reply_id, count(*) AS failed, sum(CASE WHEN hard THEN 1 ELSE 0 END) AS hard"
        " FROM reply_failed_recipients GROUP BY reply_id) f ON f.reply_id = r.reply_id WHERE {page}",
        (("r.reply_id", "reply_id"),),
    ),
    Source(
        "src_campaigns",
        (
            ("campaign_id", "VARCHAR"),
            ("name", "VARCHAR"),
            ("status", "VARCHAR"),
            ("starts_on", "DATE"),
            ("ends_on", "DATE"),
            ("definition", "VARCHAR"),
            ("source_file", "VARCHAR"),
            ("loaded_at", "TIMESTAMPTZ"),
        ),
        "SELECT campaign_id, name, status, starts_on, ends_on, CAST(definition AS VARCHAR) AS definition,"
        " source_file, loaded_at FROM campaigns WHERE {page}",
        (("campaign_id", "campaign_id"),),
    ),
    Source(
        "src_campaign_members",
        (
            ("campaign_id", "VARCHAR"),
            ("prospect_id", "VARCHAR"),
            ("variant", "VARCHAR"),
            ("source", "VARCHAR"),
            ("added_at", "TIMESTAMPTZ"),
            ("removed_at", "TIMESTAMPTZ"),
            ("paused_until", "TIMESTAMPTZ"),
            ("stopped_at", "TIMESTAMPTZ"),
            ("stop_reason", "VARCHAR"),
        ),
        "SELECT campaign_id, prospect_id, variant, source, added_at, removed_at, paused_until, stopped_at,"
        " stop_reason FROM campaign_members WHERE {page}",
        (("campaign_id", "campaign_id"), ("prospect_id", "prospect_id")),
    ),
    Source(
        "src_inboxes",
        (
            ("inbox", "VARCHAR"),
            ("host_provider", "VARCHAR"),
            ("daily_cap", "INTEGER"),
            ("warmup_start", "DATE"),
            ("status", "VARCHAR"),
            ("paused_reason", "VARCHAR"),
            ("preflight_status", "VARCHAR"),
            ("resumed_at", "TIMESTAMPTZ"),
        ),
        "SELECT inbox, host_provider, daily_cap, warmup_start, status, paused_reason, preflight_status, resumed_at"
        " FROM inboxes WHERE {page}",
        (("inbox", "inbox"),),
    ),
    Source(
        "src_inbox_events",
        (("activity_id", "BIGINT"), ("type", "VARCHAR"), ("inbox", "VARCHAR"), ("created_at", "TIMESTAMPTZ")),
        "SELECT activity_id, type, metadata->>'inbox' AS inbox, created_at FROM activities"
        " WHERE type IN ('inbox_paused', 'inbox_resumed') AND {page}",
        (("activity_id", "activity_id"),),
    ),
    Source(
        "src_provider_calls",
        (
            ("call_id", "BIGINT"),
            ("provider", "VARCHAR"),
            ("operation", "VARCHAR"),
            ("outcome", "VARCHAR"),
            ("latency_ms", "DOUBLE"),
            ("cost_units", "INTEGER"),
            ("batch_id", "VARCHAR"),
            ("created_at", "TIMESTAMPTZ"),
        ),
        "SELECT call_id, provider, operation, outcome, latency_ms, cost_units, batch_id, created_at"
        " FROM provider_calls WHERE {page}",
        (("call_id", "call_id"),),
    ),
)


@dataclass(frozen=True)
class Snapshot:
    """What the store said in the transaction the warehouse was copied in."""

    store_now: datetime
    schema_version: int
    ledger: dict[str, int]
    copied: dict[str, int]

    @property
    def ledger_sent(self) -> int:
        return sum(self.ledger.get(status, 0) for status in SENT_STATUSES)


@dataclass(frozen=True)
class PublishedWarehouse:
    """A published warehouse: where, its tables' row counts, and how long the build took."""

    path: Path
    tables: dict[str, int]
    built_at: datetime
    seconds: float
    snapshot: Snapshot

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "tables": self.tables,
            "built_at": self.built_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "store_sent": self.snapshot.ledger_sent,
            "schema_version": self.snapshot.schema_version,
        }


# Reading the store -------------------------------------------------------------------------------------------


def _page_condition(keys: tuple[tuple[str, str], ...], last: tuple[Any, ...] | None) -> tuple[str, list[Any]]:
    """The keyset condition "after ``last``" in key order: (k1 > ?) OR (k1 = ? AND k2 > ?) ..."""
    if last is None:
        return "TRUE", []
    terms, params = [], []
    for index, (expression, _) in enumerate(keys):
        equal = [f"{keys[i][0]} = ?" for i in range(index)]
        terms.append("(" + " AND ".join([*equal, f"{expression} > ?"]) + ")")
        params += [*last[:index], last[index]]
    return "(" + " OR ".join(terms) + ")", params


def read_pages(tx: Tx, source: Source, page_rows: int) -> Iterator[pl.DataFrame]:
    """Every row of ``source`` in pages of at most ``page_rows``, in key order, inside the caller's transaction."""
    last: tuple[Any, ...] | None = None
    order = ", ".join(expression for expression, _ in source.keys)
    while True:
        condition, params = _page_condition(source.keys, last)
        frame = tx.fetch_frame(f"{source.query.format(page=condition)} ORDER BY {order} LIMIT {int(page_rows)}", params)
        if frame.height:
            yield frame
        if frame.height < page_rows:
            return
        last = tuple(frame.row(-1, named=True)[column] for _, column in source.keys)


def _snapshot_facts(tx: Tx) -> tuple[datetime, int, dict[str, int]]:
    store_now = tx.fetch_value("SELECT now()")  # the transaction's start on both backends: the snapshot's time
    version = int(tx.fetch_value("SELECT coalesce(max(version), 0) FROM schema_migrations") or 0)
    ledger = {
        str(status): int(count) for status, count in tx.fetch_all("SELECT status, count(*) FROM sends GROUP BY status")
    }
    return store_now, version, ledger


def copy_store(store: CrmStore, warehouse: duckdb.DuckDBPyConnection, page_rows: int) -> Snapshot:
    """Copy every source into temporary staging tables, all from one read-only snapshot of the store.

    PostgreSQL reads at REPEATABLE READ, so every page and the ledger counts see the same committed state. A
    DuckDB store is read on one read-only connection (one transaction) for the same reason.
    """
    for source in SOURCES:
        columns = ", ".join(f"{name} {kind}" for name, kind in source.columns)
        warehouse.execute(f"CREATE OR REPLACE TEMP TABLE {source.name} ({columns})")

    def copy(tx: Tx) -> Snapshot:
        if tx.backend == "postgresql":
            tx.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        store_now, version, ledger = _snapshot_facts(tx)
        copied = {}
        for source in SOURCES:
            casts = ", ".join(f"CAST({name} AS {kind})" for name, kind in source.columns)
            copied[source.name] = 0
            for frame in read_pages(tx, source, page_rows):
                warehouse.register("_jengu_page", frame.to_arrow())
                try:
                    warehouse.execute(f"INSERT INTO {source.name} SELECT {casts} FROM _jengu_page")
                finally:
                    warehouse.unregister("_jengu_page")
                copied[source.name] += frame.height
        return Snapshot(store_now, version, ledger, copied)

    return store.engine.run(copy, read_only=True)


# Building in the new file ------------------------------------------------------------------------------------


def table_sql(name: str) -> str:
    """The SQL that builds one table, shipped as ``warehouse_sql/<name>.sql``."""
    return (resources.files("jengu_pipeline.store") / "warehouse_sql" / f"{name}.sql").read_text(encoding="utf-8")


def table_description(name: str) -> str:
    """What a published table holds: the comment lines its SQL file starts with, joined into one paragraph."""
    lines = itertools.takewhile(lambda line: line.startswith("--"), table_sql(name).splitlines())
    return " ".join(line.removeprefix("--").strip() for line in lines)


def table_inputs(name: str) -> list[str]:
    """The published tables ``name`` is built from: those its SQL names, directly or through a staging table's SQL."""

    def code(table: str) -> str:
        return re.sub(r"--[^\n]*", "", table_sql(table))

    text = code(name)
    for table in sorted(set(re.findall(r"\bstg_\w+", text))):
        if (resources.files("jengu_pipeline.store") / "warehouse_sql" / f"{table}.sql").is_file():
            text += code(table)
    return [other for other in WAREHOUSE_TABLES if other != name and re.search(rf"\b{other}\b", text)]


def _stage(warehouse: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
    warehouse.register("_jengu_frame", frame.to_arrow())
    try:
        warehouse.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _jengu_frame")
    finally:
        warehouse.unregister("_jengu_frame")


def _definition(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def stage_reference_tables(warehouse: duckdb.DuckDBPyConnection, rules: SendingRules) -> None:
    """Small tables the SQL joins to, from the domain's own definitions: reply intents, campaign arms, settings."""
    _stage(
        warehouse,
        "src_intents",
        pl.DataFrame(
            {
                "intent": list(CATEGORIES),
                "is_human": [c in HUMAN for c in CATEGORIES],
                "stops_outreach": [c in STOPPING for c in CATEGORIES],
            }
        ),
    )
    _stage(
        warehouse,
        "src_params",
        pl.DataFrame({"schedule_timezone": [rules.schedule_timezone], "warmup_stage_days": [rules.warmup_stage_days]}),
    )
    rows = warehouse.execute("SELECT campaign_id, definition FROM src_campaigns").fetchall()
    arms: dict[str, list[Any]] = {"campaign_id": [], "variant": [], "position": [], "weight": []}
    shape: dict[str, list[Any]] = {"campaign_id": [], "steps": [], "variants": [], "requires_approval": []}
    for campaign_id, text in rows:
        definition = _definition(text)
        variants = [v for v in definition.get("variants") or [] if isinstance(v, dict) and v.get("name")]
        for position, variant in enumerate(variants, start=1):
            arms["campaign_id"].append(campaign_id)
            arms["variant"].append(str(variant["name"]))
            arms["position"].append(position)
            arms["weight"].append(float(variant.get("weight", 1.0)))
        shape["campaign_id"].append(campaign_id)
        shape["steps"].append(len(definition.get("steps") or []))
        shape["variants"].append(", ".join(str(v["name"]) for v in variants) or None)
        shape["requires_approval"].append(bool(definition.get("requires_approval", False)))
    _stage(
        warehouse,
        "src_campaign_variants",
        pl.DataFrame(
            arms, schema={"campaign_id": pl.String, "variant": pl.String, "position": pl.Int64, "weight": pl.Float64}
        ),
    )
    _stage(
        warehouse,
        "src_campaign_shape",
        pl.DataFrame(
            shape,
            schema={
                "campaign_id": pl.String,
                "steps": pl.Int64,
                "variants": pl.String,
                "requires_approval": pl.Boolean,
            },
        ),
    )


def _bounds(successes: int, trials: int) -> tuple[float | None, float | None]:
    interval = wilson_interval(successes, trials)
    return (None, None) if interval is None else (interval.low, interval.high)


def _test(base: tuple[int, int], arm: tuple[int, int]) -> tuple[float | None, float | None]:
    test = two_proportion_test(base[0], base[1], arm[0], arm[1])
    return (None, None) if test is None else (test.z, test.p_value)


VARIANT_STATS = (
    "reply_rate_low",
    "reply_rate_high",
    "interested_rate_low",
    "interested_rate_high",
    "reply_z",
    "reply_p_value",
    "interested_z",
    "interested_p_value",
)


def stage_variant_stats(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Wilson intervals per arm and the two-proportion tests against each step's first arm (domain/stats.py)."""
    arms = warehouse.execute(
        "SELECT campaign_id, step, variant, arm_rank, sent, replies, interested"
        " FROM stg_variant_arms ORDER BY campaign_id, step, arm_rank"
    ).fetchall()
    baseline: dict[tuple[str, int], tuple[int, int, int]] = {}
    rows = []
    for campaign_id, step, variant, rank, sent, replies, interested in arms:
        if rank == 1:
            baseline[(campaign_id, step)] = (sent, replies, interested)
        base_sent, base_replies, base_interested = baseline[(campaign_id, step)]
        tests = (
            (
                *_test((base_replies, base_sent), (replies, sent)),
                *_test((base_interested, base_sent), (interested, sent)),
            )
            if rank > 1
            else (None,) * 4
        )
        reply_z, reply_p, interested_z, interested_p = tests
        rows.append(
            (
                campaign_id,
                step,
                variant,
                *_bounds(replies, sent),
                *_bounds(interested, sent),
                reply_z,
                reply_p,
                interested_z,
                interested_p,
            )
        )
    schema = {
        "campaign_id": pl.String,
        "step": pl.Int64,
        "variant": pl.String,
        **dict.fromkeys(VARIANT_STATS, pl.Float64),
    }
    _stage(warehouse, "stg_variant_stats", pl.DataFrame(rows, schema=schema, orient="row"))


def stage_inbox_caps(warehouse: duckdb.DuckDBPyConnection, rules: SendingRules) -> None:
    """Each inbox day's cap and warm-up stage by the sending rules (domain/sending.py), the way the sender caps it."""
    days = warehouse.execute("SELECT inbox, day, warmup_start, daily_cap FROM stg_inbox_days").fetchall()
    out: dict[str, list[Any]] = {"inbox": [], "day": [], "cap": [], "warmup_stage": []}
    for inbox, day, start, ceiling in days:
        out["inbox"].append(inbox)
        out["day"].append(day)
        out["cap"].append(_day_cap(start, day, ceiling, rules))
        out["warmup_stage"].append(
            None if start is None else 0 if day < start else (day - start).days // rules.warmup_stage_days + 1
        )
    _stage(
        warehouse,
        "stg_inbox_caps",
        pl.DataFrame(out, schema={"inbox": pl.String, "day": pl.Date, "cap": pl.Int64, "warmup_stage": pl.Int64}),
    )


def _day_cap(start: date | None, day: date, ceiling: int | None, rules: SendingRules) -> int | None:
    if ceiling is None:
        return None
    if start is None:
        return ceiling
    return warmup_cap(start, day, rules.warmup_stages, ceiling, rules.warmup_stage_days)


def build_tables(warehouse: duckdb.DuckDBPyConnection, rules: SendingRules) -> None:
    """Every published table, in order, from the staging tables already in ``warehouse``."""
    stage_reference_tables(warehouse, rules)
    for name in (*DIMENSIONS, *FACTS, "mart_funnel"):
        warehouse.execute(table_sql(name))
    warehouse.execute(table_sql("stg_variant_arms"))
    stage_variant_stats(warehouse)
    warehouse.execute(table_sql("mart_campaign_variants"))
    warehouse.execute(table_sql("stg_inbox_days"))
    stage_inbox_caps(warehouse, rules)
    for name in ("mart_inbox_health", "mart_provider_costs", "mart_reply_intents", "mart_time_to_reply"):
        warehouse.execute(table_sql(name))


def _write_build_row(
    warehouse: duckdb.DuckDBPyConnection,
    store: CrmStore,
    snapshot: Snapshot,
    built_at: datetime,
    tables: dict[str, int],
) -> None:
    warehouse.execute(
        f"CREATE TABLE {BUILD_TABLE} AS SELECT CAST(? AS TIMESTAMPTZ) AS built_at, CAST(? AS TIMESTAMPTZ) AS store_now,"
        " ? AS store, ? AS store_backend, ? AS schema_version, ? AS ledger_sent, CAST(? AS JSON) AS ledger_by_status,"
        " CAST(? AS JSON) AS copied_rows, CAST(? AS JSON) AS table_rows",
        [
            built_at,
            snapshot.store_now,
            store.display_url,
            store.backend,
            snapshot.schema_version,
            snapshot.ledger_sent,
            json.dumps(snapshot.ledger),
            json.dumps(snapshot.copied),
            json.dumps(tables),
        ],
    )


# Publishing --------------------------------------------------------------------------------------------------


def building_path(path: Path) -> Path:
    """A fresh name for the file being built, in the published file's folder (so the rename stays atomic)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:12]}{BUILDING_SUFFIX}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_abandoned(path: Path) -> list[Path]:
    """Remove half-built files of ``path`` left by builders that died (their process is gone)."""
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*{BUILDING_SUFFIX}*"):
        match = _BUILDING.match(candidate.name)
        if match and match["name"] == path.name and not _alive(int(match["pid"])):
            with suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _unlink(paths: Iterable[Path]) -> None:
    for item in paths:
        with suppress(FileNotFoundError):
            item.unlink()


def _fsync(path: Path, *, directory: bool = False) -> None:
    descriptor = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def _new_file(path: Path, memory_limit: str) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    building = building_path(path)
    spill = building.with_name(building.name + ".tmp")
    connection = duckdb.connect(
        str(building),
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(spill),
            "preserve_insertion_order": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    try:
        connection.execute("SET TimeZone = 'UTC'")
        yield building, connection
    except BaseException:
        connection.close()
        _unlink([building, building.with_name(building.name + ".wal")])
        raise
    finally:
        with suppress(duckdb.Error):
            connection.close()
        if spill.exists():
            for item in spill.iterdir():
                _unlink([item])
            spill.rmdir()


def publish_warehouse(
    store: CrmStore,
    path: Path,
    *,
    built_at: datetime,
    rules: SendingRules | None = None,
    page_rows: int = DEFAULT_PAGE_ROWS,
    memory_limit: str = DEFAULT_MEMORY_LIMIT,
) -> PublishedWarehouse:
    """Build the warehouse from ``store`` into a new file and atomically replace ``path`` with it.

    ``rules`` are the sending rules the inbox caps and sending days are computed by (their defaults when the
    inbox file is not at hand); ``built_at`` comes from the caller's clock.
    """
    started = time.monotonic()
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_abandoned(path)
    rules = rules or SendingRules()
    with _new_file(path, memory_limit) as (building, warehouse):
        snapshot = copy_store(store, warehouse, page_rows)
        build_tables(warehouse, rules)
        tables = {
            name: int(warehouse.execute(f"SELECT count(*) FROM {name}").fetchone()[0])  # type: ignore[index]
            for name in WAREHOUSE_TABLES
        }
        _write_build_row(warehouse, store, snapshot, built_at, tables)
        warehouse.execute("CHECKPOINT")
        warehouse.close()
        _fsync(building)
        os.replace(building, path)
        _fsync(path.parent, directory=True)
    return PublishedWarehouse(path, tables, built_at, time.monotonic() - started, snapshot)


def open_warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse, as an analyst opens it with plain duckdb."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: no warehouse published yet (run `jengu warehouse publish`)")
    return duckdb.connect(str(path), read_only=True)


# Checks of a published warehouse ------------------------------------------------------------------------------

FUNNEL_STAGES = ("imported", "website_found", "email_verified", "message_ready", "sent", "replied", "interested")
"""mart_funnel's stage columns, in order: each is at most the one before it."""
RATE_COLUMN = re.compile(r"(_rate|_rate_low|_rate_high|_share|_p_value)$")
"""Mart columns that are proportions or probabilities, so must lie in [0, 1] when not NULL."""


@dataclass(frozen=True)
class CheckOutcome:
    """A check's verdict and what it saw (counts and ids only: never an address or a name)."""

    passed: bool
    metadata: dict[str, Any]


def check_sent_matches_ledger(path: Path, store: CrmStore | None = None) -> CheckOutcome:
    """``fct_sends`` counts as sent exactly what the send ledger held as sent or bounced, status by status.

    The ledger's counts were read from the store in the same transaction the rows were copied in, so a
    pipeline sending meanwhile cannot make an honest build fail; the store's counts now are reported beside.
    """
    with open_warehouse(path) as warehouse:
        sent = int(warehouse.execute("SELECT count(*) FROM fct_sends WHERE is_sent").fetchone()[0])  # type: ignore[index]
        by_status = dict(warehouse.execute("SELECT status, count(*) FROM fct_sends GROUP BY status").fetchall())
        ledger_sent, ledger_text = warehouse.execute(
            f"SELECT ledger_sent, CAST(ledger_by_status AS VARCHAR) FROM {BUILD_TABLE}"
        ).fetchone()  # type: ignore[misc]
    ledger = {str(k): int(v) for k, v in json.loads(ledger_text).items()}
    metadata: dict[str, Any] = {
        "fct_sends_sent": sent,
        "ledger_sent_at_build": int(ledger_sent),
        "fct_sends_by_status": by_status,
        "ledger_by_status_at_build": ledger,
    }
    if store is not None:
        marks = ", ".join("?" for _ in SENT_STATUSES)
        metadata["ledger_sent_now"] = int(
            store.query(f"SELECT count(*) AS n FROM sends WHERE status IN ({marks})", list(SENT_STATUSES))["n"][0]
        )
    return CheckOutcome(sent == int(ledger_sent) and by_status == ledger, metadata)


def check_funnel_narrows(path: Path) -> CheckOutcome:
    """No row of ``mart_funnel`` has more prospects at a stage than at the stage before it."""
    widening = " OR ".join(f"{later} > {earlier}" for earlier, later in itertools.pairwise(FUNNEL_STAGES))
    with open_warehouse(path) as warehouse:
        rows = int(warehouse.execute("SELECT count(*) FROM mart_funnel").fetchone()[0])  # type: ignore[index]
        bad = warehouse.execute(
            f"SELECT batch_id, campaign_id, CAST(import_week AS VARCHAR) FROM mart_funnel WHERE {widening} LIMIT 10"
        ).fetchall()
        count = int(warehouse.execute(f"SELECT count(*) FROM mart_funnel WHERE {widening}").fetchone()[0])  # type: ignore[index]
    return CheckOutcome(count == 0, {"rows": rows, "rows_widening": count, "examples": [list(row) for row in bad]})


def rate_columns(warehouse: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(mart, column) of every proportion or probability column of the marts."""
    marks = ", ".join("?" for _ in MARTS)
    found = warehouse.execute(
        f"SELECT table_name, column_name FROM information_schema.columns WHERE table_name IN"
        f" ({marks}) ORDER BY table_name, ordinal_position",
        list(MARTS),
    ).fetchall()
    return [(table, column) for table, column in found if RATE_COLUMN.search(column)]


def check_rates_in_unit_interval(path: Path, table: str) -> CheckOutcome:
    """Every proportion and probability column of ``table`` lies in [0, 1] (NULL means no denominator)."""
    with open_warehouse(path) as warehouse:
        columns = [column for mart, column in rate_columns(warehouse) if mart == table]
        outside = {
            column: int(
                warehouse.execute(  # type: ignore[index]
                    f"SELECT count(*) FROM {table} WHERE {column} < 0 OR {column} > 1 OR isnan({column})"
                ).fetchone()[0]
            )
            for column in columns
        }
    bad = {column: count for column, count in outside.items() if count}
    return CheckOutcome(bool(columns) and not bad, {"columns_checked": columns, "values_outside": bad})
