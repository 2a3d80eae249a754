"""The base of the HTTP provider clients: one pooled ``httpx.AsyncClient`` per client, every request sent
through its provider's `ProviderCaller`, HTTP statuses and transport failures read as the call mechanism's
outcomes, and nothing from httpx (whose exceptions name the URL, keys included) passed on unredacted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from jengu_pipeline import clock
from jengu_pipeline.resources.call_ledger import Outcome
from jengu_pipeline.resources.call_policy import parse_retry_after
from jengu_pipeline.resources.calls import ProviderCaller, ProviderConfigError, ProviderError, every_answer
from jengu_pipeline.resources.redaction import register_secret


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, relative to a client's base URL."""

    method: str
    path: str = ""
    params: Mapping[str, str | int] | None = None
    headers: Mapping[str, str] | None = None
    json: Any = None
    data: Mapping[str, str] | None = None


ErrorHook = Callable[[httpx.Response], ProviderError | None]


def body_excerpt(response: httpx.Response, limit: int = 200) -> str:
    """The start of a response body on one line, for error details (redacted by `ProviderError`)."""
    return " ".join(response.text[:limit].split())


def status_error(
    provider: str, operation: str, response: httpx.Response, now: datetime | None = None
) -> ProviderError | None:
    """The generic reading of an HTTP status: 429 and 5xx are transient, 401/403 are configuration."""
    status = response.status_code
    if status < 400:
        return None
    retry_after = parse_retry_after(response.headers.get("retry-after"), now or clock.now())
    detail = f"HTTP {status}: {body_excerpt(response)}"
    if status == 429:
        return ProviderError(provider, operation, Outcome.ERROR_429, detail, retryable=True, retry_after=retry_after)
    if status >= 500:
        return ProviderError(provider, operation, Outcome.ERROR_5XX, detail, retryable=True, retry_after=retry_after)
    if status in (401, 403):
        return ProviderConfigError(provider, operation, detail)
    return ProviderError(provider, operation, Outcome.CLIENT_ERROR, detail)


class HttpProvider:
    """Base of the HTTP clients: one pooled ``httpx.AsyncClient`` used under the provider's caller."""

    def __init__(
        self,
        caller: ProviderCaller,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
    ) -> None:
        for secret in secrets:
            register_secret(secret)
        self.caller = caller
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            timeout=caller.limits.timeout_seconds, headers=dict(headers or {}), follow_redirects=True
        )

    @property
    def provider(self) -> str:
        return self.caller.name

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.caller.aclose()

    async def request(
        self,
        operation: str,
        request: HttpRequest,
        parse: Callable[[httpx.Response], Any],
        *,
        cache_params: Mapping[str, Any] | None = None,
        batch_id: str | None = None,
        cacheable: Callable[[Any], bool] = every_answer,
        errors: ErrorHook | None = None,
        cost_of: Callable[[Any], int] | None = None,
    ) -> Any:
        """Sends `request` through the caller; `errors` reads provider-specific failures before the status."""

        async def attempt() -> Any:
            response = await self._send(operation, request)
            try:
                error = errors(response) if errors else None
                error = error or status_error(self.provider, operation, response)
                if error is not None:
                    raise error
                return parse(response)
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                detail = f"{type(exc).__name__}: {' '.join(str(exc)[:200].split())}"
                raise ProviderError(self.provider, operation, Outcome.BAD_RESPONSE, detail) from None

        return await self.caller.execute(
            operation, attempt, cache_params=cache_params, batch_id=batch_id, cacheable=cacheable, cost_of=cost_of
        )

    async def _send(self, operation: str, request: HttpRequest) -> httpx.Response:
        # Exceptions from httpx name the URL (and so any key in it): translate them, never chain them.
        try:
            return await self._http.request(
                request.method,
                self.base_url + request.path,
                params=request.params,
                headers=request.headers,
                json=request.json,
                data=request.data,
            )
        except httpx.TimeoutException:
            raise ProviderError(self.provider, operation, Outcome.TIMEOUT, retryable=True) from None
        except httpx.TransportError as exc:
            raise ProviderError(
                self.provider, operation, Outcome.TRANSPORT_ERROR, type(exc).__name__, retryable=True
            ) from None
