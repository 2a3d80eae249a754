"""The production topology for real: PostgreSQL for the CRM store and for Dagster (deploy/dagster.yaml), the code
server, `dagster-webserver` and `dagster-daemon run` as separate processes on loopback (deploy/workspace.yaml), the
SANDBOX playing every provider, the clock moved to a weekday morning (JENGU_CLOCK). A prospect file dropped into the
drop folder is imported, enriched and composed by the daemon's runs; the sending schedule, turned on through the
webserver's GraphQL API, sends it. (The replies and warehouse sensors are turned off over GraphQL first: their runs
would only compete for the two cores.)

Then the crash: the daemon is SIGKILLed while a sending tick is half done, and the run's worker with it. The run
carries on without the daemon until its worker dies; the code server marks it failed; the restarted daemon's run
retries launch it again, and the retry sends the rest. Every message goes out once: one ledger row per message,
one accepted SMTP transaction per ledger row, no recipient mailed twice.
"""

from __future__ import annotations

import csv
import email
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
import pytest
import yaml

from jengu_pipeline.clock import CLOCK_VARIABLE, clock_setting
from jengu_pipeline.demo import SAMPLE_FILE, SANDBOX_CAMPAIGNS, SANDBOX_INBOXES, SANDBOX_SEED, demo_clock
from jengu_pipeline.instance import PRODUCTION_INSTANCE, PROJECT_ROOT
from jengu_pipeline.sandbox import Sandbox, start_sandbox
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.campaigns import load_campaigns

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]

T = TypeVar("T")
LOCATION = "jengu_pipeline"
REPOSITORY = {"repositoryName": "__repository__", "repositoryLocationName": LOCATION}
PROSPECT_ROWS = 40
"""Rows of the sample file dropped in: enough messages for a sending tick that lasts a few seconds."""
SEND_GAP_SECONDS = 3
"""Seconds between two sends from one inbox in this test's inbox file, so a tick can be caught half done."""
SENSORS_UNDER_TEST = {"prospect_drop_sensor", "run_failure_alert_sensor"}
"""The sensors this test runs; the others (replies, warehouse automation) are turned off for it."""


# Processes -------------------------------------------------------------------------------------------------------


@dataclass
class Service:
    """One long-running process in its own process group, logging to a file."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=PROJECT_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill(self) -> None:
        """SIGKILL the whole group: the process and whatever it started, with no chance to clean up."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n{text[-3000:]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, from /proc (children before grandchildren)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


class Deployment:
    """The processes of deploy/systemd, started here with this test's environment instead of /etc/jengu/jengu.env."""

    def __init__(self, env: dict[str, str], root: Path) -> None:
        self.env = env
        self.root = root
        self.services: list[Service] = []
        code_port = free_port()
        self.web_port = free_port()
        workspace = yaml.safe_load((PROJECT_ROOT / "deploy" / "workspace.yaml").read_text())
        workspace["load_from"][0]["grpc_server"]["port"] = code_port
        self.workspace = root / "workspace.yaml"
        self.workspace.write_text(yaml.safe_dump(workspace))
        bin_dir = Path(sys.executable).parent
        self.code_server = self._service(
            "code-server",
            [str(bin_dir / "dagster"), "code-server", "start", "-m", "jengu_pipeline.definitions",
             "--location-name", LOCATION, "-h", "127.0.0.1", "-p", str(code_port)],
        )  # fmt: skip
        self.webserver = self._service(
            "webserver",
            [
                str(bin_dir / "dagster-webserver"),
                "-w",
                str(self.workspace),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.web_port),
            ],
        )
        self.daemon_command = [str(bin_dir / "dagster-daemon"), "run", "-w", str(self.workspace)]
        self.daemon = self._service("daemon", self.daemon_command)

    def _service(self, name: str, command: list[str]) -> Service:
        service = Service(name, command, self.env, self.root / f"{name}.log")
        self.services.append(service)
        return service

    def restart_daemon(self) -> None:
        self.daemon = self._service("daemon (restarted)", self.daemon_command).start()

    def logs(self) -> str:
        return "\n".join(service.tail() for service in self.services)

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        answer = httpx.post(
            f"http://127.0.0.1:{self.web_port}/graphql", json={"query": query, "variables": variables}, timeout=30
        )
        body = answer.json()
        assert not body.get("errors"), body["errors"]
        return dict(body["data"])

    def wait(self, what: str, check: Callable[[], T | None], timeout: float) -> T:
        """Poll ``check`` until it returns something, failing with every service's log tail on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for service in (self.code_server, self.webserver):
                if service.process is not None and service.process.poll() is not None:
                    pytest.fail(f"{service.name} exited while waiting for {what}\n{self.logs()}")
            try:
                value = check()
            except (httpx.HTTPError, ValueError, KeyError):
                value = None
            if value:
                return value
            time.sleep(0.5)
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{self.logs()}")


# GraphQL ---------------------------------------------------------------------------------------------------------

LOCATION_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name
  locationOrLoadError { __typename } } } } }"""
SENSORS_QUERY = """query Sensors($repo: RepositorySelector!) { sensorsOrError(repositorySelector: $repo) {
  ... on Sensors { results { id name sensorState { status } } } ... on PythonError { message } } }"""
START_SENSOR = """mutation Start($sensor: SensorSelector!) { startSensor(sensorSelector: $sensor) {
  __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }"""
STOP_SENSOR = """mutation Stop($id: String) { stopSensor(id: $id) {
  __typename ... on StopSensorMutationResult { instigationState { status } } ... on PythonError { message } } }"""
START_SCHEDULE = """mutation Start($schedule: ScheduleSelector!) { startSchedule(scheduleSelector: $schedule) {
  __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }"""
RUNS_QUERY = """query Runs($job: String!) { runsOrError(filter: {pipelineName: $job}) {
  ... on Runs { results { runId status tags { key value } } } } }"""
LOGS_QUERY = """query Logs($run: ID!) { logsForRun(runId: $run) {
  ... on EventConnection { events { __typename ... on MessageEvent { message } } } } }"""


@dataclass(frozen=True)
class Run:
    run_id: str
    status: str
    tags: dict[str, str]


def runs(deployment: Deployment, job: str) -> list[Run]:
    results = deployment.graphql(RUNS_QUERY, job=job)["runsOrError"]["results"]
    return [Run(r["runId"], r["status"], {t["key"]: t["value"] for t in r["tags"]}) for r in results]


def run_worker_pid(deployment: Deployment, run_id: str) -> int | None:
    """The pid of the run's worker, from the run's own event log (the multiprocess executor's parent process)."""
    events = deployment.graphql(LOGS_QUERY, run=run_id)["logsForRun"]["events"]
    for event in events:
        match = re.search(r"multiprocess executor: parent process \(pid: (\d+)\)", event.get("message") or "")
        if match:
            return int(match[1])
    return None


# The world -------------------------------------------------------------------------------------------------------


def new_database(server: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def write_inbox_file(path: Path) -> Path:
    """The sandbox's inboxes, a tick every minute at any hour (business hours are still checked per prospect, on
    the moved clock) and a short gap between sends."""
    config = yaml.safe_load(SANDBOX_INBOXES.read_text())
    config["sending"] |= {"schedule": "* * * * *", "schedule_timezone": "UTC", "min_gap_seconds": SEND_GAP_SECONDS}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def write_prospect_file(path: Path) -> Path:
    with SAMPLE_FILE.open(newline="", encoding="utf-8") as source:
        rows = list(csv.reader(source))
    with path.open("w", newline="", encoding="utf-8") as target:
        csv.writer(target).writerows(rows[: PROSPECT_ROWS + 1])
    return path


@pytest.fixture
def deployment(postgres_server: str, tmp_path: Path) -> Iterator[tuple[Deployment, Sandbox, CrmStore]]:
    home = tmp_path / "jengu"
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(PRODUCTION_INSTANCE.read_text())  # as the units' ExecStartPre does
    store_url = new_database(postgres_server, "crm")
    at = demo_clock(datetime.now(UTC))  # a weekday at 10:00 UTC: business hours across Europe
    clock = clock_setting(at)
    previous_clock = os.environ.get(CLOCK_VARIABLE)
    os.environ[CLOCK_VARIABLE] = clock  # the sandbox, in this process, reads the same moved clock
    try:
        with start_sandbox(home, seed=SANDBOX_SEED) as sandbox:
            env = {
                **os.environ,
                **sandbox.env,
                "JENGU_HOME": str(home),
                "DAGSTER_HOME": str(dagster_home),
                "JENGU_DAGSTER_INSTANCE": str(PRODUCTION_INSTANCE),
                "JENGU_DATABASE_URL": store_url,
                "JENGU_DAGSTER_PG_URL": new_database(postgres_server, "dagster"),
                "JENGU_INBOX_FILE": str(write_inbox_file(tmp_path / "inboxes.yaml")),
                CLOCK_VARIABLE: clock,
            }
            store = open_store(store_url)
            load_campaigns(store, SANDBOX_CAMPAIGNS)
            deployment = Deployment(env, tmp_path)
            try:
                yield deployment, sandbox, store
            finally:
                for service in reversed(deployment.services):
                    service.stop()
    finally:
        if previous_clock is None:
            os.environ.pop(CLOCK_VARIABLE, None)
        else:
            os.environ[CLOCK_VARIABLE] = previous_clock


def ledger(store: CrmStore) -> Counter[str]:
    return Counter(dict(store.query("SELECT status, count(*) AS n FROM sends GROUP BY status").rows()))


def accepted_messages(sandbox: Sandbox) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(path.read_bytes(), policy=default_policy)  # type: ignore[misc]
        for path in sorted(sandbox.smtp_dir.glob("*.eml"))
    ]


# The test --------------------------------------------------------------------------------------------------------


def test_daemon_runs_the_pipeline_and_a_sigkill_mid_send_sends_nothing_twice(
    deployment: tuple[Deployment, Sandbox, CrmStore], tmp_path: Path
) -> None:
    started = time.monotonic()
    processes, sandbox, store = deployment
    drop = Path(processes.env["JENGU_HOME"]) / "inbox"
    drop.mkdir(parents=True)
    write_prospect_file(drop / "nordic-hotels.csv")

    processes.code_server.start()
    processes.webserver.start()
    processes.wait(
        "the code location to load in the webserver",
        lambda: any(
            entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
            for entry in processes.graphql(LOCATION_QUERY)["workspaceOrError"]["locationEntries"]
        ),
        timeout=120,
    )

    # Before the daemon starts, through GraphQL as an operator would: the sensors this test is about on (the drop
    # sensor and the failure alerts are on by default), the others off so their runs do not crowd two cores.
    for sensor in processes.graphql(SENSORS_QUERY, repo=REPOSITORY)["sensorsOrError"]["results"]:
        running = sensor["sensorState"]["status"] == "RUNNING"
        if sensor["name"] in SENSORS_UNDER_TEST and not running:
            answer = processes.graphql(START_SENSOR, sensor={**REPOSITORY, "sensorName": sensor["name"]})
            assert answer["startSensor"]["sensorState"]["status"] == "RUNNING", answer
        elif sensor["name"] not in SENSORS_UNDER_TEST and running:
            answer = processes.graphql(STOP_SENSOR, id=sensor["id"])
            assert answer["stopSensor"]["instigationState"]["status"] == "STOPPED", answer
    states = {s["name"]: s["sensorState"]["status"] for s in processes.graphql(SENSORS_QUERY, repo=REPOSITORY)[
        "sensorsOrError"]["results"]}  # fmt: skip
    assert {name for name, status in states.items() if status == "RUNNING"} == SENSORS_UNDER_TEST, states
    processes.daemon.start()

    # Import, enrich, compose: the drop sensor's named job.
    [batch_run] = processes.wait(
        "the drop sensor's prospect_batch_job run to succeed",
        lambda: [r for r in runs(processes, "prospect_batch_job") if r.status == "SUCCESS"],
        timeout=300,
    )
    assert batch_run.tags["dagster/sensor_name"] == "prospect_drop_sensor"
    batch = batch_run.tags["dagster/partition"]
    counts = store.query(
        "SELECT (SELECT count(*) FROM prospects WHERE batch_id = ?) AS prospects,"
        " (SELECT count(*) FROM websites w JOIN prospects p USING (prospect_id) WHERE p.batch_id = ?) AS websites,"
        " (SELECT count(*) FROM prospects WHERE batch_id = ? AND email_status = 'ok') AS verified,"
        " (SELECT count(*) FROM messages WHERE batch_id = ? AND status = 'queued') AS queued",
        [batch, batch, batch, batch],
    ).to_dicts()[0]
    assert counts["prospects"] >= PROSPECT_ROWS * 0.8, counts
    assert counts["websites"] > 0, counts
    assert counts["verified"] > 0, counts
    assert counts["queued"] >= 6, f"too few messages for a tick to be caught half done: {counts}"
    assert not ledger(store), "nothing is sent before the sending schedule is on"

    turned_on = processes.graphql(START_SCHEDULE, schedule={**REPOSITORY, "scheduleName": "sending_schedule"})
    assert turned_on["startSchedule"]["scheduleState"]["status"] == "RUNNING", turned_on

    # A scheduled tick starts sending; the daemon dies under it.
    first_sent = processes.wait(
        "the sending schedule's tick to send its first messages", lambda: ledger(store)["sent"] or None, timeout=180
    )
    [tick] = [r for r in runs(processes, "sending_job") if r.status == "STARTED"]
    assert tick.tags["dagster/schedule_name"] == "sending_schedule"
    processes.daemon.kill()
    processes.wait(
        "the tick to go on sending without the daemon", lambda: ledger(store)["sent"] > first_sent, timeout=30
    )

    # Then the run's worker dies too (a crash of the run itself, mid-tick).
    worker = run_worker_pid(processes, tick.run_id)
    assert worker is not None, "the run's log names its worker process"
    sent_at_crash = ledger(store)["sent"]
    for pid in [worker, *descendants(worker)]:
        os.kill(pid, signal.SIGKILL)
    failed = processes.wait(
        "the code server to mark the crashed run failed",
        lambda: next((r for r in runs(processes, "sending_job") if r.run_id == tick.run_id and r.status == "FAILURE"),
                     None),
        timeout=60,
    )  # fmt: skip
    assert failed.status == "FAILURE"
    queued_at_crash = int(store.query("SELECT count(*) AS n FROM messages WHERE status = 'queued'")["n"][0])
    assert queued_at_crash > 0, "the crash came before the tick was done"

    # The daemon comes back: run retries launch the crashed tick again, and it sends the rest.
    processes.restart_daemon()
    retry = processes.wait(
        "run retries to re-run the crashed tick to success",
        lambda: next(
            (r for r in runs(processes, "sending_job")
             if r.tags.get("dagster/parent_run_id") == tick.run_id and r.status == "SUCCESS"),
            None,
        ),
        timeout=240,
    )  # fmt: skip
    assert retry.tags["dagster/root_run_id"] == tick.run_id

    settled = ledger(store)
    assert settled["sent"] > sent_at_crash, f"the retry sent the rest: {settled}"
    rows = store.query("SELECT message_id, recipient, rfc_message_id, status FROM sends").to_dicts()
    assert len({row["message_id"] for row in rows}) == len(rows), "one ledger row per message"
    delivered = accepted_messages(sandbox)
    delivered_ids = Counter(str(message["Message-ID"]) for message in delivered)
    recipients = Counter(str(message["To"]).lower() for message in delivered)
    assert max(delivered_ids.values()) == 1, "no message was accepted twice"
    assert max(recipients.values()) == 1, "nobody got two messages"
    by_id = {row["rfc_message_id"]: row for row in rows}
    assert set(delivered_ids) <= set(by_id), "every accepted message is in the ledger"
    assert {by_id[i]["status"] for i in delivered_ids} <= {"sent", "claimed", "unknown"}
    assert settled["sent"] == sum(1 for i in delivered_ids if by_id[i]["status"] == "sent")
    elapsed = time.monotonic() - started
    print(f"e2e: {len(rows)} sends ({dict(settled)}), {len(delivered)} accepted by SMTP, {elapsed:.0f}s")
