"""A person's SQL and filters, run so that read-only means read-only on both backends.

Two walls. The first is :mod:`jengu_pipeline.domain.sql_guard`: one SELECT over the store's tables and
ordinary functions, regenerated from the checked tree. The second is the connection, so that a gap in the
first still cannot read or write a file, load an extension or change a setting:

- DuckDB: opened ``read_only`` with external access (files, network), extension auto-install/auto-load,
  community extensions and Python replacement scans off, and the configuration locked; DuckDB's own parser
  must also see exactly one SELECT.
- PostgreSQL: a ``READ ONLY`` transaction (checked, not assumed), a statement timeout, and every statement
  sent as a prepared statement, which the server refuses to hold more than one command. File functions are
  the role's business: production uses a role without file privileges (README, "Read-only SQL").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import polars as pl

from jengu_pipeline.domain.sql_guard import SqlRefused, compile_filter, dialect_for, guard_query
from jengu_pipeline.store.engine import Engine, StoreError, Tx

DEFAULT_TIMEOUT_SECONDS = 60.0
"""How long one query may run on PostgreSQL before the server cancels it."""

HARDENED_DUCKDB_CONFIG: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "python_enable_replacements": False,
    "lock_configuration": True,
}
"""DuckDB 1.5 settings for a connection that runs a person's query; ``lock_configuration`` comes last."""


class ReadOnlyEngine(Engine):
    """The store's engine (same file lock, retries and transaction), with every connection hardened."""

    def __init__(self, engine: Engine, timeout_seconds: float) -> None:
        super().__init__(engine.url.target if engine.backend == "postgresql" else f"duckdb:///{engine.url.target}")
        self.timeout_seconds = timeout_seconds

    def _connect(self, read_only: bool) -> Any:
        if self.backend == "duckdb":
            return duckdb.connect(self.url.target, read_only=True, config=dict(HARDENED_DUCKDB_CONFIG))
        connection = super()._connect(read_only=True)
        connection.prepare_threshold = 0  # every statement prepared: the server refuses two commands in one
        milliseconds = str(max(1, round(self.timeout_seconds * 1000)))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('statement_timeout', %s, true), "
                "set_config('lock_timeout', %s, true), current_setting('transaction_read_only')",
                [milliseconds, milliseconds],
            )
            row = cursor.fetchone()
        if row is None or row[2] != "on":
            connection.close()
            raise StoreError("PostgreSQL did not open a read-only transaction; the query was not run")
        return connection


def readable_tables(tx: Tx) -> tuple[str | None, list[str]]:
    """The current schema and the tables and views in it: all a person's query may name."""
    schema = tx.fetch_value("SELECT current_schema()")
    names = tx.fetch_all(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_catalog = current_database() ORDER BY table_name"
    )
    return schema, [str(name) for (name,) in names]


def table_columns(tx: Tx, table: str) -> list[str]:
    """The columns of one table of the current schema, in order."""
    rows = tx.fetch_all(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_catalog = current_database() AND table_name = ? ORDER BY ordinal_position",
        [table],
    )
    return [str(name) for (name,) in rows]


def _check_duckdb_statement(sql: str) -> None:
    statements = duckdb.extract_statements(sql)
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise SqlRefused("DuckDB does not read the checked query as exactly one SELECT; it was not run")


def run_read_only_query(
    engine: Engine, sql: str, params: Sequence[Any] = (), *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> pl.DataFrame:
    """Check a person's ``sql`` (:class:`SqlRefused` if refused) and run it on a hardened read-only connection."""
    dialect = dialect_for(engine.backend)

    def read(tx: Tx) -> pl.DataFrame:
        schema, tables = readable_tables(tx)
        checked = guard_query(sql, dialect=dialect, tables=tables, schema=schema)
        if tx.backend == "duckdb":
            _check_duckdb_statement(checked)
        return tx.fetch_frame(checked, params)

    return ReadOnlyEngine(engine, timeout_seconds).run(read, read_only=True)


def read_table(
    engine: Engine, table: str, where: str | None = None, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> pl.DataFrame:
    """Every row of one store table, optionally filtered by a person's condition, bound and never pasted."""
    dialect = dialect_for(engine.backend)

    def read(tx: Tx) -> pl.DataFrame:
        schema, tables = readable_tables(tx)
        if table not in tables:
            raise SqlRefused(f"table {table!r} is not a table of the store")
        quoted = '"' + table.replace('"', '""') + '"'
        sql, params = f"SELECT * FROM {quoted}", ()
        if where is not None:
            bound = compile_filter(where, dialect=dialect, columns=table_columns(tx, table))
            sql, params = f"{sql} WHERE {bound.sql}", bound.params
        checked = guard_query(sql, dialect=dialect, tables=tables, schema=schema)
        if tx.backend == "duckdb":
            _check_duckdb_statement(checked)
        return tx.fetch_frame(checked, params)

    return ReadOnlyEngine(engine, timeout_seconds).run(read, read_only=True)
