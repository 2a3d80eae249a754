"""``jengu unsubscribe serve``: the RFC 8058 one-click unsubscribe receiver, on loopback unless told otherwise."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import click

from jengu_pipeline.domain.unsubscribe import PREVIOUS_SECRETS_ENV, SECRET_ENV, UnsubscribeSecretError, signer_from
from jengu_pipeline.domain.yaml_files import ConfigFileError
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import open_store

DEFAULT_PATH = "/u"


def _configured_path() -> str:
    """The path of ``sending.unsubscribe_url`` in the inbox file, so the receiver answers where messages point."""
    from jengu_pipeline.resources.sending import SendingConfigError, SendingResource
    from jengu_pipeline.resources.wiring import resources

    resource = resources()["sending"]
    assert isinstance(resource, SendingResource)
    try:
        url = resource.inbox_config().sending.unsubscribe_url
    except (SendingConfigError, ConfigFileError):
        return DEFAULT_PATH
    return (urlsplit(url).path if url else "") or DEFAULT_PATH


@click.group()
def unsubscribe() -> None:
    """The one-click unsubscribe receiver that every message's List-Unsubscribe header points at."""


@unsubscribe.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (loopback: put a TLS-terminating proxy in front for the public https URL).",
)
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--path",
    "path",
    default=None,
    help="URL path to answer on; default: the path of sending.unsubscribe_url in the inbox file, else /u.",
)
def serve(host: str, port: int, path: str | None) -> None:
    """Serve until stopped: POST List-Unsubscribe=One-Click suppresses; GET shows a confirmation page.

    Refuses to start without JENGU_UNSUBSCRIBE_SECRET (the sandbox's sandbox.env sets one).
    """
    from jengu_pipeline.unsubscribe.app import create_app
    from jengu_pipeline.unsubscribe.server import serve_forever

    route = path or _configured_path()
    try:
        signer_from(os.environ)  # refuse before touching the store
    except UnsubscribeSecretError as error:
        raise click.ClickException(f"{error}; the receiver did not start") from error
    app = create_app(
        open_store(get_settings().store_url),
        os.environ.get(SECRET_ENV),
        previous_secrets=os.environ.get(PREVIOUS_SECRETS_ENV, "").split(),
        path=route,
    )
    click.echo(f"unsubscribe receiver on http://{host}:{port}{route} (Ctrl-C stops it)")
    serve_forever(app, host, port)
