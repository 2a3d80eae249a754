"""The ``pages`` resource: hotels' homepages, fetched politely through the one call mechanism.

A homepage is the best evidence of whose site a domain is (its title, ``og:site_name``, its town), and the
later message writer quotes "the website's own words". Pages are fetched as provider ``site`` calls: rate
limited, cached in the store, recorded in the ledger. Only http(s), a capped body, a named User-Agent, no
private or loopback hosts in production. A site that does not answer is a fact about that site, not an
outage: it never opens the circuit for every other hotel.

In the sandbox (``site_base_url`` set), ``https://www.<domain>/<path>`` is fetched as
``<site_base_url><domain>/<path>``, the layout ``jengu sandbox`` serves its world's sites under.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from pydantic import Field, PrivateAttr

from jengu_pipeline.domain.websites import Homepage, PageCheck, classify_page, read_homepage
from jengu_pipeline.resources.call_ledger import CallStore, Outcome
from jengu_pipeline.resources.call_policy import ProviderLimits, parse_retry_after
from jengu_pipeline.resources.calls import ProviderCaller, ProviderError
from jengu_pipeline.resources.redaction import redacting_logger
from jengu_pipeline.resources.runtime import ProviderResource

log = redacting_logger(__name__)

PROVIDER = "site"
OPERATION = "fetch_page"
USER_AGENT = "Mozilla/5.0 (compatible; JenguBot/0.1; hotel website check, one page per site)"
HTML_TYPES = ("text/html", "application/xhtml+xml")
PAGE_CACHE_TTL = 14 * 86400
SANDBOX_LIMITS = {"concurrency": 8, "rate_per_second": 200.0, "burst": 20}
"""The sandbox serves every site on loopback: the polite per-second rate would only slow the tests."""


@dataclass(frozen=True)
class FetchedPage:
    """One fetch of one URL: the HTTP status (0: no answer), where it ended up, and the page read from it."""

    url: str
    status: int
    final_url: str = ""
    error: str = ""
    homepage: Homepage | None = None

    @property
    def check(self) -> PageCheck:
        return classify_page(self.status, self.homepage, self.final_url or None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> FetchedPage:
        home = value.get("homepage")
        return cls(
            value["url"],
            int(value["status"]),
            value.get("final_url", ""),
            value.get("error", ""),
            Homepage(**home) if isinstance(home, dict) else None,
        )


class BlockedUrl(ValueError):
    """A URL this fetcher must not request (another scheme, a private or loopback address)."""


def check_public_url(url: str) -> None:
    """Only http(s) to public hosts: a search result must never make us call into our own network."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise BlockedUrl(f"scheme {parts.scheme!r} not fetched")
    host = (parts.hostname or "").lower()
    if not host or host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise BlockedUrl(f"host {host!r} not fetched")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address.is_global:
        raise BlockedUrl(f"address {host} not fetched")


def sandbox_url(base_url: str, url: str) -> str:
    """Where the sandbox serves a world URL: ``https://www.x.test/contact`` -> ``<base>x.test/contact``."""
    parts = urlsplit(url)
    host = (parts.hostname or "").removeprefix("www.")
    return f"{base_url.rstrip('/')}/{host}{parts.path or '/'}"


def _decode(body: bytes, response: httpx.Response) -> str:
    encoding = response.charset_encoding or "utf-8"
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


class PageFetcher:
    """Fetches pages under the ``site`` provider's limits; every outcome is a `FetchedPage`, never an exception."""

    def __init__(
        self, caller: ProviderCaller, *, site_base_url: str = "", user_agent: str = USER_AGENT, max_bytes: int = 512_000
    ) -> None:
        self.caller = caller
        self.site_base_url = site_base_url
        self.max_bytes = max_bytes
        hooks = {} if site_base_url else {"request": [self._refuse_private]}
        self._http = httpx.AsyncClient(
            timeout=caller.limits.timeout_seconds,
            headers={
                "User-Agent": user_agent,
                "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
                "Accept-Language": "en;q=0.9,*;q=0.5",
            },
            follow_redirects=True,
            max_redirects=5,
            event_hooks=hooks,
        )

    @staticmethod
    async def _refuse_private(request: httpx.Request) -> None:
        check_public_url(str(request.url))  # runs for every redirect hop too

    async def aclose(self) -> None:
        await self._http.aclose()

    async def fetch(self, url: str, *, batch_id: str | None = None) -> FetchedPage:
        """The page at `url`; a site that refuses, fails or is blocked gives status 0 and the reason."""
        try:
            check_public_url(url)
        except BlockedUrl as blocked:
            return FetchedPage(url, 0, error=str(blocked))
        try:
            value = await self.caller.execute(
                OPERATION,
                lambda: self._attempt(url),
                cache_params={"url": url},
                batch_id=batch_id,
                cacheable=lambda v: int(v["status"]) != 0,
            )
        except ProviderError as error:
            log.info("page %s not fetched: %s", url, error)
            return FetchedPage(url, 0, error=error.outcome.value)
        return FetchedPage.from_json(value)

    async def fetch_many(self, urls: Sequence[str], *, batch_id: str | None = None) -> dict[str, FetchedPage]:
        """Every URL's page, fetched concurrently up to the provider's limits."""
        unique = sorted(set(urls))
        pages = await asyncio.gather(*(self.fetch(url, batch_id=batch_id) for url in unique))
        return dict(zip(unique, pages, strict=True))

    async def _attempt(self, url: str) -> dict[str, Any]:
        target = sandbox_url(self.site_base_url, url) if self.site_base_url else url
        try:
            async with self._http.stream("GET", target) as response:
                status = response.status_code
                if status == 429 or status >= 500:
                    wait = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
                    outcome = Outcome.ERROR_429 if status == 429 else Outcome.ERROR_5XX
                    raise ProviderError(
                        PROVIDER, OPERATION, outcome, f"HTTP {status}", retryable=True, retry_after=wait
                    )
                final_url = url if self.site_base_url else str(response.url)
                kind = response.headers.get("content-type", "text/html").split(";")[0].strip().lower()
                if status != 200 or kind not in HTML_TYPES:
                    return FetchedPage(url, status, final_url, error=kind).to_json()
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) >= self.max_bytes:  # the head and the first screens are all that is read
                        break
        except httpx.TimeoutException:
            raise ProviderError(PROVIDER, OPERATION, Outcome.TIMEOUT, retryable=True) from None
        except BlockedUrl as blocked:  # a redirect towards a private address or another scheme
            return FetchedPage(url, 0, error=str(blocked)).to_json()
        except (httpx.TooManyRedirects, httpx.UnsupportedProtocol) as exc:
            return FetchedPage(url, 0, error=type(exc).__name__).to_json()
        except httpx.TransportError as exc:
            # DNS failure, refused connection: this site does not answer, which says nothing of the others.
            return FetchedPage(url, 0, error=type(exc).__name__).to_json()
        homepage = read_homepage(_decode(bytes(body[: self.max_bytes]), response))
        return FetchedPage(url, 200, final_url, homepage=homepage).to_json()


class PageResource(ProviderResource):
    """The ``pages`` resource: a polite homepage fetcher with a store cache (provider ``site``)."""

    site_base_url: str = Field(
        default="", description="Fetch every URL under this base instead (the sandbox's JENGU_SITE_BASE_URL)."
    )
    sandbox: bool = Field(default=False, description="JENGU_SANDBOX=1: lift the polite rate (loopback only).")
    user_agent: str = USER_AGENT
    max_bytes: int = Field(default=512_000, ge=16_384, description="Body bytes read per page; the rest is skipped.")
    limits: ProviderLimits = ProviderLimits(
        concurrency=4,
        rate_per_second=4.0,
        burst=4,
        timeout_seconds=10.0,
        max_attempts=2,
        max_total_wait_seconds=20.0,
        breaker_threshold=20,
        cache_ttl_seconds=PAGE_CACHE_TTL,
    )

    _fetcher: PageFetcher = PrivateAttr()

    def _open(self, store: CallStore) -> None:
        limits = ProviderLimits(**{**self.limits.model_dump(), **SANDBOX_LIMITS}) if self.sandbox else self.limits
        caller = ProviderCaller(PROVIDER, store, limits)
        self._fetcher = PageFetcher(
            caller, site_base_url=self.site_base_url, user_agent=self.user_agent, max_bytes=self.max_bytes
        )
        self._closers.append(self._fetcher.aclose)

    def fetch(self, url: str, *, batch_id: str | None = None) -> FetchedPage:
        return self._run(self._fetcher.fetch(url, batch_id=batch_id))

    def fetch_many(self, urls: Sequence[str], *, batch_id: str | None = None) -> dict[str, FetchedPage]:
        return self._run(self._fetcher.fetch_many(urls, batch_id=batch_id)) if urls else {}
