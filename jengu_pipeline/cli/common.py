"""What every ``jengu`` command shares: the JSON output contract, running against the configured store, and
one-line errors (a traceback only under ``jengu --debug``)."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from jengu_pipeline.domain.yaml_files import ConfigFileError
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, StoreError, open_store

T = TypeVar("T")
CLI_ACTOR = "cli"
"""The actor recorded on activities of changes made from the command line."""


@dataclass
class CliState:
    """The main group's options, kept in the click context's ``obj`` for every command to consult."""

    debug: bool = False


def debug_enabled() -> bool:
    """Whether ``jengu --debug`` was given: then errors show their traceback, else one line."""
    context = click.get_current_context(silent=True)
    state = context.find_object(CliState) if context else None
    return bool(state and state.debug)


def first_line(error: BaseException) -> str:
    """The first line of an error's text, capped: what an operator reads when there is no traceback."""
    return (str(error).strip().splitlines() or [""])[0][:200]


class JenguGroup(click.Group):
    """The main group: every error is one line. Under ``--debug`` a ``ClickException`` raised ``from`` an error
    prints that error's traceback first, and an error no command expected propagates whole."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as error:
            if error.__cause__ is not None and debug_enabled():
                traceback.print_exception(error.__cause__, file=sys.stderr)
            raise
        except (click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as error:
            if debug_enabled():
                raise
            raise click.ClickException(f"{type(error).__name__}: {first_line(error)}") from error


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
