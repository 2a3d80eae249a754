"""Watches ``$JENGU_HOME/inbox/`` and turns each new prospect file into a batch partition and a run."""

import json

import dagster as dg

from jengu_pipeline.batch_files import stage_file
from jengu_pipeline.domain.prospect_files import ProspectFileError, check_prospect_file
from jengu_pipeline.jobs.batches import prospect_batch_job
from jengu_pipeline.partitions import PROSPECT_BATCHES, prospect_batches
from jengu_pipeline.settings import get_settings

PROSPECT_FILE_SUFFIXES = (".csv", ".tsv", ".txt")


@dg.sensor(
    job=prospect_batch_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Registers each new file in the drop folder as a prospect batch and launches its prospect_batch_job "
    "(import, enrich, compose).",
)
def prospect_drop_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
    """Bounded work per tick; the cursor (last ``(mtime, name)``) only advances over files handled here.

    A file whose bytes were imported before (under any name) maps to its existing batch and launches nothing; a
    file that cannot be imported as a whole (empty, binary, only a header, ...) is logged with its reason and
    neither staged nor registered.
    """
    settings = get_settings()
    drop = settings.drop_dir
    drop.mkdir(parents=True, exist_ok=True)
    after = tuple(json.loads(context.cursor)) if context.cursor else (0.0, "")
    files = sorted(
        (p.stat().st_mtime, p.name)
        for p in drop.iterdir()
        if p.is_file() and p.suffix.lower() in PROSPECT_FILE_SUFFIXES and not p.name.startswith(".")
    )
    todo = [f for f in files if f > after][: settings.drop_max_files_per_tick]
    if not todo:
        return dg.SkipReason(f"no new files in {drop}")
    known = list(context.instance.get_dynamic_partitions(PROSPECT_BATCHES))
    new_keys: list[str] = []
    for _, name in todo:
        try:
            check_prospect_file(drop / name)
        except ProspectFileError as refused:
            context.log.warning(f"{name} refused, not imported: {refused.reason}")
            continue
        staged = stage_file(drop / name, settings.home, known)
        if staged.key not in known:
            known.append(staged.key)
            new_keys.append(staged.key)
            context.log.info(f"{name} -> batch {staged.key}")
        else:
            context.log.info(f"{name} has the same content as batch {staged.key}; nothing to do")
    return dg.SensorResult(
        dynamic_partitions_requests=[prospect_batches.build_add_request(new_keys)] if new_keys else [],
        run_requests=[dg.RunRequest(partition_key=k, run_key=k, tags={"jengu/lane": "ingest"}) for k in new_keys],
        cursor=json.dumps(todo[-1]),
    )
