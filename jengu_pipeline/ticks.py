"""One tick of a scheduled job, run in this process by hand (``jengu send --once``, the demo) and recorded in the
Dagster instance like a scheduled run."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import dagster as dg

from jengu_pipeline.imports import QUIET_CONSOLE
from jengu_pipeline.instance import owned_run, reap_abandoned_runs, run_owners_dir, wait_for_pool_slots_without_spinning
from jengu_pipeline.settings import get_settings


class TickFailedError(RuntimeError):
    """The tick's run failed; the message is the failing step's, in one line."""


def _run_tick(
    instance: dg.DagsterInstance, job: str, asset: str, lane: str, ops_config: dict[str, Any]
) -> dict[str, Any]:
    from jengu_pipeline.definitions import defs

    reap_abandoned_runs(instance)  # a killed tick must not hold its pool (smtp, crm_writer) for ever
    wait_for_pool_slots_without_spinning()
    run_id = str(uuid.uuid4())
    with owned_run(run_owners_dir(get_settings()), run_id) as owner:
        result = defs.resolve_job_def(job).execute_in_process(
            run_config={**QUIET_CONSOLE, "ops": ops_config},
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
            tags={"jengu/lane": lane, **owner},
        )
    if not result.success:
        failure = next((event for event in result.all_events if event.is_failure), None)
        raise TickFailedError(f"{job} failed: {failure.message if failure else 'see the run log'}")
    metadata = result.asset_materializations_for_node(asset)[0].metadata
    return {key: value.value for key, value in metadata.items()}


def run_sending_tick(instance: dg.DagsterInstance, *, at: datetime | None = None) -> dict[str, Any]:
    """Run ``sending_job`` once in this process (recorded in the Dagster instance); the tick's metadata."""
    return _run_tick(
        instance, "sending_job", "sends", "send", {"sends": {"config": {"at": at.isoformat() if at else ""}}}
    )


def run_replies_tick(instance: dg.DagsterInstance) -> dict[str, Any]:
    """Run ``replies_job`` once in this process: read new mail, classify and act; the pass's metadata."""
    return _run_tick(instance, "replies_job", "replies", "replies", {})


def run_follow_ups_tick(instance: dg.DagsterInstance) -> dict[str, Any]:
    """Run ``follow_up_job`` once in this process: write the follow-ups due within a day; the run's metadata."""
    return _run_tick(instance, "follow_up_job", "follow_up_messages", "compose", {})
