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


def run_sending_tick(instance: dg.DagsterInstance, *, at: datetime | None = None) -> dict[str, Any]:
    """Run ``sending_job`` once in this process (recorded in the Dagster instance); the tick's metadata."""
    from jengu_pipeline.definitions import defs

    run_config: dict[str, Any] = {**QUIET_CONSOLE, "ops": {"sends": {"config": {"at": at.isoformat() if at else ""}}}}
    reap_abandoned_runs(instance)  # a killed tick must not hold the smtp pool for ever
    wait_for_pool_slots_without_spinning()
    run_id = str(uuid.uuid4())
    with owned_run(run_owners_dir(get_settings()), run_id) as owner:
        result = defs.resolve_job_def("sending_job").execute_in_process(
            run_config=run_config,
            instance=instance,
            run_id=run_id,
            raise_on_error=False,
            tags={"jengu/lane": "send", **owner},
        )
    if not result.success:
        failure = next((event for event in result.all_events if event.is_failure), None)
        raise TickFailedError(f"sending tick failed: {failure.message if failure else 'see the run log'}")
    metadata = result.asset_materializations_for_node("sends")[0].metadata
    return {key: value.value for key, value in metadata.items()}
