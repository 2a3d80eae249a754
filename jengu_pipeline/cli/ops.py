"""``jengu health``, ``jengu demo`` and ``jengu dev``: is everything reachable, show it working, open the UI."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import click

from jengu_pipeline.cli.common import emit_json, first_line
from jengu_pipeline.instance import (
    DAGSTER_PG_URL_VARIABLE,
    PROJECT_ROOT,
    dagster_instance,
    prepare_dagster_home,
)
from jengu_pipeline.settings import Settings, get_settings
from jengu_pipeline.store import open_store
from jengu_pipeline.store.migrations import latest_version

PROVIDER_VARIABLES = {
    "brave": "JENGU_BRAVE_API_KEY",
    "google_cse": "JENGU_GOOGLE_CSE_API_KEY",
    "searxng": "JENGU_SEARXNG_BASE_URL",
    "millionverifier": "JENGU_MILLIONVERIFIER_API_KEY",
    "llm": "JENGU_LLM_API_KEY",
    "anthropic": "JENGU_ANTHROPIC_API_KEY",
    "hunter": "JENGU_HUNTER_API_KEY",
    "alerts": "JENGU_ALERT_WEBHOOK_URL",
    "smtp": "JENGU_SMTP_HOST",
}
"""Which environment variable configures each provider. Health reports names only, never values."""


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def health(as_json: bool) -> None:
    """Check the store, the Dagster instance and which providers are configured (names only)."""
    settings = get_settings()
    checks: dict[str, Any] = {"store": _store_health(settings), "dagster_instance": _instance_health(settings)}
    checks["providers"] = {name: bool(os.environ.get(var)) for name, var in PROVIDER_VARIABLES.items()}
    healthy = checks["store"]["ok"] and checks["dagster_instance"]["ok"]
    if as_json:
        emit_json({"ok": healthy, **checks})
    else:
        for name in ("store", "dagster_instance"):
            check = checks[name]
            click.echo(f"{'ok  ' if check['ok'] else 'FAIL'} {name}: {check['detail']}")
        configured = [name for name, on in checks["providers"].items() if on]
        click.echo(f"     providers configured: {', '.join(configured) or 'none (sandbox or offline fallbacks)'}")
    sys.exit(0 if healthy else 1)


def _store_health(settings: Settings) -> dict[str, Any]:
    try:
        store = open_store(settings.store_url)
        version = store.schema_version()
    except Exception as error:
        return {"ok": False, "detail": f"unreachable: {type(error).__name__}: {first_line(error)}"}
    ok = version >= latest_version()
    return {
        "ok": ok,
        "backend": store.backend,
        "schema_version": version,
        "detail": f"{store.display_url} schema v{version}" + ("" if ok else f" (expected v{latest_version()})"),
    }


def _instance_health(settings: Settings) -> dict[str, Any]:
    try:
        instance = dagster_instance(settings)
        instance.get_runs(limit=1)
    except Exception as error:
        return {"ok": False, "detail": f"unreadable: {type(error).__name__}: {first_line(error)}"}
    storage = "postgres" if os.environ.get(DAGSTER_PG_URL_VARIABLE) else "sqlite"
    return {"ok": True, "storage": storage, "detail": f"{storage} at DAGSTER_HOME={os.environ['DAGSTER_HOME']}"}


@click.command()
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Simulated days of sending, replies and follow-ups after the import (a line each).",
)
@click.option("--json", "as_json", is_flag=True, help="Last line: one JSON object summarising the run.")
def demo(days: int, as_json: bool) -> None:
    """Run the main job on the sample batch, every provider played by the loopback SANDBOX (no keys, no
    internet), then simulate DAYS of sending ticks, replies and follow-ups on the sandbox clock, and measure the
    result against the sandbox's ground truth."""
    from jengu_pipeline.demo import run_demo

    summary = run_demo(get_settings(), quiet=as_json, days=days)
    if as_json:
        emit_json(summary)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address; loopback unless told.")
@click.option("--port", default=3000, show_default=True)
def dev(host: str, port: int) -> None:
    """Start the Dagster UI and daemon (``dagster dev``) on this project, bound to loopback by default."""
    prepare_dagster_home(get_settings())
    command = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(PROJECT_ROOT / "workspace.yaml"),
        "-h",
        host,
        "-p",
        str(port),
    ]
    raise SystemExit(subprocess.call(command, cwd=PROJECT_ROOT))
