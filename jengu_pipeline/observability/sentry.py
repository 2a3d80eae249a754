"""Optional error reporting to Sentry (``JENGU_SENTRY_DSN``), with every secret scrubbed before an event leaves.

Secrets are whatever the environment holds under a secret-looking name (``*_PASSWORD``, ``*_KEY``, ``*_SECRET``,
``*_TOKEN``, ``*_WEBHOOK_URL``) and the password of any URL with credentials (a database URL), wherever they
appear in an event: messages, exception values, breadcrumbs, extra data. Values under secret-looking keys are
dropped too, and frame locals are never sent. The scrubber is a pure function of the event and the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

DSN_VARIABLE = "JENGU_SENTRY_DSN"
ENVIRONMENT_VARIABLE = "JENGU_SENTRY_ENVIRONMENT"
SECRET_SUFFIXES = ("_PASSWORD", "_KEY", "_SECRET", "_TOKEN", "_WEBHOOK_URL")
SECRET_KEY_WORDS = ("password", "passwd", "secret", "token", "api_key", "apikey", "authorization", "cookie", "dsn")
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 4
"""Shorter values (a port, a flag) are not secrets and would shred every text they occur in."""
_URL_CREDENTIALS = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*):(?P<password>[^@/\s]+)@")

_initialised = False


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """The secret values in ``environ``, longest first (so a secret containing another is replaced whole)."""
    found: set[str] = set()
    for name, value in environ.items():
        if not value:
            continue
        if name.upper().endswith(SECRET_SUFFIXES):
            found.add(value)
            found.update(line.strip() for line in value.splitlines() if len(line.strip()) >= 8)  # PEM keys
        found.update(match.group("password") for match in _URL_CREDENTIALS.finditer(value))
    return sorted((v for v in found if len(v) >= MIN_SECRET_LENGTH), key=len, reverse=True)


def scrub_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return _URL_CREDENTIALS.sub(rf"\g<head>:{REDACTED}@", text)


def _secret_key(key: object) -> bool:
    lowered = str(key).lower()
    return any(word in lowered for word in SECRET_KEY_WORDS)


def scrub(value: Any, secrets: list[str]) -> Any:
    """``value`` with every secret replaced, recursively through dicts, lists and tuples."""
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _secret_key(key) and isinstance(item, str | bytes) else scrub(item, secrets)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(scrub(item, secrets) for item in value)
    return value


def before_send(
    event: dict[str, Any], hint: dict[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Sentry's ``before_send``: the event with every secret of the (current) environment scrubbed."""
    return scrub(event, secret_values(os.environ if environ is None else environ))


def init_sentry(environ: Mapping[str, str] | None = None) -> bool:
    """Start error reporting when ``JENGU_SENTRY_DSN`` is set; once per process. True when it is on."""
    global _initialised  # noqa: PLW0603 - one client per process, whoever asks first
    env = os.environ if environ is None else environ
    dsn = env.get(DSN_VARIABLE, "").strip()
    if not dsn:
        return False
    if _initialised:
        return True
    import sentry_sdk

    def hook(event: Any, hint: Any) -> Any:  # events and breadcrumbs alike
        return before_send(event, hint, env)

    sentry_sdk.init(
        dsn=dsn,
        environment=env.get(ENVIRONMENT_VARIABLE) or "production",
        before_send=hook,
        before_breadcrumb=hook,
        # no user identity, frame locals, database query data or request bodies: they may hold what the
        # scrubber cannot know is secret
        data_collection={
            "user_info": False,
            "stack_frame_variables": False,
            "database_query_data": False,
            "http_bodies": [],
        },
        traces_sample_rate=0.0,
    )
    _initialised = True
    return True
