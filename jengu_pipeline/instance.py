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
from pathlib import Path

import dagster as dg

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
