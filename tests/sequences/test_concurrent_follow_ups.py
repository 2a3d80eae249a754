"""Two sending processes at once over the same due follow-ups, on DuckDB and PostgreSQL, while replies land.

Both processes plan the same queue on the one clock (``JENGU_CLOCK``, anchored to a real moment, so every process
reads the same simulated time) and race for every claim. Some sequences were stopped before the tick; others
are stopped by this test while the processes send. No step may go out twice, none to a sequence stopped before
the tick, and none whose claim began after its stop was committed.
"""

from __future__ import annotations

import email
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import date, timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
from smtp_faults import FaultySmtpServer

from jengu_pipeline import clock
from jengu_pipeline.clock import running_at
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.campaigns import load_campaigns
from jengu_pipeline.store.messages import message_id_for
from tests.conftest import _new_database
from tests.sequences.conftest import (
    CAMPAIGN,
    DUE,
    INBOX,
    SECOND_INBOX,
    STEP_1_SENT,
    campaign_folder,
    inbox_config,
    reply,
    seed_threads,
    write_follow_ups,
)

ROOT = Path(__file__).parents[2]
CHILD = r"""
import json, random, sys, time
from jengu_pipeline import clock
from jengu_pipeline.domain.inboxes import parse_inbox_file
from jengu_pipeline.resources.sending import Sender
from jengu_pipeline.store import open_store

args = json.loads(sys.argv[1])
sender = Sender(open_store(args["store_url"]), parse_inbox_file(args["inboxes"], "child inboxes"),
                alert=lambda text: print(text, file=sys.stderr), clock=clock.now, claimed_by=args["name"],
                rng=random.Random(args["seed"]), sleep=time.sleep)
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps(sender.tick().to_json()), flush=True)
"""


def start(store_url: str, inboxes: str, name: str, seed: int) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            json.dumps({"store_url": store_url, "inboxes": inboxes, "name": name, "seed": seed}),
        ],
        cwd=ROOT,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        raise AssertionError(f"sending process {name} did not start: {child.communicate()[1][-2000:]}")
    return child


@pytest.fixture(params=["duckdb", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store several processes open by URL: a DuckDB file, or a PostgreSQL database."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/crm.duckdb"
    return _new_database(request.getfixturevalue("postgres_server"))


def test_two_sending_processes_send_each_follow_up_once_and_none_after_its_stop(
    shared_store_url: str, smtp: FaultySmtpServer, tmp_path: Path
) -> None:
    store = open_store(shared_store_url)
    load_campaigns(store, campaign_folder(tmp_path))
    threads = seed_threads(store, 14, inboxes=(INBOX, SECOND_INBOX))
    assert write_follow_ups(store, until=DUE + timedelta(seconds=1)) == len(threads)
    replied, suppressed, away, *running = threads
    reply(store, replied, "interested", DUE - timedelta(seconds=1))
    store.run(
        lambda tx: tx.execute(
            "INSERT INTO suppressions (email, reason, source) VALUES (?, 'manual', 'test')", [suppressed.email]
        )
    )
    reply(store, away, "auto_reply", STEP_1_SENT + timedelta(hours=1), return_date=date(2026, 12, 4))
    config = inbox_config(store, smtp.port, INBOX, SECOND_INBOX, min_gap_seconds=2)
    inboxes = json.dumps(
        {
            "inboxes": [i.model_dump(mode="json") for i in config.inboxes],
            "sending": config.sending.model_dump(mode="json"),
        }
    )

    stopped_at = {}
    with running_at(DUE):  # the children inherit the clock: all three read the same simulated time
        children = [start(shared_store_url, inboxes, f"sender-{n}", n) for n in (1, 2)]
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        deadline = time.monotonic() + 60
        while not smtp.messages and time.monotonic() < deadline:
            time.sleep(0.01)
        claimed = _claimed(store)
        # Both plan the queue in message order, one send per inbox every two seconds: the last ones go last.
        last = sorted(running, key=lambda t: message_id_for(t.prospect_id, CAMPAIGN, 2))[-3:]
        for thread in [t for t in last if t.prospect_id not in claimed]:
            reply(store, thread, "not_interested", clock.now())
            stopped_at[thread.prospect_id] = clock.now()  # committed by now
        reports = []
        for child in children:
            out, errors = child.communicate(timeout=120)
            assert child.returncode == 0, errors[-3000:]
            reports.append(json.loads(out.strip().splitlines()[-1]))

    got = Counter(message.rcpt_tos[0] for message in smtp.messages)
    assert max(got.values()) == 1, f"a step went out twice: {got}"
    assert not {replied.email, suppressed.email, away.email} & set(got), "stopped before the tick: never sent"
    ledger = _claimed(store)
    assert {row[2] for row in ledger.values() if row[0] == "sent"} == set(got)
    for prospect_id, committed in stopped_at.items():
        if prospect_id in ledger:
            assert ledger[prospect_id][1] < committed, "a claim that began after the stop was committed went out"
    refused = [prospect_id for prospect_id in stopped_at if prospect_id not in ledger]
    assert refused, f"no stop landed before a claim: {reports}"
    expected = {t.email for t in running if t.prospect_id not in refused}
    assert set(got) == expected, "every other follow-up went out, once"
    for message in smtp.messages:
        parsed = email.message_from_bytes(message.raw, policy=default_policy)
        assert parsed["In-Reply-To"] is not None
    assert sum(sum(report["sent_by_step"].values()) for report in reports) == len(expected)


def _claimed(store: CrmStore) -> dict[str, tuple[str, object, str]]:
    """prospect id -> (status, claimed_at, recipient) of each step-2 ledger row."""
    rows = store.run(
        lambda tx: tx.fetch_all("SELECT prospect_id, status, claimed_at, recipient FROM sends WHERE step = 2")
    )
    return {row[0]: row[1:] for row in rows}
