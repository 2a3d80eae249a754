"""Which Dagster instance the ``jengu`` commands use, and how its DAGSTER_HOME is prepared.

DAGSTER_HOME is taken from the environment when set; otherwise it is ``$JENGU_HOME/dagster``, so the UI
started by ``jengu dev`` and the runs launched by ``jengu import`` / ``jengu demo`` share one history.
The instance settings come from the file ``JENGU_DAGSTER_INSTANCE`` names, else the production settings
``deploy/dagster.yaml`` (dagster-postgres) when ``JENGU_DAGSTER_PG_URL`` is set, else the repository's ``dagster.yaml``
(SQLite); the chosen file is copied into DAGSTER_HOME when it differs.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

from jengu_pipeline.settings import Settings

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DAGSTER_PG_URL_VARIABLE = "JENGU_DAGSTER_PG_URL"


INSTANCE_FILE_VARIABLE = "JENGU_DAGSTER_INSTANCE"
PRODUCTION_INSTANCE = PROJECT_ROOT / "deploy" / "dagster.yaml"
"""The instance settings of a production deployment: PostgreSQL storage, run queue limits, run monitoring."""


def instance_template() -> Path:
    """``JENGU_DAGSTER_INSTANCE`` when set (a deployment names its variant, e.g. deploy/docker/dagster.yaml, so every
    process writes the same file), else the production settings on PostgreSQL, else the local SQLite ones."""
    if os.environ.get(INSTANCE_FILE_VARIABLE):
        return Path(os.environ[INSTANCE_FILE_VARIABLE])
    return PRODUCTION_INSTANCE if os.environ.get(DAGSTER_PG_URL_VARIABLE) else PROJECT_ROOT / "dagster.yaml"


def prepare_dagster_home(settings: Settings) -> Path:
    """Set DAGSTER_HOME (if unset) and make sure it holds the instance settings this project expects."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    wanted = instance_template().read_text(encoding="utf-8")
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text(encoding="utf-8") != wanted:
        config.write_text(wanted, encoding="utf-8")
    return home


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance under DAGSTER_HOME, created under a file lock.

    Two ``jengu`` processes opening a new SQLite instance at once both run its schema migrations and one
    fails (``UNIQUE constraint failed: alembic_version``); the lock makes the second wait for the first.
    """
    home = prepare_dagster_home(settings)
    with (home / ".jengu-instance.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return dg.DagsterInstance.get()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


# --- runs this machine executes in its own process (jengu import, jengu send --once) ---------------------------

RUN_OWNER_HOST_TAG = "jengu/owner_host"
RUN_OWNER_LOCK_TAG = "jengu/owner_lock"
UNFINISHED_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
ABANDONED_RUN_MESSAGE = (
    "the process running it died before it finished (killed?); marked failed by a later jengu command"
)


def run_owners_dir(settings: Settings) -> Path:
    """Where in-process runs keep the lock files that tell a live run from one whose process died."""
    return settings.home / "run-owners"


@contextmanager
def owned_run(folder: Path, run_id: str) -> Iterator[dict[str, str]]:
    """Hold a lock file while this process executes run ``run_id`` in-process; yields the tags that name it.

    A run executed in-process has no run launcher or monitor: when its process is killed, Dagster keeps it
    ``STARTED`` for ever, holding its pool slots (``crm_writer``), and every later run needing that pool waits on
    it. The operating system drops the lock of a dead process however it died, SIGKILL included, which is how
    :func:`reap_abandoned_runs` tells such a run from one still going.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield {RUN_OWNER_HOST_TAG: socket.gethostname(), RUN_OWNER_LOCK_TAG: str(path)}
        finally:
            path.unlink(missing_ok=True)


def reap_abandoned_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Mark failed this machine's unfinished in-process runs whose process is gone, and free every pool slot a
    finished run still holds (the daemon does the latter only when it runs). Returns the runs marked failed."""
    reaped: list[dg.DagsterRun] = []
    records = instance.get_run_records(
        filters=dg.RunsFilter(statuses=UNFINISHED_STATUSES, tags={RUN_OWNER_HOST_TAG: socket.gethostname()})
    )
    for record in records:
        run = record.dagster_run
        lock = run.tags.get(RUN_OWNER_LOCK_TAG)
        if lock is None or _held(Path(lock)):
            continue
        instance.report_run_failed(run, message=ABANDONED_RUN_MESSAGE)
        Path(lock).unlink(missing_ok=True)
        reaped.append(run)
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = storage.get_concurrency_run_ids()
        finished = instance.get_run_records(filters=dg.RunsFilter(run_ids=list(holders))) if holders else []
        for record in finished:
            if record.dagster_run.is_finished:
                storage.free_concurrency_slots_for_run(record.dagster_run.run_id)
    return reaped


def _held(path: Path) -> bool:
    """Whether a live process holds the lock file (a missing file has no owner left)."""
    try:
        handle = path.open("r")
    except FileNotFoundError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def _seconds_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    """Dagster 1.13's in-process executor sleeps ``min(0, ...)`` seconds between two claims of a pool slot, that
    is never, and spins at 100% CPU for as long as another run holds the slot (dagster-io/dagster#20367 saw it
    and was closed unmerged). This sleeps until the earliest pending claim is due again, as was meant."""
    if not self._pending_claims or not self._pending_timeouts:
        return 0.0
    return max(0.0, min(self._pending_timeouts.values()) - time.time())


def wait_for_pool_slots_without_spinning() -> None:
    """Make in-process runs waiting for a pool slot sleep between claims (see above); idempotent."""
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = _seconds_to_next_pending_claim_check  # type: ignore[method-assign]
