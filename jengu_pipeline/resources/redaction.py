"""Redaction: API keys, credential headers, webhook URLs and email addresses never reach a log, an error or
the store in the clear.

Every provider client registers its configured secrets here; `redact` masks them and every known key shape,
and `redacting_logger` gives a logger whose records go through it (httpx and httpcore, which log each request
URL, get one on import).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_KEY_PARAMS = r"(?:api|api_key|apikey|key|token|access_token|secret|password)"
_CREDENTIAL_NAME = re.compile(rf"(?i)^{_KEY_PARAMS}$|authorization")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value pairs that carry keys (MillionVerifier `api=`, Google `key=`, Hunter `api_key=`).
    (re.compile(rf"(?i)(?<![\w.\-])({_KEY_PARAMS}=)[^&#\s\"']+"), r"\1***"),
    # Credential headers, as printed by a repr or a log line.
    (
        re.compile(
            r"(?i)\b(authorization|x-api-key|x-subscription-token)([\"']?\s*[:=]\s*[\"']?)"
            r"((?:bearer|basic)\s+)?[^\s\"',}]+"
        ),
        r"\1\2\3***",
    ),
    # Key shapes of the LLM vendors, wherever they appear.
    (re.compile(r"\b(?:sk-ant|sk|xai)-[A-Za-z0-9_\-]{8,}"), "***"),
    # Incoming webhook URLs are bearer credentials in their path.
    (re.compile(r"(?i)(hooks\.slack\.com/services/|/api/webhooks/|/hooks/)[^\s\"'<>]+"), r"\1***"),
    # Email addresses, raw or percent-encoded: keep the first character and the domain.
    (re.compile(r"([\w+\-])[\w.+\-]*(@|%40)([\w\-]+(?:\.[\w\-]+)+)"), r"\1***\2\3"),
)


def register_secret(value: str) -> None:
    """Remembers a configured secret so that `redact` masks it even where no pattern would."""
    if len(value) >= 6:
        with _SECRETS_LOCK:
            _SECRETS.update({value, quote(value, safe="")})


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Masks API keys (URLs, headers, registered values) and shortens emails to ``z***@domain``."""
    with _SECRETS_LOCK:
        known = sorted({*_SECRETS, *(s for s in secrets if len(s) >= 6)}, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites records through `redact`: httpx logs every request URL, keys and addresses included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = RedactingFilter()


def redacting_logger(name: str) -> logging.Logger:
    """A logger whose own records are redacted (filters do not reach records of child loggers)."""
    logger = logging.getLogger(name)
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def names_a_credential(name: str) -> bool:
    """Whether a parameter or header name carries a credential (``api_key``, ``token``, ``Authorization``...)."""
    return _CREDENTIAL_NAME.search(name) is not None


for _name in ("httpx", "httpcore"):
    redacting_logger(_name)
