"""What every ``jengu`` command shares: the JSON output contract and running against the configured store."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from jengu_pipeline.domain.yaml_files import ConfigFileError
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, StoreError, open_store

T = TypeVar("T")
CLI_ACTOR = "cli"
"""The actor recorded on activities of changes made from the command line."""


def emit_json(payload: dict[str, Any]) -> None:
    """One JSON object on the last line: the stable, machine-readable contract of ``--json``."""
    click.echo(json.dumps(payload, default=str, ensure_ascii=False))


def with_store(work: Callable[[CrmStore], T]) -> T:
    """Run against the configured store; invalid files and refused changes are a clean exit 1, not a traceback."""
    from jengu_pipeline.domain.campaigns import CampaignFileError

    try:
        return work(open_store(get_settings().store_url))
    except (CampaignFileError, ConfigFileError, StoreError) as error:
        raise click.ClickException(str(error)) from error
