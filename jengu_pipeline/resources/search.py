"""Website discovery: one client per search provider, and a tiered waterfall over the configured ones.

Tiers (shapes in shared/contracts/): an LLM's direct guess, SearXNG (self-hosted, the lasting
key-free tier), DuckDuckGo's HTML page (best effort), Brave Search, and Google Programmable Search
(off by default: closed to new sign-ups, and its whole-web search ends on 2027-01-01). A tier that
is throttled or broken is "unavailable", never "no results": the waterfall moves on, and a query
no tier could answer stays pending instead of being recorded as having no website.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import BaseModel, Field, PrivateAttr

from jengu_pipeline.resources.call_ledger import CallStore, Outcome
from jengu_pipeline.resources.call_policy import ProviderLimits
from jengu_pipeline.resources.calls import (
    Pending,
    ProviderCaller,
    ProviderConfigError,
    ProviderError,
    QuotaExhausted,
    combined_error,
    run_batch,
)
from jengu_pipeline.resources.http_provider import HttpProvider, HttpRequest
from jengu_pipeline.resources.llm import ChatModel, LlmResource, Prompt, parse_json_answer
from jengu_pipeline.resources.redaction import redacting_logger
from jengu_pipeline.resources.runtime import ProviderResource

log = redacting_logger(__name__)

OPERATION = "web_search"
BRAVE_BASE_URL = "https://api.search.brave.com"
GOOGLE_BASE_URL = "https://www.googleapis.com"
DUCKDUCKGO_BASE_URL = "https://html.duckduckgo.com"
BROWSER_USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
TIERS = ("searxng", "duckduckgo", "brave", "google_cse", "llm_guess")
"""Default order: key-free and lasting tiers first, paid ones next, the LLM's guess as the last resort."""
SEARCH_CACHE_TTL = 90 * 86400  # a hotel's website rarely moves: a query is worth keeping for a season


@dataclass(frozen=True)
class SearchHit:
    url: str
    title: str
    snippet: str
    source: str


class SearchTier(Protocol):
    @property
    def provider(self) -> str: ...

    async def search(self, query: str, *, batch_id: str | None = None) -> list[SearchHit]: ...

    async def aclose(self) -> None: ...


def _query_params(query: str, **extra: Any) -> dict[str, Any]:
    """Cache parameters: search engines ignore case and spacing, so neither makes a new paid query."""
    return {"q": " ".join(query.split()).casefold(), **extra}


def _hits(rows: list[dict[str, str]]) -> list[SearchHit]:
    return [SearchHit(**row) for row in rows]


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(fragment: str) -> str:
    """Text of an HTML fragment (Brave and Google mark matches with ``<strong>``/``<b>``)."""
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    return " ".join("".join(parser.parts).split())


# --------------------------------------------------------------------------------------------
# Brave


class _BraveResult(BaseModel):
    url: str
    title: str = ""
    description: str = ""


class _BraveWeb(BaseModel):
    results: list[_BraveResult] = Field(default_factory=list)


class _BraveAnswer(BaseModel):
    web: _BraveWeb | None = None  # absent when there are no web results


class _BraveErrorMeta(BaseModel):
    quota_limit: int | None = None
    quota_current: int | None = None


class _BraveError(BaseModel):
    meta: _BraveErrorMeta = Field(default_factory=_BraveErrorMeta)


class _BraveErrorBody(BaseModel):
    error: _BraveError = Field(default_factory=_BraveError)


class BraveSearch(HttpProvider):
    """Brave Search API web search; a 429 whose quota is spent means the plan is exhausted."""

    def __init__(
        self, caller: ProviderCaller, *, api_key: str, base_url: str = BRAVE_BASE_URL, count: int = 10
    ) -> None:
        headers = {"X-Subscription-Token": api_key, "Accept": "application/json"}
        super().__init__(caller, base_url, headers=headers, secrets=[api_key])
        self.count = count

    async def search(self, query: str, *, batch_id: str | None = None) -> list[SearchHit]:
        params: dict[str, str | int] = {"q": query[:400], "count": self.count, "result_filter": "web"}
        rows = await self.request(
            OPERATION,
            HttpRequest("GET", "/res/v1/web/search", params=params),
            self._parse,
            cache_params=_query_params(query, count=self.count),
            batch_id=batch_id,
            errors=self._errors,
        )
        return _hits(rows)

    def _errors(self, response: httpx.Response) -> ProviderError | None:
        if response.status_code != 429:
            return None
        try:
            meta = _BraveErrorBody.model_validate_json(response.content).error.meta
        except ValueError:
            return None
        if meta.quota_limit is not None and (meta.quota_current or 0) >= meta.quota_limit:
            return QuotaExhausted(self.provider, OPERATION, f"plan quota of {meta.quota_limit} used")
        return None

    def _parse(self, response: httpx.Response) -> list[dict[str, str]]:
        answer = _BraveAnswer.model_validate_json(response.content)
        results = answer.web.results if answer.web else []
        return [
            asdict(SearchHit(r.url, plain_text(r.title), plain_text(r.description), self.provider)) for r in results
        ]


# --------------------------------------------------------------------------------------------
# Google Programmable Search


class _GoogleItem(BaseModel):
    link: str
    title: str = ""
    snippet: str = ""


class _GoogleAnswer(BaseModel):
    items: list[_GoogleItem] = Field(default_factory=list)  # absent when nothing matched


class _GoogleReason(BaseModel):
    reason: str = ""


class _GoogleError(BaseModel):
    status: str = ""
    message: str = ""
    errors: list[_GoogleReason] = Field(default_factory=list)


class _GoogleErrorBody(BaseModel):
    error: _GoogleError = Field(default_factory=_GoogleError)


class GoogleCustomSearch(HttpProvider):
    """Custom Search JSON API, for existing keys only: whole-web search ends on 2027-01-01."""

    def __init__(
        self, caller: ProviderCaller, *, api_key: str, cx: str, base_url: str = GOOGLE_BASE_URL, count: int = 10
    ) -> None:
        super().__init__(caller, base_url, secrets=[api_key])
        self._key = api_key
        self.cx = cx
        self.count = min(count, 10)

    async def search(self, query: str, *, batch_id: str | None = None) -> list[SearchHit]:
        params: dict[str, str | int] = {"key": self._key, "cx": self.cx, "q": query, "num": self.count}
        rows = await self.request(
            OPERATION,
            HttpRequest("GET", "/customsearch/v1", params=params),
            self._parse,
            cache_params=_query_params(query, cx=self.cx, num=self.count),
            batch_id=batch_id,
            errors=self._errors,
        )
        return _hits(rows)

    def _errors(self, response: httpx.Response) -> ProviderError | None:
        if response.status_code not in (400, 429):
            return None
        try:
            error = _GoogleErrorBody.model_validate_json(response.content).error
        except ValueError:
            return None
        reasons = {r.reason for r in error.errors}
        if response.status_code == 400 and "keyInvalid" in reasons:
            return ProviderConfigError(self.provider, OPERATION, "API key not valid")
        if error.status == "RESOURCE_EXHAUSTED" and "per day" in error.message.lower():
            return QuotaExhausted(self.provider, OPERATION, error.message)
        return None

    def _parse(self, response: httpx.Response) -> list[dict[str, str]]:
        items = _GoogleAnswer.model_validate_json(response.content).items
        return [asdict(SearchHit(i.link, plain_text(i.title), plain_text(i.snippet), self.provider)) for i in items]


# --------------------------------------------------------------------------------------------
# SearXNG


class _SearxResult(BaseModel):
    url: str
    title: str = ""
    content: str = ""


class _SearxAnswer(BaseModel):
    results: list[_SearxResult] = Field(default_factory=list)  # number_of_results is unreliable


class SearxngSearch(HttpProvider):
    """A SearXNG instance's JSON API; 403 means JSON output is not enabled in its settings."""

    def __init__(self, caller: ProviderCaller, *, base_url: str) -> None:
        super().__init__(caller, base_url, headers={"Accept": "application/json"})

    async def search(self, query: str, *, batch_id: str | None = None) -> list[SearchHit]:
        params = {"q": query, "format": "json", "categories": "general"}
        rows = await self.request(
            OPERATION,
            HttpRequest("GET", "/search", params=params),
            self._parse,
            cache_params=_query_params(query, instance=self.base_url),
            batch_id=batch_id,
            errors=self._errors,
        )
        return _hits(rows)

    def _errors(self, response: httpx.Response) -> ProviderError | None:
        if response.status_code == 403:
            return ProviderConfigError(
                self.provider, OPERATION, "JSON output disabled: add json to search.formats in settings.yml"
            )
        return None

    def _parse(self, response: httpx.Response) -> list[dict[str, str]]:
        results = _SearxAnswer.model_validate_json(response.content).results
        return [asdict(SearchHit(r.url, r.title, r.content, self.provider)) for r in results]


# --------------------------------------------------------------------------------------------
# DuckDuckGo HTML


def unwrap_redirect(href: str) -> str:
    """The target of a DuckDuckGo ``//duckduckgo.com/l/?uddg=<target>`` link, or `href` itself."""
    parts = urlsplit(href)
    if parts.path.startswith("/l/"):
        target = parse_qs(parts.query).get("uddg")
        if target:
            return target[0]
    return href


class DuckDuckGoPage(HTMLParser):
    """Reads a DuckDuckGo HTML results page: organic results, the no-results block, a challenge form."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.results: list[dict[str, str]] = []
        self.no_results = False
        self.challenged = False
        self._div_depth = 0
        self._result_depth: int | None = None  # div depth at which the current result opened
        self._field: str | None = None  # "title" or "snippet" while inside that link

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        classes = set(attributes.get("class", "").split())
        if tag == "form" and any(
            word in value.lower() for value in attributes.values() for word in ("anomaly", "challenge")
        ):
            self.challenged = True
        if tag == "div":
            self._div_depth += 1
            if "no-results" in classes:
                self.no_results = True
            elif "result" in classes and "result--ad" not in classes and self._result_depth is None:
                self._result_depth = self._div_depth
                self.results.append({"url": "", "title": "", "snippet": ""})
        elif tag == "a" and self._result_depth is not None:
            if "result__a" in classes:
                self._field = "title"
                self.results[-1]["url"] = unwrap_redirect(attributes.get("href", ""))
            elif "result__snippet" in classes:
                self._field = "snippet"

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._field = None
        elif tag == "div":
            if self._div_depth == self._result_depth:
                self._result_depth = None
            self._div_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._field is not None:
            self.results[-1][self._field] += data


class DuckDuckGoHtml(HttpProvider):
    """The HTML endpoint (no key, no published quota): throttling is "unavailable", never "no results"."""

    def __init__(self, caller: ProviderCaller, *, base_url: str = DUCKDUCKGO_BASE_URL) -> None:
        super().__init__(caller, base_url, headers={"User-Agent": BROWSER_USER_AGENT})

    async def search(self, query: str, *, batch_id: str | None = None) -> list[SearchHit]:
        rows = await self.request(
            OPERATION,
            HttpRequest("POST", "/html/", data={"q": query}),
            self._parse,
            cache_params=_query_params(query),
            batch_id=batch_id,
            errors=self._errors,
        )
        return _hits(rows)

    def _unavailable(self, detail: str) -> ProviderError:
        return ProviderError(self.provider, OPERATION, Outcome.UNAVAILABLE, detail)

    def _errors(self, response: httpx.Response) -> ProviderError | None:
        if response.status_code in (202, 403):
            return self._unavailable(f"throttled (HTTP {response.status_code})")
        return None

    def _parse(self, response: httpx.Response) -> list[dict[str, str]]:
        page = DuckDuckGoPage()
        page.feed(response.text)
        page.close()
        hits = [
            asdict(SearchHit(r["url"], " ".join(r["title"].split()), " ".join(r["snippet"].split()), self.provider))
            for r in page.results
            if r["url"]
        ]
        if hits:
            return hits
        if page.challenged:
            raise self._unavailable("challenge page instead of results")
        if page.no_results:
            return []
        raise ProviderError(self.provider, OPERATION, Outcome.BAD_RESPONSE, "neither results nor a no-results block")


# --------------------------------------------------------------------------------------------
# LLM direct guess

GUESS_SYSTEM = (
    'You know hotels and their official websites. Reply with JSON {"url": "https://..."} giving the '
    'hotel\'s own website (not a booking site, not a social network), or {"url": null} if unsure.'
)


def guessed_url(answer: str) -> str | None:
    """The URL in a guess answer if it is a plausible absolute web address, else None."""
    try:
        url = parse_json_answer(answer).get("url")
    except (ValueError, AttributeError):
        return None
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or "." not in parts.netloc:
        return None
    return url.strip()


class LlmGuessSearch:
    """Asks the LLM for the hotel's official site: cheap and often right, but unverified."""

    provider = "llm_guess"

    def __init__(self, chat: ChatModel) -> None:
        self.chat = chat

    async def search(self, query: str, *, batch_id: str | None = None) -> list[SearchHit]:
        prompt = Prompt(GUESS_SYSTEM, query, max_tokens=100, temperature=0.0, json_mode=True)
        completion = await self.chat.complete(prompt, batch_id=batch_id)
        url = guessed_url(completion.text)
        return [SearchHit(url, query, "LLM guess, unverified", self.provider)] if url else []

    async def aclose(self) -> None:
        await self.chat.aclose()


# --------------------------------------------------------------------------------------------
# Waterfall and resource


@dataclass(frozen=True)
class TierAnswer:
    """One tier's answer to one query: its hits, or why it could not answer."""

    tier: str
    hits: list[SearchHit] | None
    error: ProviderError | None = None

    @property
    def answered(self) -> bool:
        return self.hits is not None

    @property
    def outcome(self) -> str:
        """For evidence and metadata: ``hits``, ``no_hits``, or the failure (``quota_exhausted``, ...)."""
        if self.hits is not None:
            return "hits" if self.hits else "no_hits"
        return self.error.outcome.value if self.error is not None else "unavailable"

    @property
    def retry_later(self) -> bool:
        """A failure that may pass (quota, throttling, outage), unlike a wrong key or setting."""
        return self.error is not None and not isinstance(self.error, ProviderConfigError)


class Waterfall:
    """Asks the tiers in order until an answer is good enough.

    "Good enough" is the caller's call (`confident`): by default any hit, but a website finder passes a
    judge that fetches the candidates' homepages, so that a tier whose hits are all aggregators or
    namesakes hands over to the next one. Only when no tier answered at all does a query fail, with
    every tier's reason. A tier out of quota or misconfigured is skipped for the rest of this
    waterfall's life instead of being asked (and refused) per query.
    """

    def __init__(self, tiers: Sequence[SearchTier]) -> None:
        self.tiers = list(tiers)
        self._disabled: dict[str, ProviderError] = {}

    async def ask(self, tier: SearchTier, query: str, *, batch_id: str | None = None) -> TierAnswer:
        """One tier's answer; a failure is returned, not raised, so that the caller can move on."""
        if tier.provider in self._disabled:
            return TierAnswer(tier.provider, None, self._disabled[tier.provider])
        try:
            hits = await tier.search(query, batch_id=batch_id)
        except ProviderError as error:
            log.warning("search tier %s failed: %s", tier.provider, error)
            if isinstance(error, QuotaExhausted | ProviderConfigError):
                self._disabled[tier.provider] = error
            return TierAnswer(tier.provider, None, error)
        return TierAnswer(tier.provider, hits)

    def tier(self, name: str) -> SearchTier:
        return next(tier for tier in self.tiers if tier.provider == name)

    async def search(
        self, query: str, *, batch_id: str | None = None, confident: Callable[[list[SearchHit]], bool] = bool
    ) -> list[SearchHit]:
        """Hits of the first tier whose hits are `confident`, else the last non-empty answer, else []."""
        errors: list[ProviderError] = []
        answered = False
        fallback: list[SearchHit] = []
        for tier in self.tiers:
            answer = await self.ask(tier, query, batch_id=batch_id)
            if answer.hits is None:
                if answer.error is not None:
                    errors.append(answer.error)
                continue
            answered = True
            if answer.hits and confident(answer.hits):
                return answer.hits
            fallback = answer.hits or fallback
        if answered:
            return fallback
        raise combined_error("search", OPERATION, errors)

    async def aclose(self) -> None:
        for tier in self.tiers:
            await tier.aclose()


class SearchResource(ProviderResource):
    """The ``search`` resource: a waterfall over the configured tiers, in `order`."""

    order: list[str] = Field(default=list(TIERS), description=f"Tier order; names from {', '.join(TIERS)}.")
    results_per_query: int = Field(default=10, ge=1, le=20)
    llm: LlmResource | None = Field(default=None, description="Model for the llm_guess tier; None skips it.")
    searxng_base_url: str = Field(default="", description="A SearXNG instance with JSON output; empty skips it.")
    searxng_limits: ProviderLimits = ProviderLimits(concurrency=4, rate_per_second=2.0, burst=2)
    duckduckgo_enabled: bool = True
    duckduckgo_base_url: str = DUCKDUCKGO_BASE_URL
    duckduckgo_limits: ProviderLimits = ProviderLimits(
        concurrency=1, rate_per_second=0.5, daily_quota=300, max_attempts=1, cache_ttl_seconds=SEARCH_CACHE_TTL
    )
    brave_api_key: str = Field(default="", description="Brave Search key (secret, EnvVar); empty skips it.")
    brave_base_url: str = BRAVE_BASE_URL
    brave_limits: ProviderLimits = ProviderLimits(
        concurrency=1, rate_per_second=1.0, cache_ttl_seconds=SEARCH_CACHE_TTL
    )
    google_enabled: bool = Field(default=False, description="Google CSE: existing keys only, ends 2027-01-01.")
    google_api_key: str = ""
    google_cx: str = ""
    google_base_url: str = GOOGLE_BASE_URL
    google_limits: ProviderLimits = ProviderLimits(daily_quota=100, cache_ttl_seconds=SEARCH_CACHE_TTL)

    _waterfall: Waterfall = PrivateAttr()

    def build_tiers(self, store: CallStore) -> list[SearchTier]:
        """The configured tiers in `order`; unknown names are a configuration error."""
        unknown = sorted(set(self.order) - set(TIERS))
        if unknown:
            raise ValueError(f"unknown search tiers {unknown}; choose from {list(TIERS)}")
        tiers: list[SearchTier] = []
        for name in self.order:
            tier = self._tier(name, store)
            if tier is not None:
                tiers.append(tier)
        return tiers

    def _tier(self, name: str, store: CallStore) -> SearchTier | None:
        if name == "llm_guess" and self.llm is not None and self.llm.configured:
            return LlmGuessSearch(self.llm.build_chat(store))
        if name == "searxng" and self.searxng_base_url:
            return SearxngSearch(ProviderCaller("searxng", store, self.searxng_limits), base_url=self.searxng_base_url)
        if name == "duckduckgo" and self.duckduckgo_enabled:
            caller = ProviderCaller("duckduckgo", store, self.duckduckgo_limits)
            return DuckDuckGoHtml(caller, base_url=self.duckduckgo_base_url)
        if name == "brave" and self.brave_api_key:
            caller = ProviderCaller("brave", store, self.brave_limits)
            return BraveSearch(
                caller, api_key=self.brave_api_key, base_url=self.brave_base_url, count=self.results_per_query
            )
        if name == "google_cse" and self.google_enabled and self.google_api_key and self.google_cx:
            caller = ProviderCaller("google_cse", store, self.google_limits)
            return GoogleCustomSearch(
                caller,
                api_key=self.google_api_key,
                cx=self.google_cx,
                base_url=self.google_base_url,
                count=self.results_per_query,
            )
        return None

    def _open(self, store: CallStore) -> None:
        self._waterfall = Waterfall(self.build_tiers(store))
        self._closers.append(self._waterfall.aclose)

    @property
    def tiers(self) -> list[str]:
        """Names of the tiers this run will use, in order."""
        return [tier.provider for tier in self._waterfall.tiers]

    def search(self, query: str, *, batch_id: str | None = None) -> list[SearchHit]:
        """Hits from the first tier with an answer; raises `ProviderError` when no tier could answer."""
        return self._run(self._waterfall.search(query, batch_id=batch_id))

    def ask_tier(
        self, tier: str, queries: Sequence[str], *, batch_id: str | None = None, workers: int = 4
    ) -> dict[str, TierAnswer]:
        """One tier's answer to each query, asked concurrently; failures are answers too (see `TierAnswer`).

        The website finder walks the tiers itself, one tier for the whole batch at a time, so that the
        candidates' homepages are fetched between two tiers and only the hotels still without a confident
        site go on down the waterfall.
        """
        chosen = self._waterfall.tier(tier)

        async def one(query: str) -> tuple[str, TierAnswer]:
            return query, await self._waterfall.ask(chosen, query, batch_id=batch_id)

        done, _ = self._run(run_batch(queries, one, workers=workers))
        return dict(done)

    def search_many(
        self, queries: Sequence[str], *, batch_id: str | None = None, workers: int = 4
    ) -> tuple[dict[str, list[SearchHit]], list[Pending]]:
        """Answers per query, and the queries left pending (every tier unavailable or out of quota)."""

        async def one(query: str) -> tuple[str, list[SearchHit]]:
            return query, await self._waterfall.search(query, batch_id=batch_id)

        done, pending = self._run(run_batch(queries, one, workers=workers))
        return dict(done), pending
