"""One tick of a scheduled job, run in this process by hand (``jengu send --once``, the demo) and recorded in the
Dagster instance like a scheduled run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg

from jengu_pipeline.imports import QUIET_CONSOLE


class TickFailedError(RuntimeError):
    """The tick's run failed; the message is the failing step's, in one line."""


def _run_tick(
    instance: dg.DagsterInstance, job: str, asset: str, lane: str, ops_config: dict[str, Any]
) -> dict[str, Any]:
    from jengu_pipeline.definitions import defs

    result = defs.resolve_job_def(job).execute_in_process(
        run_config={**QUIET_CONSOLE, "ops": ops_config},
        instance=instance,
        raise_on_error=False,
        tags={"jengu/lane": lane},
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
