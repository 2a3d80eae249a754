"""Warehouse benchmark: publish the warehouse of a sizeable CRM store, with a reader querying it all along.

    .venv/bin/python benchmarks/warehouse.py --prospects 1000000 --sends 100000 --publishes 10 --json

Fills a fresh store (a DuckDB file under a temporary JENGU_HOME, or ``--store-url postgresql://...``, whose
tables must be empty) in bulk SQL: prospects in 20 batches, websites, campaign members and messages, ``--sends``
sends over fifty inboxes and two A/B arms with bounces and unknowns, replies of every intent to one send in ten,
``--calls`` provider calls. Then runs ``jengu warehouse publish --json`` ``--publishes`` times, each in its own
process, while another process opens the published file read-only and queries it in a loop. Prints each
publish's wall and build time, rows copied per second and the child's peak RSS, and the reader's query and error
counts; the last line is one JSON object. The issue's target: under 60 s and 2 GB per publish of 1M prospects
and 100k sends, and no reader error.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

import jengu_pipeline
from jengu_pipeline.domain.inboxes import InboxConfig
from jengu_pipeline.domain.reply_effects import CATEGORIES
from jengu_pipeline.store import CrmStore, Tx, open_store
from jengu_pipeline.store.campaigns import load_campaigns
from jengu_pipeline.store.sending import sync_inboxes

CAMPAIGNS = Path(jengu_pipeline.__file__).parent / "sandbox" / "campaigns"
CAMPAIGN = "sandbox-intro"  # arms short-intro and case-study
INBOXES = 50
PER_INBOX_DAY = 25
"""Google-hosted inboxes past warm-up may send 30 a day: the sends are spread over days to stay under it."""
BATCHES = 20
START = "TIMESTAMPTZ '2026-01-05 09:00:00+00'"
RAW_BYTES = {
    "duckdb": "CAST('reply ' || CAST(s AS VARCHAR) AS BLOB)",
    "postgresql": "convert_to('reply ' || s, 'UTF8')",
}


def padded(prefix: str, column: str) -> str:
    return f"'{prefix}' || lpad(CAST({column} AS VARCHAR), 8, '0')"


def prospect_of_send(s: str) -> str:
    """The prospect number of member/send number ``s``: members are the prospects with ``g % 10`` in 1..7."""
    return f"CAST(floor((({s}) - 1) / 7.0) AS BIGINT) * 10 + (({s}) - 1) % 7 + 1"


def fill(store: CrmStore, prospects: int, sends: int, calls: int) -> None:
    """Write the benchmark's rows in bulk, one statement per table, through the store's own connection."""
    load_campaigns(store, CAMPAIGNS)
    sync_inboxes(
        store,
        [
            InboxConfig.model_validate(
                {
                    "address": f"inbox{i}@jengu.example",
                    "display_name": f"Inbox {i}",
                    "host_provider": "google",
                    "warmup_start": date(2025, 12, 1),
                    "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
                }
            )
            for i in range(INBOXES)
        ],
    )
    members = min(prospects * 7 // 10, sends * 6 // 5)
    if sends > members:
        raise SystemExit(f"--sends {sends} needs at least {sends * 10 // 7 + 1} prospects")
    intent = (
        f"CASE CAST(floor(s / 10.0) AS BIGINT) % {len(CATEGORIES)} "
        + " ".join(f"WHEN {index} THEN '{category}'" for index, category in enumerate(CATEGORIES))
        + " END"
    )
    member = prospect_of_send("s")
    day_of_send = f"CAST(floor((s - 1) / {float(INBOXES * PER_INBOX_DAY)}) AS BIGINT)"
    statements = [
        f"INSERT INTO batches (batch_id, name, source_file, content_hash, created_at)"
        f" SELECT {padded('b', 'g')}, 'bench-' || CAST(g AS VARCHAR), 'bench.csv', 'hash-' || CAST(g AS VARCHAR),"
        f" {START} + g * INTERVAL '3 days' FROM generate_series(1, {BATCHES}) AS t(g)",
        f"INSERT INTO prospect_registry (prospect_id, created_at) SELECT {padded('p', 'g')}, {START}"
        f" FROM generate_series(1, {prospects}) AS t(g)",
        f"INSERT INTO prospects (prospect_id, batch_id, first_name, last_name, company, email, active_email,"
        f" email_status, stage, country, tier, score, created_at, updated_at)"
        f" SELECT {padded('p', 'g')}, {padded('b', 'g % 20 + 1')}, 'Ada', 'Person' || CAST(g AS VARCHAR),"
        f" 'Hotel ' || CAST(g % 50000 AS VARCHAR), e, e,"
        f" CASE WHEN g % 10 BETWEEN 1 AND 5 THEN 'ok' WHEN g % 10 BETWEEN 6 AND 7 THEN 'risky'"
        f" WHEN g % 10 = 8 THEN 'invalid' END,"
        f" CASE WHEN g % 10 BETWEEN 1 AND 7 THEN 'enriched' ELSE 'new' END, 'FR', 'warm', g % 100,"
        f" {START} + (g % 20 + 1) * INTERVAL '3 days', {START} + (g % 20 + 1) * INTERVAL '3 days'"
        f" FROM (SELECT g, CASE WHEN g % 10 BETWEEN 1 AND 8 THEN 'person' || CAST(g AS VARCHAR) || '@hotel-'"
        f" || CAST(g % 50000 AS VARCHAR) || '.test' END AS e FROM generate_series(1, {prospects}) AS t(g)) AS x",
        f"INSERT INTO websites (prospect_id, url, domain, source, confidence)"
        f" SELECT {padded('p', 'g')}, 'https://hotel-' || CAST(g % 50000 AS VARCHAR) || '.test/',"
        f" 'hotel-' || CAST(g % 50000 AS VARCHAR) || '.test', 'search', 0.9"
        f" FROM generate_series(1, {prospects}) AS t(g) WHERE g % 10 <> 9",
        f"INSERT INTO campaign_members (campaign_id, prospect_id, variant, source, added_at)"
        f" SELECT '{CAMPAIGN}', {padded('p', member)}, CASE WHEN s % 2 = 0 THEN 'short-intro' ELSE 'case-study' END,"
        f" 'rule', {START} + INTERVAL '60 days' FROM generate_series(1, {members}) AS t(s)",
        f"INSERT INTO messages (message_id, prospect_id, campaign_id, step, variant, subject, body, status,"
        f" batch_id, template) SELECT {padded('m', 's')}, {padded('p', member)}, '{CAMPAIGN}', 1,"
        f" CASE WHEN s % 2 = 0 THEN 'short-intro' ELSE 'case-study' END, 'Hello', 'Body', 'queued',"
        f" {padded('b', f'({member}) % 20 + 1')}, 'first_touch' FROM generate_series(1, {members}) AS t(s)",
        f"INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient, rfc_message_id,"
        f" risky, status, claimed_at, sent_at, updated_at)"
        f" SELECT {padded('s', 's')}, {padded('p', member)}, '{CAMPAIGN}', 1, {padded('m', 's')},"
        f" 'inbox' || CAST(s % {INBOXES} AS VARCHAR) || '@jengu.example',"
        f" 'person' || CAST({member} AS VARCHAR) || '@hotel.test', '<' || {padded('s', 's')} || '@jengu.example>',"
        f" ({member}) % 10 >= 6, st, claimed, CASE WHEN st IN ('sent', 'bounced') THEN claimed END, claimed"
        f" FROM (SELECT s, CASE WHEN s % 50 = 0 THEN 'bounced' WHEN s % 97 = 0 THEN 'unknown' ELSE 'sent' END AS st,"
        f" {START} + INTERVAL '60 days' + {day_of_send} * INTERVAL '1 day' + (s % 500) * INTERVAL '1 minute' AS claimed"
        f" FROM generate_series(1, {sends}) AS t(s)) AS x",
        f"INSERT INTO reply_raw (sha256, size_bytes, raw) SELECT {padded('raw', 's')}, 16, {{raw}}"
        f" FROM generate_series(10, {sends}, 10) AS t(s)",
        f"INSERT INTO replies (reply_id, raw_sha256, source, source_key, prospect_id, send_id, matched_by,"
        f" received_at, intent, processed_at)"
        f" SELECT {padded('r', 's')}, {padded('raw', 's')}, 'maildir', {padded('r', 's')}, {padded('p', member)},"
        f" {padded('s', 's')}, 'in_reply_to', received, i, received"
        f" FROM (SELECT s, {intent} AS i,"
        f" {START} + INTERVAL '60 days' + {day_of_send} * INTERVAL '1 day'"
        f" + (s % 72 + 10) * INTERVAL '1 hour' AS received"
        f" FROM generate_series(10, {sends}, 10) AS t(s)) AS x",
        f"INSERT INTO provider_calls (provider, operation, outcome, latency_ms, cost_units, batch_id, created_at)"
        f" SELECT CASE WHEN g % 3 = 0 THEN 'millionverifier' WHEN g % 3 = 1 THEN 'brave' ELSE 'xai' END,"
        f" CASE WHEN g % 3 = 0 THEN 'verify' WHEN g % 3 = 1 THEN 'search' ELSE 'complete' END,"
        f" CASE WHEN g % 7 = 0 THEN 'cache_hit' WHEN g % 53 = 0 THEN 'error_429' ELSE 'ok' END,"
        f" CAST(g % 400 AS DOUBLE PRECISION), CASE WHEN g % 7 = 0 OR g % 53 = 0 THEN 0 ELSE 1 END,"
        f" {padded('b', 'g % 20 + 1')}, {START} + (g % 60) * INTERVAL '1 day'"
        f" FROM generate_series(1, {calls}) AS t(g)",
    ]
    for statement in statements:
        store.run(_executing(statement.replace("{raw}", RAW_BYTES[store.backend])))


def _executing(sql: str) -> Callable[[Tx], None]:
    return lambda tx: tx.execute(sql)


READER = """
import json, sys, time
from pathlib import Path
import duckdb
path, stop = Path(sys.argv[1]), Path(sys.argv[2])
queries, errors, seen = 0, [], set()
while not stop.exists():
    try:
        with duckdb.connect(str(path), read_only=True) as reader:
            built, ledger_sent, expected = reader.execute(
                "SELECT CAST(built_at AS VARCHAR), ledger_sent, CAST(table_rows AS VARCHAR) FROM warehouse_builds"
            ).fetchone()
            sends, sent = reader.execute("SELECT count(*), count(*) FILTER (WHERE is_sent) FROM fct_sends").fetchone()
            prospects = reader.execute("SELECT sum(imported) FROM mart_funnel").fetchone()[0]
        seen.add(built)
        rows = json.loads(expected)
        if (sends, sent, prospects) != (rows["fct_sends"], ledger_sent, rows["dim_prospects"]):
            errors.append(f"not one whole build: {sends} sends, {sent} sent, {prospects} prospects vs {expected}")
        queries += 1
    except duckdb.Error as error:
        errors.append(str(error)[:200])
    time.sleep(0.01)
print(json.dumps({"queries": queries, "errors": errors[:10], "error_count": len(errors), "builds_seen": len(seen)}))
"""


def publish_once(env: dict[str, str], folder: Path) -> dict[str, Any]:
    """One ``jengu warehouse publish --json`` in a child process: its JSON, wall time and peak RSS (from wait4)."""
    out, err = folder / "publish.out", folder / "publish.err"
    started = time.perf_counter()
    with out.open("w") as stdout, err.open("w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-m", "jengu_pipeline.cli", "warehouse", "publish", "--json"],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"publish failed ({code}): {err.read_text()[-2000:]}")
    result = json.loads(out.read_text().strip().splitlines()[-1])
    result["wall_seconds"] = round(seconds, 2)
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prospects", type=int, default=1_000_000)
    parser.add_argument("--sends", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--publishes", type=int, default=10)
    parser.add_argument("--store-url", default="", help="an empty PostgreSQL store instead of a new DuckDB file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jengu-bench-warehouse-") as folder:
        home = Path(folder) / "home"
        home.mkdir()
        url = args.store_url or f"duckdb:///{home / 'crm.duckdb'}"
        started = time.perf_counter()
        store = open_store(url)
        fill(store, args.prospects, args.sends, args.calls)
        fill_seconds = time.perf_counter() - started
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("JENGU_")},
            "JENGU_HOME": str(home),
            "JENGU_INBOX_FILE": str(home / "no-inboxes.yaml"),
        }
        if args.store_url:
            env["JENGU_DATABASE_URL"] = args.store_url
        runs = [publish_once(env, Path(folder))]  # the first publish, before a reader can open anything
        stop = Path(folder) / "stop"
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(home / "warehouse.duckdb"), str(stop)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            runs += [publish_once(env, Path(folder)) for _ in range(args.publishes - 1)]
        finally:
            stop.touch()
            reader_out, reader_err = reader.communicate(timeout=120)
        read = json.loads(reader_out.strip().splitlines()[-1]) if reader.returncode == 0 else {"failed": reader_err}
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as warehouse:
            copied = json.loads(
                warehouse.execute("SELECT CAST(copied_rows AS VARCHAR) FROM warehouse_builds").fetchone()[0]
            )  # type: ignore[index]
    rows_copied = sum(copied.values())
    build = [run["seconds"] for run in runs]
    summary = {
        "backend": store.backend,
        "prospects": args.prospects,
        "sends": args.sends,
        "calls": args.calls,
        "fill_seconds": round(fill_seconds, 1),
        "publishes": len(runs),
        "build_seconds": build,
        "build_seconds_max": max(build),
        "wall_seconds_max": max(run["wall_seconds"] for run in runs),
        "rows_copied": rows_copied,
        "rows_per_second": round(rows_copied / min(build)),
        "peak_rss_mb_max": max(run["peak_rss_mb"] for run in runs),
        "tables": runs[-1]["tables"],
        "checks_passed": all(all(run["checks"].values()) for run in runs),
        "reader": read,
        "target_met": max(build) < 60
        and max(run["peak_rss_mb"] for run in runs) < 2048
        and read.get("error_count") == 0,
    }
    if not args.json:
        print(f"filled a {store.backend} store in {fill_seconds:.1f}s: {args.prospects} prospects, {args.sends} sends")
        for index, run in enumerate(runs, start=1):
            print(
                f"publish {index}: build {run['seconds']:.2f}s, wall {run['wall_seconds']:.2f}s, "
                f"peak RSS {run['peak_rss_mb']} MB, checks {'ok' if all(run['checks'].values()) else 'FAILED'}"
            )
        print(f"{rows_copied} rows copied, {summary['rows_per_second']} rows/s at best")
        print(f"reader: {read}")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
