"""Choosing a hotel's official website among search results.

Search engines answer a hotel's name with aggregators (booking sites, review sites), parked look-alike
domains and namesakes as well as the real site. A result is a candidate only if its host reduces to a
registrable domain that is not an aggregator or social host; candidates are scored on how well the domain
and the page title match the company's name, and a weak best match is no match.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from anyascii import anyascii
from rapidfuzz import fuzz

from jengu_pipeline.domain.normalise import company_key, registrable_domain

MIN_CONFIDENCE = 0.6
"""Below this the best candidate is more likely a namesake or a directory than the hotel itself."""

PARKED_MARKERS = ("domain may be for sale", "buy this domain", "domain is parked", "this domain is for sale")
RANK_PENALTY = 0.03
"""Confidence lost per result rank: engines usually put the official site first."""
DEEP_PAGE_PENALTY = 0.15
"""An official site answers at its home page; a deep link is usually a directory or review page."""


class Hit(Protocol):
    """A search result as any search tier returns it."""

    @property
    def url(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def snippet(self) -> str: ...
    @property
    def source(self) -> str: ...


@dataclass(frozen=True)
class WebsiteChoice:
    url: str
    domain: str
    source: str
    confidence: float


def search_query(company: str, city: str | None) -> str:
    """The query for one hotel: its name, and its city when known (namesakes are common)."""
    return f"{company} {city}" if city else company


def _label(domain: str) -> str:
    """The domain without its suffix and punctuation: "hotel-bellevue.test" -> "hotelbellevue"."""
    return re.sub(r"[^a-z0-9]", "", domain.rsplit(".", 1)[0])


def _is_parked(hit: Hit) -> bool:
    text = f"{hit.title} {hit.snippet}".lower()
    return any(marker in text for marker in PARKED_MARKERS)


def _compact(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", anyascii(text or "").lower())


def score_hit(company: str, city: str | None, hit: Hit, rank: int) -> WebsiteChoice | None:
    """The hit as a website candidate with a confidence in [0, 1], or None if it cannot be the hotel's site.

    The domain and title must match the hotel's name; the city, when known, separates a hotel from its
    namesakes elsewhere (a chain's "Beau-Rivage" in Lausanne is not the one in Lucerne).
    """
    domain = registrable_domain(hit.url)
    key = company_key(company)
    if domain is None or key is None or _is_parked(hit):
        return None
    domain_match = fuzz.partial_ratio(_compact(key), _label(domain)) / 100
    title_match = fuzz.token_set_ratio(key, company_key(hit.title) or "") / 100
    score = 0.6 * domain_match + 0.4 * title_match
    if city:
        place = _compact(city)
        seen = _compact(f"{domain} {hit.title} {hit.snippet}")
        score = 0.8 * score + 0.2 * (1.0 if place and place in seen else 0.0)
    deep = urlsplit(hit.url).path.strip("/") != ""
    confidence = score - RANK_PENALTY * rank - (DEEP_PAGE_PENALTY if deep else 0.0)
    confidence = round(max(0.0, min(1.0, confidence)), 3)
    return WebsiteChoice(url=hit.url, domain=domain, source=hit.source, confidence=confidence)


def choose_website(company: str, city: str | None, hits: Sequence[Hit]) -> WebsiteChoice | None:
    """The most likely official site among ``hits``, or None when no candidate is convincing."""
    candidates = [c for rank, hit in enumerate(hits) if (c := score_hit(company, city, hit, rank)) is not None]
    best = max(candidates, key=lambda c: c.confidence, default=None)
    return best if best is not None and best.confidence >= MIN_CONFIDENCE else None
