"""A `jengu import` SIGKILLed at each of its steps: the batch says where it stood, the next import is never held up
by it, and importing the file again finishes the batch, on DuckDB + SQLite and on PostgreSQL + dagster-postgres."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from click.testing import CliRunner

from jengu_pipeline.cli import main
from jengu_pipeline.instance import PROJECT_ROOT, dagster_instance
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import open_store
from jengu_pipeline.store.ingest import batch_state

pytestmark = pytest.mark.slow

KILLED_IMPORT = """
import os, signal, sys
import jengu_pipeline.assets.ingest as assets
import jengu_pipeline.batch_files as batch_files
import jengu_pipeline.imports as imports
import jengu_pipeline.store.ingest as store_ingest

def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def then_die(real):
    def call(*args, **kwargs):
        real(*args, **kwargs)
        die()
    return call

point = sys.argv[1]
if point == "staging":  # the file copied under its batch folder, not yet renamed into place
    batch_files.shutil.copyfile = then_die(batch_files.shutil.copyfile)
elif point == "registered":  # the partition registered, the run not started
    imports.wait_for_pool_slots_without_spinning = die
elif point == "reading":  # raw_prospects holds its pool slot, the batch is importing, no raw row yet
    assets.read_prospect_file = die
elif point == "raw_written":  # every raw row committed, raw_prospects not finished (the issue's kill)
    store_ingest.replace_raw_rows = then_die(store_ingest.replace_raw_rows)
elif point == "prospects_writing":  # inside the transaction writing prospects and rejects, before its commit
    store_ingest._write_rejects = die
elif point == "prospects_written":  # prospects committed, the step's metadata not yet reported
    assets.markdown_preview = die
elif point == "checking":  # in the batch's blocking checks
    store_ingest.batch_summary = die
elif point == "summary":  # the run finished, the command not
    imports.batch_summary = die
from jengu_pipeline.cli import main
main(["import", sys.argv[2], "--json"])
"""

FAILED, SUCCESS = dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.SUCCESS
KILL_POINTS = {
    # point: the batch's state once the next command looked (None: never reached the store), its run's status
    "staging": (None, []),
    "registered": (None, []),
    "reading": ("failed", [FAILED]),
    "raw_written": ("failed", [FAILED]),
    "prospects_writing": ("failed", [FAILED]),
    "prospects_written": ("imported", [FAILED]),
    "checking": ("imported", [FAILED]),
    "summary": ("imported", [SUCCESS]),
}


@pytest.fixture
def env(
    store_url: str, jengu_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[dict[str, str]]:
    """This test's settings for the child and for this process; dagster-postgres too when the store is PostgreSQL."""
    if store_url.startswith("postgresql"):
        server = request.getfixturevalue("postgres_server")
        name = f"dagster_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {name}")
        monkeypatch.setenv("JENGU_DAGSTER_PG_URL", f"{server}/{name}")
    get_settings.cache_clear()
    yield {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    get_settings.cache_clear()


def jengu(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def kill_import_at(point: str, path: Path, env: dict[str, str]) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_IMPORT, point, str(path)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, (
        f"not killed at {point}: {killed.stdout[-2000:]}{killed.stderr[-3000:]}"
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_killed_import_shows_its_state_holds_nothing_up_and_importing_again_finishes_it(
    env: dict[str, str], prospects_file: Path, tmp_path: Path, point: str
) -> None:
    expected_state, run_statuses = KILL_POINTS[point]
    kill_import_at(point, prospects_file, env)

    batches = jengu("batches")["batches"]
    if expected_state is None:
        assert batches == []
    else:
        [killed] = batches  # type: ignore[misc]
        assert killed["state"] == expected_state, killed
        if expected_state == "failed":
            assert "its import was killed" in killed["reason"], killed
            assert killed["accepted"] == 0, "a failed batch has no half-written prospects"
    runs = dagster_instance(get_settings()).get_run_records()
    assert [r.dagster_run.status for r in runs] == run_statuses, "a killed run is marked failed, never left started"

    other = tmp_path / "unrelated.csv"
    other.write_text("First Name,Last Name,Company\nIngrid,Holm,Hotel Fjord\n", encoding="utf-8")
    started, cpu = time.monotonic(), time.process_time()
    unrelated = jengu("import", str(other))
    assert (unrelated["rows"], unrelated["new_prospects"], unrelated["state"]) == (1, 1, "imported")
    assert time.monotonic() - started < 90, "an unrelated import is not held up by the killed one"
    assert time.process_time() - cpu < 60

    again = jengu("import", str(prospects_file))
    assert {k: again[k] for k in ("rows", "accepted", "rejected", "duplicates", "new_prospects", "state")} == {
        "rows": 8,
        "accepted": 6,
        "rejected": 2,
        "duplicates": 2,
        "new_prospects": 4,
        "state": "imported",
    }
    store = open_store(get_settings().store_url)
    assert batch_state(store, str(again["batch_id"])) == "imported"
    assert (store.count("batches"), store.count("raw_prospects"), store.count("prospects")) == (2, 9, 5)
    assert (store.count("prospect_sources"), store.count("rejected_rows")) == (7, 2)
    assert {b["state"] for b in jengu("batches")["batches"]} == {"imported"}  # type: ignore[union-attr]
    assert not list((Path(env["JENGU_HOME"]) / "batches").glob("*/.*.partial")), "no half-copied file is left"


@pytest.mark.timeout(300)
def test_an_import_waiting_for_a_pool_slot_sleeps_instead_of_spinning(
    env: dict[str, str], prospects_file: Path
) -> None:
    """Another live run holds ``crm_writer``: the import waits for it, at a few percent of a core, then goes on."""
    instance = dagster_instance(get_settings())
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default("crm_writer")
    holder = "another-live-run"
    assert storage.claim_concurrency_slot("crm_writer", holder, "step").is_claimed
    outcome: dict[str, object] = {}
    worker = threading.Thread(target=lambda: outcome.update(summary=jengu("import", str(prospects_file))))
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while not storage.get_concurrency_info("crm_writer").pending_run_ids:
            assert time.monotonic() < deadline, "the import never queued for the slot"
            time.sleep(0.2)
        time.sleep(1.0)  # its first claims back off quickly; measure the steady wait
        wall, cpu = time.monotonic(), time.process_time()
        time.sleep(4.0)
        waiting_share = (time.process_time() - cpu) / (time.monotonic() - wall)
        assert worker.is_alive(), "the import did not wait for the slot"
    finally:
        storage.free_concurrency_slots_for_run(holder)
    worker.join(timeout=120)
    assert not worker.is_alive()
    assert outcome["summary"]["state"] == "imported"  # type: ignore[index]
    assert waiting_share < 0.15, f"waiting for the slot used {waiting_share:.0%} of a core"
