"""Attacks on the read-only SQL paths, and a small seeded store to try them on (shared by store and CLI tests).

Each attack names the files it would create if it worked (``{tmp}`` is the test's temporary directory), so
that a test can assert that they do not exist afterwards, and the store's fingerprint proves nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.engine import Tx


@dataclass(frozen=True)
class Attack:
    name: str
    sql: str
    refusal: str
    """A fragment of the one-line refusal message (lower case)."""
    files: tuple[str, ...] = ()
    backends: tuple[str, ...] = ("duckdb", "postgresql")

    def text(self, tmp: Path) -> str:
        return self.sql.replace("{tmp}", str(tmp))

    def paths(self, tmp: Path) -> list[Path]:
        return [Path(f.replace("{tmp}", str(tmp))) for f in self.files]


ONLY_ONE_SELECT = "only one read-only select"
ATTACKS = (
    Attack(
        "copy-to-file",
        "COPY (SELECT * FROM prospects) TO '{tmp}/stolen.csv'",
        "copy statements",
        files=("{tmp}/stolen.csv",),
    ),
    Attack(
        "copy-writes-pth",
        "COPY (SELECT 'import os; os.system(''touch {tmp}/owned'')') TO '{tmp}/evil.pth' (HEADER false, QUOTE '')",
        "copy statements",
        files=("{tmp}/evil.pth", "{tmp}/owned"),
    ),
    Attack(
        "copy-lowercase-leading-comment",
        "/* report */ copy flags to '{tmp}/flags.csv'",
        "copy statements",
        files=("{tmp}/flags.csv",),
    ),
    Attack("read-csv", "SELECT * FROM read_csv('/etc/passwd')", "read_csv() is not allowed: it reads"),
    Attack("read-csv-auto", "SELECT * FROM read_csv_auto('/etc/passwd', header = false)", "read_csv"),
    Attack("read-text", "SELECT * FROM read_text('/etc/hostname')", "read_text() is not allowed"),
    Attack("read-blob-scalar", "SELECT content FROM read_blob('/etc/hostname')", "read_blob() is not allowed"),
    Attack("read-parquet", "SELECT * FROM read_parquet('{tmp}/*.parquet')", "read_parquet"),
    Attack("read-json", "SELECT * FROM read_json_auto('/etc/hostname')", "read_json_auto() is not allowed"),
    Attack("glob", "SELECT * FROM glob('/etc/*')", "glob"),
    Attack("sniff-csv", "SELECT * FROM sniff_csv('/etc/passwd')", "sniff_csv() is not allowed"),
    Attack("file-replacement-scan", "SELECT * FROM '/etc/passwd'", "not a table of the store"),
    Attack("install", "INSTALL httpfs", "install statements"),
    Attack("load", "LOAD httpfs", "load statements"),
    Attack("force-install", "FORCE INSTALL httpfs FROM community", "force statements"),
    Attack("set", "SET enable_external_access = true", "set statements"),
    Attack("reset", "RESET lock_configuration", "reset statements"),
    Attack("pragma", "PRAGMA enable_profiling", "pragma statements"),
    Attack("call-pragma", "CALL pragma_version()", "call statements"),
    Attack("attach", "ATTACH '{tmp}/other.duckdb' AS other", "attach statements", files=("{tmp}/other.duckdb",)),
    Attack("export-database", "EXPORT DATABASE '{tmp}/dump'", "export statements", files=("{tmp}/dump",)),
    Attack("two-selects", "SELECT 1; SELECT 2", "2 statements"),
    Attack("select-then-drop", "SELECT 1; DROP TABLE prospects", "2 statements"),
    Attack("comment-hides-second", "SELECT 1 /* harmless */; DROP TABLE flags -- tidy", "2 statements"),
    Attack("line-comment-then-second", "SELECT 1 -- ends here\n; DELETE FROM flags", "2 statements"),
    Attack("delete", "DELETE FROM flags", ONLY_ONE_SELECT),
    Attack("update", "UPDATE prospects SET tier = 'hot'", ONLY_ONE_SELECT),
    Attack(
        "insert-after-with", "WITH x AS (SELECT 1) INSERT INTO flags (name, value) SELECT 'a', 'b' FROM x", "insert"
    ),
    Attack(
        "cte-with-delete",
        "WITH gone AS (DELETE FROM flags RETURNING *) SELECT count(*) FROM gone",
        "delete is not allowed inside",
    ),
    Attack("create-table-as", "CREATE TABLE loot AS SELECT * FROM prospects", ONLY_ONE_SELECT),
    Attack("select-into", "SELECT * INTO loot FROM prospects", "select ... into"),
    Attack("for-update", "SELECT * FROM flags FOR UPDATE", "for update"),
    Attack("begin", "BEGIN TRANSACTION READ WRITE", ONLY_ONE_SELECT),
    Attack("checkpoint", "CHECKPOINT", ONLY_ONE_SELECT),
    Attack("query-in-a-string", "SELECT * FROM query('DELETE FROM flags')", "runs sql held in a string"),
    Attack("query-to-xml", "SELECT query_to_xml('DELETE FROM flags', true, true, '')", "runs sql held in a string"),
    Attack("settings-function", "SELECT current_setting('enable_external_access')", "settings"),
    Attack("set-config", "SELECT set_config('default_transaction_read_only', 'off', false)", "settings"),
    Attack("duckdb-settings", "SELECT * FROM duckdb_settings()", "settings"),
    Attack("duckdb-secrets", "SELECT * FROM duckdb_secrets()", "settings"),
    Attack("getenv", "SELECT getenv('HOME')", "getenv() is not allowed"),
    Attack("pg-read-file", "SELECT pg_read_file('/etc/hostname')", "pg_read_file() is not allowed: it reads"),
    Attack("pg-read-binary-file", "SELECT pg_read_binary_file('/etc/hostname')", "pg_read_binary_file()"),
    Attack("pg-ls-dir", "SELECT * FROM pg_ls_dir('/etc')", "pg_ls_dir() is not allowed"),
    Attack("lo-import", "SELECT lo_import('/etc/hostname')", "lo_import() is not allowed"),
    Attack("lo-export", "SELECT lo_export(lo_from_bytea(0, 'x'), '{tmp}/lo.bin')", "lo_", files=("{tmp}/lo.bin",)),
    Attack("dblink", "SELECT * FROM dblink('host=example.test', 'SELECT 1') AS t(x int)", "dblink()"),
    Attack("nextval", "SELECT nextval('activity_ids')", "nextval() is not allowed"),
    Attack("sleep", "SELECT pg_sleep(60)", "pg_sleep() is not allowed"),
    Attack("other-schema", "SELECT * FROM pg_catalog.pg_authid", "schema 'pg_catalog' is not readable"),
    Attack("other-catalog", "SELECT * FROM system.main.duckdb_settings", "another database"),
    Attack("escape-string-desync", "SELECT E'\\'; DROP TABLE flags; --'", "bytestring"),
    Attack("bidi-override", "SELECT 1 /* \u202e */", "u+202e"),
    Attack("zero-width-space", "DR\u200bOP TABLE flags", "u+200b"),
    Attack("nul-byte", "SELECT 1\x00; DROP TABLE flags", "u+0000"),
    Attack("fullwidth-semicolon", "SELECT 1\uff1b DROP TABLE flags", "could not parse"),
    Attack("homoglyph-table", "SELECT * FROM \u0440rospects", "not a table of the store"),
    Attack("empty", "  -- nothing\n", "empty"),
)

FILTER_ATTACKS = (
    Attack(
        "semicolon-copy",
        "1=0; COPY (SELECT * FROM prospects) TO '{tmp}/where.csv'",
        "one condition",
        files=("{tmp}/where.csv",),
    ),
    Attack("semicolon-drop", "tier = 'hot'; DROP TABLE flags", "one condition"),
    Attack("subquery", "prospect_id IN (SELECT prospect_id FROM prospects)", "not a query"),
    Attack("other-table-column", "flags.value = 'on'", "plain column name"),
    Attack("unknown-column", "secret = 1", "unknown column 'secret'"),
    Attack("file-function", "read_text('/etc/hostname') IS NOT NULL", "read_text() is not allowed in a filter"),
    Attack("settings-function", "current_setting('search_path') = 'x'", "not allowed in a filter"),
    Attack("sleep", "pg_sleep(10) IS NULL", "not allowed in a filter"),
    Attack("union", "1=1 UNION SELECT * FROM flags", "one condition"),
    Attack("homoglyph-column", "\u0442ier = 'hot'", "unknown column"),
    Attack("bidi", "tier = 'hot\u202e'", "u+202e"),
    Attack("fullwidth-semicolon", "tier = 'hot'\uff1b DROP TABLE flags", "one condition"),
    Attack("empty", "   ", "empty"),
)


def seed(store: CrmStore) -> None:
    """Two batches, four prospects, flags and activities: enough for joins, aggregates and filters."""

    def write(tx: Tx) -> None:
        tx.execute_many(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)",
            [("b1", "first", "first.csv", "h1"), ("b2", "second", "second.csv", "h2")],
        )
        people: list[tuple[Any, ...]] = [
            ("p1", "b1", "Ana", "Hotel Nordlys", "hot", 90, "contacted", False, "ana@nordlys.test"),
            ("p2", "b1", "Per", "Hotel Nordlys", "warm", 55, "new", False, "per@nordlys.test"),
            ("p3", "b2", "Mia", "Alpenhof 50% off", "cold", 10, "new", False, None),
            ("p4", "b2", "O'Brien", "Seaview", "hot", 75, "archived", True, None),
        ]
        tx.execute_many("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [(p[0],) for p in people])
        tx.execute_many(
            "INSERT INTO prospects (prospect_id, batch_id, first_name, company, tier, score, stage, "
            "archived, email, active_email) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*p, None if p[7] else p[8]) for p in people],
        )
        tx.execute_many(
            "INSERT INTO activities (prospect_id, batch_id, type, title) VALUES (?, ?, ?, ?)",
            [("p1", "b1", "email", "sent"), ("p1", "b1", "reply", "interested"), ("p2", "b1", "email", "sent")],
        )

    store.run(write)
    store.set_flag("emergency_stop", "off", actor="test")


def fingerprint(store: CrmStore) -> dict[str, Any]:
    """Every table of the store with its row count and a digest of its rows: equal means unchanged."""

    def read(tx: Tx) -> dict[str, Any]:
        tables = [
            name
            for (name,) in tx.fetch_all(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "ORDER BY table_name"
            )
        ]
        return {name: sorted(map(repr, tx.fetch_all(f"SELECT * FROM {name}"))) for name in tables}

    return store.run(read)
