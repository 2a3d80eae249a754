"""Publishing is atomic: readers keep the file they opened, never see a half-built one, and a build that fails
or is killed leaves the published warehouse as it was. The checks pass on an honest build and fail on a broken one.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from jengu_pipeline.store import CrmStore
from jengu_pipeline.store import warehouse as warehouse_module
from jengu_pipeline.store.warehouse import (
    BUILDING_SUFFIX,
    MARTS,
    WAREHOUSE_TABLES,
    check_funnel_narrows,
    check_rates_in_unit_interval,
    check_sent_matches_ledger,
    publish_warehouse,
)

BUILT_AT = datetime(2025, 2, 1, 6, 0, tzinfo=UTC)
PROJECT = Path(__file__).parents[2]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sent_count(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as reader:
        return int(reader.execute("SELECT count(*) FROM fct_sends WHERE is_sent").fetchone()[0])


def add_sent_send(store: CrmStore, send_id: str) -> None:
    """One more sent message in the ledger (prospect p06, campaign spring, step 1)."""
    store.run(
        lambda tx: tx.execute(
            "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
            " rfc_message_id, status, claimed_at, sent_at) VALUES (?, 'p06', 'spring', 1, 'm-p06-1',"
            " 'anna@jengu.test', 'p06@hotel-p06.test', ?, 'sent', ?, ?)",
            [send_id, f"<{send_id}@jengu.test>", BUILT_AT, BUILT_AT],
        )
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if BUILDING_SUFFIX in p.name)


def test_a_reader_holding_the_old_file_keeps_reading_it(seeded: CrmStore, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    with duckdb.connect(str(path), read_only=True) as old_reader:
        assert old_reader.execute("SELECT count(*) FROM fct_sends WHERE is_sent").fetchone() == (7,)
        add_sent_send(seeded, "s09")
        publish_warehouse(seeded, path, built_at=BUILT_AT)  # not blocked by the open reader
        assert old_reader.execute("SELECT count(*) FROM fct_sends WHERE is_sent").fetchone() == (7,)
        assert old_reader.execute("SELECT sum(sent) FROM mart_funnel").fetchone() == (6,)  # prospects, not sends
    assert sent_count(path) == 8


def test_readers_opening_during_publishes_always_see_a_whole_warehouse(seeded: CrmStore, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    stop = threading.Event()
    seen: list[int] = []
    errors: list[BaseException] = []

    def read() -> None:
        while not stop.is_set():
            try:
                with duckdb.connect(str(path), read_only=True) as reader:
                    tables = {
                        row[0] for row in reader.execute("SELECT table_name FROM information_schema.tables").fetchall()
                    }
                    assert set(WAREHOUSE_TABLES) <= tables
                    seen.append(int(reader.execute("SELECT ledger_sent FROM warehouse_builds").fetchone()[0]))
                    assert reader.execute("SELECT count(*) FROM fct_sends WHERE is_sent").fetchone() == (seen[-1],)
            except BaseException as error:
                errors.append(error)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        add_sent_send(seeded, "s09")
        for _ in range(5):
            publish_warehouse(seeded, path, built_at=BUILT_AT)
    finally:
        stop.set()
        reader.join(timeout=60)
    assert errors == []
    assert len(seen) > 5
    assert set(seen) <= {7, 8}
    assert seen[-1] == 8


def test_a_failing_build_leaves_the_published_file_untouched(
    seeded: CrmStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    before = digest(path)
    add_sent_send(seeded, "s09")
    real_sql = warehouse_module.table_sql

    def broken(name: str) -> str:
        return "SELECT no_such_column FROM fct_sends" if name == "mart_inbox_health" else real_sql(name)

    monkeypatch.setattr(warehouse_module, "table_sql", broken)
    with pytest.raises(duckdb.BinderException, match="no_such_column"):
        publish_warehouse(seeded, path, built_at=BUILT_AT)
    assert digest(path) == before
    assert sent_count(path) == 7
    assert leftovers(tmp_path) == []


KILLED_BUILDER = """
import os, signal, sys
from datetime import UTC, datetime
from pathlib import Path
from jengu_pipeline.store import open_store
from jengu_pipeline.store import warehouse

real_sql = warehouse.table_sql
def dying(name):
    if name == "mart_campaign_variants":
        os.kill(os.getpid(), signal.SIGKILL)
    return real_sql(name)
warehouse.table_sql = dying
warehouse.publish_warehouse(open_store(sys.argv[1]), Path(sys.argv[2]), built_at=datetime.now(UTC))
"""


def test_a_killed_builder_leaves_the_published_file_and_the_next_publish_sweeps_its_leftovers(
    seeded: CrmStore, store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    before = digest(path)
    add_sent_send(seeded, "s09")
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_BUILDER, store_url, str(path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert digest(path) == before
    assert sent_count(path) == 7
    assert leftovers(tmp_path), "the killed builder left no half-built file: it did not die mid-build"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    assert leftovers(tmp_path) == []
    assert sent_count(path) == 8


def test_a_live_builder_s_file_is_not_swept(tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    mine = tmp_path / f".warehouse.duckdb.{os.getpid()}-0123456789ab{BUILDING_SUFFIX}"
    mine.write_bytes(b"being built")
    gone = tmp_path / f".warehouse.duckdb.999999999-0123456789ab{BUILDING_SUFFIX}"
    gone.write_bytes(b"abandoned")
    assert warehouse_module.sweep_abandoned(path) == [gone]
    assert mine.exists()


# Checks -------------------------------------------------------------------------------------------------------


def tamper(path: Path, sql: str) -> Path:
    """A copy of the published file with one deliberate fault."""
    broken = path.with_name(f"broken-{abs(hash(sql))}.duckdb")
    broken.write_bytes(path.read_bytes())
    with duckdb.connect(str(broken)) as connection:
        connection.execute(sql)
    return broken


def test_checks_pass_on_an_honest_build(seeded: CrmStore, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    sent = check_sent_matches_ledger(path, seeded)
    assert sent.passed, sent.metadata
    assert sent.metadata["fct_sends_sent"] == sent.metadata["ledger_sent_now"] == 7
    assert check_funnel_narrows(path).passed
    for mart in MARTS:
        outcome = check_rates_in_unit_interval(path, mart)
        if mart == "mart_time_to_reply":
            assert not outcome.passed  # no rate column: a check that checks nothing does not pass
            assert outcome.metadata["columns_checked"] == []
        else:
            assert outcome.passed, (mart, outcome.metadata)
    assert "reply_rate_low" in check_rates_in_unit_interval(path, "mart_campaign_variants").metadata["columns_checked"]


def test_the_ledger_check_compares_with_the_snapshot_so_later_sends_do_not_fail_it(
    seeded: CrmStore, tmp_path: Path
) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    add_sent_send(seeded, "s09")
    outcome = check_sent_matches_ledger(path, seeded)
    assert outcome.passed
    assert (outcome.metadata["fct_sends_sent"], outcome.metadata["ledger_sent_now"]) == (7, 8)


@pytest.mark.parametrize(
    "fault",
    [
        "DELETE FROM fct_sends WHERE send_id = 's03'",
        "UPDATE fct_sends SET status = 'bounced' WHERE send_id = 's03'",
        "INSERT INTO fct_sends SELECT * FROM fct_sends WHERE send_id = 's01'",
    ],
)
def test_the_ledger_check_fails_when_fct_sends_disagrees_with_the_ledger(
    seeded: CrmStore, tmp_path: Path, fault: str
) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    outcome = check_sent_matches_ledger(tamper(path, fault), seeded)
    assert not outcome.passed
    assert outcome.metadata["ledger_sent_at_build"] == 7


def test_the_funnel_check_fails_when_a_stage_widens(seeded: CrmStore, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    broken = tamper(path, "UPDATE mart_funnel SET replied = sent + 1 WHERE campaign_id = 'spring'")
    outcome = check_funnel_narrows(broken)
    assert not outcome.passed
    assert outcome.metadata["rows_widening"] == 1
    assert outcome.metadata["examples"] == [["b1", "spring", "2025-01-06"]]


@pytest.mark.parametrize(
    ("table", "fault"),
    [
        ("mart_campaign_variants", "UPDATE mart_campaign_variants SET reply_rate_high = 1.2 WHERE variant = 'a'"),
        ("mart_inbox_health", "UPDATE mart_inbox_health SET rolling_bounce_rate = -0.1"),
        ("mart_reply_intents", "UPDATE mart_reply_intents SET intent_share = 'NaN'"),
        ("mart_funnel", "UPDATE mart_funnel SET reply_rate = 2"),
    ],
)
def test_the_rate_check_fails_on_a_rate_outside_zero_one(
    seeded: CrmStore, tmp_path: Path, table: str, fault: str
) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=BUILT_AT)
    outcome = check_rates_in_unit_interval(tamper(path, fault), table)
    assert not outcome.passed
    assert outcome.metadata["values_outside"]
