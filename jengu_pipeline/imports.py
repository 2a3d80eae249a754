"""Importing a prospect file from the command line: the same batch and run the drop-folder sensor makes."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from jengu_pipeline.batch_files import stage_file
from jengu_pipeline.domain.prospect_files import ProspectFileError, check_prospect_file
from jengu_pipeline.instance import owned_run, reap_abandoned_runs, run_owners_dir, wait_for_pool_slots_without_spinning
from jengu_pipeline.partitions import PROSPECT_BATCHES
from jengu_pipeline.settings import Settings
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.ingest import (
    BatchState,
    BatchSummary,
    batch_state,
    batch_summary,
    batches_importing,
    fail_batch,
)

QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
"""The terminal shows a progress bar and the summary; the step-by-step log stays in the run's event log."""
SILENT_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
"""Not even a failing step's traceback: the caller reports the failure in one line (``jengu import``)."""

ProgressCallback = Callable[[int, int], None]
"""Called with (steps done, steps in all) while the run goes."""


class ImportFailedError(Exception):
    """The file was refused or the batch's run failed; the message is one line naming the file and the reason."""


@dataclass(frozen=True)
class ImportResult:
    batch_id: str
    run_id: str
    summary: BatchSummary
    state: BatchState | None


def import_file(
    path: Path,
    settings: Settings,
    instance: dg.DagsterInstance,
    *,
    progress: ProgressCallback | None = None,
    job_name: str = "ingest_job",
    console: dict[str, Any] = QUIET_CONSOLE,
) -> ImportResult:
    """Stage ``path`` as a batch, register its partition and run ``job_name`` (the ingest assets) for it now.

    A file that cannot be imported as a whole (empty, binary, only a header, mixed delimiters, ...) is refused
    before anything is staged, registered or run for it. Batches and runs a killed import left behind are
    settled first (:func:`settle_abandoned_batches`), so none of them holds this import up; importing a killed
    batch's file again redoes it. ``console`` is the run's console logger config.
    """
    from jengu_pipeline.definitions import defs

    if not path.is_file():
        raise ImportFailedError(f"{path}: no such file")
    try:
        check_prospect_file(path)
    except ProspectFileError as refused:
        raise ImportFailedError(f"{path}: {refused.reason}") from refused
    store = open_store(settings.store_url)
    settle_abandoned_batches(store, instance)
    staged = stage_file(path, settings.home, list(instance.get_dynamic_partitions(PROSPECT_BATCHES)))
    if not instance.has_dynamic_partition(PROSPECT_BATCHES, staged.key):
        instance.add_dynamic_partitions(PROSPECT_BATCHES, [staged.key])
    job = defs.resolve_job_def(job_name)
    run_id = str(uuid.uuid4())
    outcome: dict[str, dg.ExecuteInProcessResult | BaseException] = {}
    wait_for_pool_slots_without_spinning()

    def execute() -> None:
        try:
            with owned_run(run_owners_dir(settings), run_id) as owner:
                outcome["result"] = job.execute_in_process(
                    run_config=console,
                    instance=instance,
                    partition_key=staged.key,
                    run_id=run_id,
                    raise_on_error=False,
                    tags={"jengu/lane": "ingest", **owner},
                )
        except BaseException as error:  # surfaced in the calling thread below
            outcome["error"] = error

    worker = threading.Thread(target=execute, name=f"import-{staged.key}")
    worker.start()
    total = len(job.graph.node_defs)
    while worker.is_alive():
        worker.join(timeout=0.2)
        if progress is not None:
            progress(_steps_done(instance, run_id), total)
    result = outcome.get("result")
    if not isinstance(result, dg.ExecuteInProcessResult):
        error = outcome.get("error")
        raise ImportFailedError(f"{path}: {error}") from error if isinstance(error, BaseException) else None
    if not result.success:
        raise ImportFailedError(f"{path}: {_failure_message(result)}")
    if progress is not None:
        progress(total, total)
    return ImportResult(staged.key, run_id, batch_summary(store, staged.key), batch_state(store, staged.key))


def settle_abandoned_batches(store: CrmStore, instance: dg.DagsterInstance) -> list[str]:
    """Mark ``failed`` every batch left ``importing`` by a run that can no longer finish it; returns their ids.

    First the runs of this machine whose process died (a killed ``jengu import``) are marked failed and their
    pool slots freed, so that no later import waits for them; then each batch whose recorded run ended without
    success (those, or runs the daemon's run monitoring failed) gets that reason. A batch whose run is not in this
    Dagster instance is left as it is. Re-running a failed batch redoes it.
    """
    reaped = {run.run_id for run in reap_abandoned_runs(instance)}
    settled = []
    for batch_id, run_id in batches_importing(store):
        run = instance.get_run_by_id(run_id) if run_id else None
        if run is None or run.status not in {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}:
            continue
        reason = "its import was killed" if run.run_id in reaped else f"its run ended {run.status.value.lower()}"
        fail_batch(store, batch_id, run_id, f"{reason} (run {run_id}); import the file again to redo it")
        settled.append(batch_id)
    return settled


def _steps_done(instance: dg.DagsterInstance, run_id: str) -> int:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_SUCCESS).records
    return len(records)


def _failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The first failing step's reason in one line: a ``dg.Failure``'s description, else the error that caused
    the step's failure (not Dagster's wrapper around it)."""
    for event in result.all_events:
        if not event.is_step_failure:
            continue
        failure = event.step_failure_data
        if failure.user_failure_data is not None and failure.user_failure_data.description:
            return failure.user_failure_data.description
        error = failure.error
        while error is not None and error.cause is not None:
            error = error.cause
        if error is not None:
            return f"step {event.step_key} failed: {(error.message.strip().splitlines() or [''])[0]}"
    return "the import run failed (see the run in the Dagster UI)"
