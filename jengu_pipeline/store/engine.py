"""Short-lived connections and transactions over DuckDB or PostgreSQL, with one SQL dialect.

Queries are written once with ``?`` placeholders. DuckDB lets one process write a file at a time, so a
transaction opens its own connection, commits and closes it, and a lock conflict (another process holds the
file, or two transactions touched the same row) is retried with backoff and jitter. The same retry covers
PostgreSQL serialization failures and deadlocks.
"""

from __future__ import annotations

import io
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import duckdb
import polars as pl
import psycopg
from psycopg import errors as pg_errors
from psycopg.types.string import TextLoader

Backend = Literal["duckdb", "postgresql"]
T = TypeVar("T")

LOCK_RETRY_SECONDS = 60.0
"""How long a transaction keeps retrying a DuckDB file lock or a write conflict before giving up."""


class StoreError(Exception):
    """The CRM store refused an operation; the message says which and why."""


class StoreBusyError(StoreError):
    """The store stayed locked by other writers for longer than the retry budget."""


class StaleVersionError(StoreError):
    """An optimistic-locking update found a newer version than the one the editor read."""


@dataclass(frozen=True)
class StoreUrl:
    """A parsed CRM store URL: ``duckdb:///path/file.duckdb`` or ``postgresql://...``."""

    backend: Backend
    target: str

    @classmethod
    def parse(cls, url: str) -> StoreUrl:
        if url.startswith("duckdb:///"):
            return cls("duckdb", url.removeprefix("duckdb:///"))
        if url.startswith(("postgresql://", "postgres://")):
            return cls("postgresql", url)
        raise StoreError(f"unsupported store URL {redact_url(url)!r}: use duckdb:///path or postgresql://...")


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for logs and error messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


class Tx:
    """One open transaction. Only valid inside ``Engine.transaction``."""

    def __init__(self, backend: Backend, connection: Any) -> None:
        self.backend = backend
        self._connection = connection

    def _sql(self, sql: str) -> str:
        """psycopg's placeholders are ``%s``, so a literal ``%`` (a LIKE pattern) must be doubled first."""
        return sql.replace("%", "%%").replace("?", "%s") if self.backend == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.backend == "duckdb":
            self._connection.execute(sql, list(params))
        else:
            with self._connection.cursor() as cursor:
                cursor.execute(self._sql(sql), list(params))

    def execute_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if self.backend == "duckdb":
            self._connection.executemany(sql, [list(r) for r in rows])
        else:
            with self._connection.cursor() as cursor:
                cursor.executemany(self._sql(sql), [list(r) for r in rows])

    def fetch_all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        if self.backend == "duckdb":
            return list(self._connection.execute(sql, list(params)).fetchall())
        with self._connection.cursor() as cursor:
            cursor.execute(self._sql(sql), list(params))
            return list(cursor.fetchall())

    def fetch_one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self.fetch_all(sql, params)
        return rows[0] if rows else None

    def fetch_value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.fetch_one(sql, params)
        return row[0] if row else None

    def fetch_frame(self, sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
        if self.backend == "duckdb":
            return self._connection.execute(sql, list(params)).pl()
        with self._connection.cursor() as cursor:
            cursor.execute(self._sql(sql), list(params))
            columns = [c.name for c in cursor.description or ()]
            return pl.DataFrame(cursor.fetchall(), schema=columns, orient="row", infer_schema_length=None)

    def insert_frame(self, table: str, frame: pl.DataFrame) -> int:
        """Bulk-insert a frame whose column names are the table's; returns the rows written."""
        if frame.is_empty():
            return 0
        columns = ", ".join(frame.columns)
        if self.backend == "duckdb":
            self._connection.register("_jengu_frame", frame.to_arrow())
            try:
                self._connection.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _jengu_frame")
            finally:
                self._connection.unregister("_jengu_frame")
        else:
            buffer = io.BytesIO()
            frame.write_csv(buffer, include_header=False, null_value="\\N", quote_style="necessary")
            with (
                self._connection.cursor() as cursor,
                cursor.copy(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy,
            ):
                copy.write(buffer.getvalue())
        return frame.height

    def temp_table(self, name: str, frame: pl.DataFrame) -> None:
        """Stage a frame as a temporary table dropped at commit, for set-based INSERT/UPDATE ... FROM."""
        if self.backend == "duckdb":
            self._connection.register("_jengu_frame", frame.to_arrow())
            try:
                self._connection.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM _jengu_frame")
            finally:
                self._connection.unregister("_jengu_frame")
            return
        columns = ", ".join(
            f"{column} {_PG_TYPES.get(dtype.base_type(), 'TEXT')}" for column, dtype in frame.schema.items()
        )
        self.execute(f"CREATE TEMP TABLE {name} ({columns}) ON COMMIT DROP")
        self.insert_frame(name, frame)


_PG_TYPES = {
    pl.String: "TEXT",
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Boolean: "BOOLEAN",
    pl.Float64: "DOUBLE PRECISION",
    pl.Null: "TEXT",
}


_duckdb_locks: dict[str, threading.RLock] = {}
_duckdb_locks_guard = threading.Lock()
_duckdb_held: dict[str, Any] = {}
"""DuckDB files this process keeps open (``Engine.held_open``): path -> the connection that holds it."""


def _duckdb_file_lock(url: StoreUrl) -> threading.RLock:
    """One transaction at a time per DuckDB file within this process.

    DuckDB has one writer anyway; threads opening the same file at once otherwise fail with "unique file
    handle conflict", and racing ``INSERT ... ON CONFLICT`` statements with spurious duplicate keys.
    Other processes are kept out by DuckDB's own file lock.
    """
    key = str(Path(url.target).resolve())
    with _duckdb_locks_guard:
        return _duckdb_locks.setdefault(key, threading.RLock())


def _is_retryable(error: BaseException) -> bool:
    if isinstance(error, duckdb.IOException):
        return "lock" in str(error).lower()
    if isinstance(error, duckdb.TransactionException):
        return "conflict" in str(error).lower()
    return isinstance(error, pg_errors.SerializationFailure | pg_errors.DeadlockDetected)


class Engine:
    """Opens a connection per transaction and retries lock conflicts; knows nothing about the schema."""

    def __init__(self, url: str) -> None:
        self.url = StoreUrl.parse(url)
        if self.url.backend == "duckdb":
            Path(self.url.target).parent.mkdir(parents=True, exist_ok=True)

    @property
    def backend(self) -> Backend:
        return self.url.backend

    @property
    def display_url(self) -> str:
        return redact_url(self.url.target) if self.backend == "postgresql" else f"duckdb:///{self.url.target}"

    def _connect(self, read_only: bool) -> Any:
        if self.backend == "duckdb":
            if str(Path(self.url.target).resolve()) in _duckdb_held:
                # The process holds the database open read-write; DuckDB then refuses a read-only connection to
                # it, so a read goes through an ordinary one (its SQL is still only the caller's SELECT).
                return duckdb.connect(self.url.target)
            # A read-only connection waits (via the lock retry) while another process writes; the
            # database itself then refuses any write the query might attempt.
            return duckdb.connect(self.url.target, read_only=read_only)
        connection = psycopg.connect(self.url.target, autocommit=False)
        for json_type in ("json", "jsonb"):  # JSON comes back as text, as DuckDB returns it
            connection.adapters.register_loader(json_type, TextLoader)
        if read_only:
            connection.read_only = True
        return connection

    @contextmanager
    def _open(self, read_only: bool) -> Iterator[Tx]:
        with _duckdb_file_lock(self.url) if self.backend == "duckdb" else nullcontext(), self._opened(read_only) as tx:
            yield tx

    @contextmanager
    def _opened(self, read_only: bool) -> Iterator[Tx]:
        connection = self._connect(read_only)
        try:
            if self.backend == "duckdb":
                connection.execute("BEGIN TRANSACTION")
            tx = Tx(self.backend, connection)
            try:
                yield tx
            except BaseException:
                connection.rollback()
                raise
            else:
                connection.commit()
        finally:
            connection.close()

    def run(self, work: Callable[[Tx], T], *, read_only: bool = False) -> T:
        """Run ``work`` in one transaction, retrying it whole on lock conflicts with backoff and jitter."""
        deadline = time.monotonic() + LOCK_RETRY_SECONDS
        attempt = 0
        while True:
            try:
                with self._open(read_only) as tx:
                    return work(tx)
            except (duckdb.Error, psycopg.Error) as error:
                if not _is_retryable(error):
                    raise
                attempt += 1
                if time.monotonic() >= deadline:
                    raise StoreBusyError(
                        f"store {self.display_url} stayed locked for {LOCK_RETRY_SECONDS:.0f}s: {error}"
                    ) from error
                time.sleep(random.uniform(0, min(1.0, 0.01 * 2**attempt)))

    @contextmanager
    def held_open(self) -> Iterator[None]:
        """Keep a DuckDB store open in this process while inside: every transaction still has its own connection,
        but DuckDB reuses the open database instead of loading it again (about a millisecond instead of tens).
        No other process can use the file meanwhile, so this is for runs that are one process (the demo). A
        no-op on PostgreSQL."""
        key = str(Path(self.url.target).resolve()) if self.backend == "duckdb" else ""
        if not key or key in _duckdb_held:
            yield
            return
        with _duckdb_file_lock(self.url):
            _duckdb_held[key] = duckdb.connect(self.url.target)
        try:
            yield
        finally:
            with _duckdb_file_lock(self.url):
                _duckdb_held.pop(key).close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A transaction without automatic retry, for callers that handle conflicts themselves."""
        with self._open(read_only=False) as tx:
            yield tx
