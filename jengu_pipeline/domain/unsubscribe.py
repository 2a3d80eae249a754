"""Signed one-click unsubscribe tokens (RFC 8058) and the confirmation page's CSRF tokens.

The token in a message's ``List-Unsubscribe`` URL is its only authorisation: whoever POSTs it unsubscribes
the address that send went to, with no login and no cookie (RFC 8058 forbids both). So it must be
unforgeable and must not be guessable from another message's token: ``v1.<send id>.<HMAC-SHA256>``, keyed
by a secret only the operator holds. Everything that arrives from outside is hostile, so verification is
total: any string (or anything else) gives a send id or ``None``, never an exception, and the signature is
compared in constant time against the one canonical encoding, so no two strings verify for one send.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Final

SECRET_ENV: Final = "JENGU_UNSUBSCRIBE_SECRET"  # noqa: S105 - the variable's name, not a secret
"""The environment variable holding the signing secret (never stored, logged or put in config)."""
PREVIOUS_SECRETS_ENV: Final = "JENGU_UNSUBSCRIBE_PREVIOUS_SECRETS"
"""Older secrets, whitespace-separated, still accepted after a rotation (links in old mail keep working)."""
MIN_SECRET_LENGTH: Final = 32
TOKEN_PARAMETER: Final = "t"  # noqa: S105 - a query parameter name
"""The query parameter of the unsubscribe URL that holds the token."""
VERSION: Final = "v1"
MAX_TOKEN_LENGTH: Final = 200
CSRF_MAX_AGE: Final = timedelta(hours=24)
"""How long a confirmation page's form can be submitted after the page was shown."""
CSRF_CLOCK_SKEW: Final = timedelta(minutes=5)

_SEND_ID = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")
_SIGNATURE = r"[A-Za-z0-9_-]{43}"  # 32 bytes of HMAC-SHA256, unpadded base64url
_TOKEN = re.compile(rf"{VERSION}\.([A-Za-z0-9_-]{{1,64}})\.({_SIGNATURE})\Z")
_NONCE = re.compile(r"([0-9]{1,12})\.([0-9a-f]{32})\Z")
_CSRF = re.compile(rf"{_SIGNATURE}\Z")


class UnsubscribeSecretError(ValueError):
    """The signing secret is missing or too short to resist guessing."""


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _derive(secret: str, purpose: str) -> bytes:
    """One key per purpose from the secret, so a CSRF value can never be replayed as a token (or back)."""
    return hmac.new(secret.encode("utf-8"), f"jengu/unsubscribe/{purpose}/{VERSION}".encode(), hashlib.sha256).digest()


def _check_secret(secret: str, what: str) -> str:
    if len(secret) < MIN_SECRET_LENGTH:
        raise UnsubscribeSecretError(
            f"{what} must be at least {MIN_SECRET_LENGTH} characters; make one with"
            " `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    return secret


class TokenSigner:
    """Signs send ids into tokens and verifies them; ``previous`` secrets still verify but never sign."""

    def __init__(self, secret: str | None, previous: Sequence[str] = ()) -> None:
        if not secret:
            raise UnsubscribeSecretError(f"{SECRET_ENV} is not set: one-click unsubscribe links cannot be signed")
        current = _check_secret(secret, SECRET_ENV)
        older = [_check_secret(value, PREVIOUS_SECRETS_ENV) for value in previous]
        self._token_keys = tuple(_derive(value, "token") for value in (current, *older))
        self._csrf_key = _derive(current, "csrf")

    def _signature(self, key: bytes, send_id: str) -> str:
        return _b64(hmac.new(key, f"{VERSION}\x00{send_id}".encode("ascii"), hashlib.sha256).digest())

    def token(self, send_id: str) -> str:
        """The URL-safe token for one send; raises ValueError for an id that is not ours."""
        if not _SEND_ID.match(send_id):
            raise ValueError(f"not a send id: {send_id!r}")
        return f"{VERSION}.{send_id}.{self._signature(self._token_keys[0], send_id)}"

    def send_id(self, token: object) -> str | None:
        """The send id a genuine token carries, or None for anything else (never raises)."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        match = _TOKEN.match(token)
        if match is None:
            return None
        send_id, given = match.groups()
        valid = False
        for key in self._token_keys:  # every key is tried, so timing does not tell which one matched
            valid |= hmac.compare_digest(self._signature(key, send_id), given)
        return send_id if valid else None

    def new_nonce(self, now: datetime) -> str:
        """A fresh nonce for one confirmation page: when it was shown, and 128 random bits."""
        return f"{int(now.timestamp())}.{secrets.token_hex(16)}"

    def csrf(self, token: str, nonce: str) -> str:
        """The value the confirmation page's form must send back: bound to this token and this page's nonce."""
        return _b64(hmac.new(self._csrf_key, f"{token}\x00{nonce}".encode(), hashlib.sha256).digest())

    def csrf_valid(self, token: str, nonce: object, csrf: object, now: datetime) -> bool:
        """Whether a form came from a confirmation page we served for this token, recently (never raises)."""
        if not isinstance(nonce, str) or not isinstance(csrf, str) or not csrf.isascii():
            return False
        match = _NONCE.match(nonce)
        if match is None or not _CSRF.match(csrf):
            return False
        age = now.timestamp() - int(match.group(1))
        if not -CSRF_CLOCK_SKEW.total_seconds() <= age <= CSRF_MAX_AGE.total_seconds():
            return False
        return hmac.compare_digest(self.csrf(token, nonce), csrf)


def unsubscribe_link(base_url: str, token: str) -> str:
    """The one-click URL of a message: the configured https base with the token as its ``t`` parameter."""
    return f"{base_url}{'&' if '?' in base_url else '?'}{TOKEN_PARAMETER}={token}"


def signer_from(environ: Mapping[str, str]) -> TokenSigner:
    """The signer for ``JENGU_UNSUBSCRIBE_SECRET`` (and any previous secrets) in ``environ`` (os.environ)."""
    return TokenSigner(environ.get(SECRET_ENV), environ.get(PREVIOUS_SECRETS_ENV, "").split())
