"""Versioned SQL migrations, applied automatically and idempotently on first use of a store.

Files are ``migrations/NNNN_name.sql``; applied versions are rows of ``schema_migrations``. On PostgreSQL an
advisory lock serialises processes that migrate at once; on DuckDB the file lock already does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources
from string import Template

from jengu_pipeline.store.engine import Backend, Engine, Tx

MIGRATION_LOCK_ID = 0x6A656E6775  # "jengu": the PostgreSQL advisory lock key
_DIALECT: dict[Backend, dict[str, str]] = {
    "duckdb": {"json": "JSON", "blob": "BLOB", "now": "now()"},
    "postgresql": {"json": "JSONB", "blob": "BYTEA", "now": "now()"},
}
_process_lock = threading.Lock()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self, backend: Backend) -> list[str]:
        text = Template(self.sql).substitute(_DIALECT[backend])
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def available_migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    folder = resources.files("jengu_pipeline.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def latest_version() -> int:
    return available_migrations()[-1].version


def applied_versions(tx: Tx) -> set[int]:
    exists = tx.fetch_value("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'")
    if not exists:
        return set()
    return {row[0] for row in tx.fetch_all("SELECT version FROM schema_migrations")}


def migrate(engine: Engine) -> list[int]:
    """Apply every pending migration in one transaction (all or nothing); returns the versions applied."""

    def apply_pending(tx: Tx) -> list[int]:
        if tx.backend == "postgresql":
            tx.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK_ID])
        tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
            " applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        done = applied_versions(tx)
        applied = []
        for migration in available_migrations():
            if migration.version in done:
                continue
            for statement in migration.statements(tx.backend):
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [migration.version, migration.name]
            )
            applied.append(migration.version)
        return applied

    with _process_lock:
        return engine.run(apply_pending)
