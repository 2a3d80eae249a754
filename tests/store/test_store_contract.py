"""The CRM store's contract, run against DuckDB and a real PostgreSQL server."""

from __future__ import annotations

import json

import polars as pl
import pytest

from jengu_pipeline.store import CrmStore, StaleVersionError, Tx, open_store
from jengu_pipeline.store.migrations import available_migrations, latest_version
from jengu_pipeline.store.repository import PROSPECT_CHILD_TABLES

TABLES = (
    "batches",
    "prospects",
    "rejected_rows",
    "websites",
    "email_verifications",
    "messages",
    "sends",
    "replies",
    "suppressions",
    "activities",
    "inboxes",
    "provider_calls",
    "flags",
    "schema_migrations",
)


def add_prospect(store: CrmStore, prospect_id: str, email: str | None = None, linkedin: str | None = None) -> None:
    def insert(tx: Tx) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES ('b1', 'b1', 'f.csv', 'h')"
            " ON CONFLICT DO NOTHING"
        )
        tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [prospect_id])
        tx.execute(
            "INSERT INTO prospects (prospect_id, batch_id, first_name, email, active_email, linkedin_url,"
            " active_linkedin_url) VALUES (?, 'b1', 'Zoë', ?, ?, ?, ?)",
            [prospect_id, email, email, linkedin, linkedin],
        )

    store.run(insert)


def test_migrations_create_every_table_and_are_idempotent(store: CrmStore, store_url: str) -> None:
    assert store.schema_version() == latest_version()
    for table in TABLES:
        assert store.count(table) >= 0
    assert store.migrate() == []
    assert open_store(store_url).migrate() == []
    assert store.count("schema_migrations") == len(available_migrations())


def test_active_email_is_unique_until_archived(store: CrmStore) -> None:
    add_prospect(store, "p1", email="zoe@nordlys.test")
    with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
        add_prospect(store, "p2", email="zoe@nordlys.test")
    assert store.count("prospects") == 1
    store.archive_prospect("p1", reason="left the hotel")
    add_prospect(store, "p2", email="zoe@nordlys.test")
    assert store.count("prospects") == 2


def test_active_linkedin_url_is_unique(store: CrmStore) -> None:
    add_prospect(store, "p1", linkedin="https://www.linkedin.com/in/zoe")
    with pytest.raises(Exception, match=r"(?i)duplicate|unique"):
        add_prospect(store, "p2", linkedin="https://www.linkedin.com/in/zoe")


def test_active_mirror_cannot_disagree_with_email(store: CrmStore) -> None:
    add_prospect(store, "p1", email="a@nordlys.test")
    with pytest.raises(Exception, match=r"(?i)check"):
        store.run(
            lambda tx: tx.execute("UPDATE prospects SET active_email = 'b@nordlys.test' WHERE prospect_id = 'p1'")
        )


def test_foreign_keys_refuse_orphans(store: CrmStore) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        store.run(
            lambda tx: tx.execute(
                "INSERT INTO websites (prospect_id, url, domain, source, confidence) VALUES ('ghost', 'u', 'd', 's', 1)"
            )
        )
    assert store.count("websites") == 0


def test_delete_prospect_leaves_no_orphans(store: CrmStore) -> None:
    add_prospect(store, "p1", email="a@nordlys.test")
    add_prospect(store, "p2", email="b@nordlys.test")
    for pid in ("p1", "p2"):
        store.run(
            lambda tx, pid=pid: tx.execute(
                "INSERT INTO websites (prospect_id, url, domain, source, confidence) VALUES (?, 'https://n.test', "
                "'n.test', 'sandbox', 0.9)",
                [pid],
            )
        )
        store.add_activity("note", "hello", prospect_id=pid)
    store.delete_prospect("p1")
    for table in ("prospects", "websites", "prospect_registry"):
        assert store.query(f"SELECT prospect_id FROM {table}")["prospect_id"].to_list() == ["p2"]
    assert store.query("SELECT DISTINCT prospect_id FROM activities")["prospect_id"].to_list() == ["p2"]
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        store.run(lambda tx: tx.execute("DELETE FROM prospect_registry WHERE prospect_id = 'p2'"))


def test_delete_prospect_knows_every_table_that_names_a_prospect(store: CrmStore) -> None:
    tables = store.query(
        "SELECT DISTINCT table_name FROM information_schema.columns WHERE column_name = 'prospect_id'"
        " AND table_schema IN ('main', 'public') AND table_name <> 'prospect_registry'"
    )["table_name"].to_list()
    assert sorted(tables) == sorted(PROSPECT_CHILD_TABLES)


def test_optimistic_lock_detects_a_concurrent_edit(store: CrmStore) -> None:
    add_prospect(store, "p1", email="a@nordlys.test")
    read_by_alice = store.get_prospect("p1")
    read_by_bob = store.get_prospect("p1")
    assert read_by_alice is not None
    assert read_by_bob is not None
    new_version = store.update_prospect("p1", read_by_alice["version"], {"stage": "contacted"}, actor="alice")
    assert new_version == read_by_alice["version"] + 1
    with pytest.raises(StaleVersionError, match="version 2"):
        store.update_prospect("p1", read_by_bob["version"], {"stage": "lost"}, actor="bob")
    after = store.get_prospect("p1")
    assert after is not None
    assert after["stage"] == "contacted"
    assert store.query("SELECT count(*) AS n FROM activities WHERE type = 'prospect_edited'")["n"][0] == 1


def test_editing_email_keeps_the_active_mirror(store: CrmStore) -> None:
    add_prospect(store, "p1", email="a@nordlys.test")
    store.update_prospect("p1", 1, {"email": "b@nordlys.test"})
    row = store.get_prospect("p1")
    assert row is not None
    assert row["active_email"] == "b@nordlys.test"
    add_prospect(store, "p2", email="a@nordlys.test")


def test_a_literal_percent_sign_is_text_on_both_backends(store: CrmStore) -> None:
    add_prospect(store, "p1", email="a@nordlys.test")
    assert store.query("SELECT prospect_id FROM prospects WHERE email LIKE '%@nordlys%'").rows() == [("p1",)]
    assert store.query("SELECT count(*) AS n FROM prospects WHERE email LIKE ?", ["%nordlys%"])["n"][0] == 1


def test_query_is_read_only(store: CrmStore) -> None:
    with pytest.raises(Exception, match=r"(?i)read.only"):
        store.query("DELETE FROM flags")


def test_quota_reservation_never_exceeds_the_limit(store: CrmStore) -> None:
    granted = [store.reserve_quota("brave", 1, daily_limit=5) for _ in range(8)]
    assert granted == [True] * 5 + [False] * 3
    assert store.quota_used("brave") == 5
    store.release_quota("brave", 2)
    assert store.reserve_quota("brave", 2, daily_limit=5)
    assert not store.reserve_quota("brave", 1, daily_limit=5)


def test_cache_round_trip_and_expiry(store: CrmStore) -> None:
    store.cache_put("brave", "q=hotel", {"hits": ["a"]}, ttl_seconds=60)
    assert store.cache_get("brave", "q=hotel") == {"hits": ["a"]}
    store.cache_put("brave", "q=old", [1], ttl_seconds=-1)
    assert store.cache_get("brave", "q=old") is None
    assert store.cache_get("brave", "missing") is None


def test_flags_and_emergency_stop(store: CrmStore) -> None:
    assert not store.emergency_stopped()
    store.set_flag("emergency_stop", "on", actor="ops")
    assert store.emergency_stopped()
    store.set_flag("emergency_stop", "off", actor="ops")
    assert not store.emergency_stopped()


def test_json_columns_read_back_as_text_on_both_backends(store: CrmStore) -> None:
    store.add_activity("note", "hello", metadata={"fields": ["stage"], "version": 2})
    frame = store.query("SELECT metadata FROM activities")
    assert frame.schema["metadata"] == pl.String
    assert json.loads(frame["metadata"][0]) == {"fields": ["stage"], "version": 2}
    assert frame.write_csv().startswith("metadata")
