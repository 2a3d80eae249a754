"""Choosing a hotel's official website among search results, and checking it against its own homepage.

Search engines answer a hotel's name with aggregators (booking sites, review sites), parked look-alike
domains and namesakes as well as the real site. A result is a candidate only if its host reduces to a
registrable domain that is not an aggregator or social host. Candidates are first ranked on what the search
says (domain and result title against the hotel's name); the best few are then judged on their homepage:
its ``<title>`` and ``og:site_name`` against the name, the city in its text, and whether it is parked or
missing. A weak best match is no match: a namesake or a directory costs more than an honest "not found".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from anyascii import anyascii
from rapidfuzz import fuzz

from jengu_pipeline.domain.normalise import company_key, registrable_domain

MIN_CONFIDENCE = 0.6
"""Below this the best candidate is more likely a namesake or a directory than the hotel itself."""
IMPORT_MIN_MATCH = 0.5
"""An imported website is the operator's own data: its homepage need only resemble the hotel, not win a contest."""
PAGES_PER_PROSPECT = 3
"""Homepages fetched per hotel and tier: the official site is nearly always among the search's best three."""

PARKED_MARKERS = (
    "domain may be for sale",
    "buy this domain",
    "domain is parked",
    "this domain is for sale",
    "domain is for sale",
    "parked free",
    "parkingcrew",
    "sedoparking",
    "hugedomains",
)
RANK_PENALTY = 0.03
"""Confidence lost per result rank: engines usually put the official site first."""
DEEP_PAGE_PENALTY = 0.15
"""An official site answers at its home page; a deep link is usually a directory or review page."""
CITY_MISSING_PENALTY = 0.25
"""A hotel's homepage names its town (address, footer): a page that doesn't is probably a namesake's."""
PAGE_RANK_PENALTY = 0.005
"""Once the homepage has spoken, the engine's order only breaks ties: namesakes often outrank the hotel."""
SEARCH_ONLY_CAP = 0.8
"""Without its homepage a candidate is judged on the search's words only, which never makes it certain."""

# Hosts that are never the hotel's own site, beyond the ones `registrable_domain` already refuses (OTAs,
# metasearch, review and social sites, link shorteners, site builders' shared hosts are kept: hotels use them).
# fmt: off
DIRECTORY_DOMAINS = frozenset((
    "hotels.com", "trivago.com", "kayak.com", "hostelworld.com", "hrs.com", "hrs.de", "trip.com", "ctrip.com",
    "lastminute.com", "ebookers.com", "orbitz.com", "travelocity.com", "priceline.com", "holidaycheck.de",
    "holidaycheck.ch", "tripadvisor.com", "yelp.com", "foursquare.com", "lonelyplanet.com", "michelin.com",
    "guide.michelin.com", "wikipedia.org", "wikivoyage.org", "wikidata.org", "youtube.com", "tiktok.com",
    "pinterest.com", "twitter.com", "x.com", "threads.net", "linktr.ee", "bit.ly", "maps.apple.com",
    "opentable.com", "thefork.com", "hotelscombined.com", "momondo.com", "skyscanner.net", "hotwire.com",
    "vrbo.com", "homeaway.com", "tablethotels.com", "mrandmrssmith.com", "secretescapes.com", "weekendesk.fr",
    "bookings.com", "hotel.de", "hotel.info", "venere.com", "laterooms.com", "travelzoo.com", "groupon.com",
))
# Words that say what kind of place a hotel is, not which one: ignored when a domain is compared with a name.
LODGING_WORDS = frozenset((
    "the", "hotel", "hotels", "hotell", "hostal", "hostel", "hotellet", "albergo", "gasthof", "gasthaus",
    "pension", "inn", "lodge", "resort", "resorts", "spa", "suites", "boutique", "berghotel", "swiss", "quality",
    "le", "la", "les", "l", "il", "el", "der", "die", "das", "de", "di", "du", "official", "site", "www",
))
# English names of towns that LinkedIn shows in English and hotels write in their own language (and back).
CITY_NAMES: tuple[frozenset[str], ...] = tuple(frozenset(group) for group in (
    ("copenhagen", "kobenhavn", "koebenhavn"), ("gothenburg", "goteborg", "goeteborg"), ("malmo", "malmoe"),
    ("aarhus", "arhus"), ("munich", "munchen", "muenchen"), ("cologne", "koln", "koeln"),
    ("nuremberg", "nurnberg", "nuernberg"), ("vienna", "wien"), ("zurich", "zuerich"),
    ("geneva", "geneve", "genf", "ginevra"), ("lucerne", "luzern"), ("st moritz", "sankt moritz", "san murezzan"),
    ("basel", "bale", "basle"), ("bern", "berne"), ("milan", "milano"), ("rome", "roma"), ("naples", "napoli"),
    ("venice", "venezia"), ("florence", "firenze"), ("turin", "torino"), ("genoa", "genova"),
    ("seville", "sevilla"), ("saragossa", "zaragoza"), ("lisbon", "lisboa"), ("porto", "oporto"),
    ("prague", "praha"), ("warsaw", "warszawa"), ("krakow", "cracow"), ("athens", "athina"),
    ("brussels", "bruxelles", "brussel"), ("antwerp", "antwerpen", "anvers"), ("the hague", "den haag"),
    ("new york", "nyc", "new york city"), ("marseille", "marseilles"), ("lyon", "lyons"), ("malaga",),
    ("bruges", "brugge"), ("ghent", "gent"), ("helsinki", "helsingfors"), ("moscow", "moskva"),
))
# fmt: on
_UMLAUTS = str.maketrans(
    {
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "Ä": "ae",
        "Ö": "oe",
        "Ü": "ue",
        "ø": "oe",
        "Ø": "oe",
        "å": "aa",
        "Å": "aa",
        "æ": "ae",
        "Æ": "ae",
        "ß": "ss",
    }
)
_TITLE_SEPARATORS = re.compile(r"\s+[|–—·:•-]\s+|\s*[|–—·•]\s*")


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


# ------------------------------------------------------------------------------------------------ homepages


@dataclass(frozen=True)
class Homepage:
    """What a homepage says about whose site it is, read from its HTML."""

    title: str = ""
    site_name: str = ""
    description: str = ""
    text: str = ""
    language: str = ""

    @property
    def parked(self) -> bool:
        words = f"{self.title} {self.description} {self.text[:2000]}".lower()
        return any(marker in words for marker in PARKED_MARKERS)

    def excerpt(self, limit: int = 600) -> str:
        """The start of the page's own words, for messages that quote the hotel's site."""
        return self.text[:limit].rsplit(" ", 1)[0] if len(self.text) > limit else self.text


class _HomepageParser(HTMLParser):
    _SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.meta: dict[str, str] = {}
        self.text: list[str] = []
        self.language = ""
        self._in_title = False
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name.lower(): value or "" for name, value in attrs}
        if tag == "html":
            self.language = attributes.get("lang", "")[:16]
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            name = (attributes.get("property") or attributes.get("name") or "").lower()
            if name in {"og:site_name", "description", "og:description", "og:title", "application-name"}:
                self.meta.setdefault(name, attributes.get("content", ""))
        if tag in self._SKIPPED:
            self._skip_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIPPED and self._skip_depth:
            self._skip_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip_depth:
            self.text.append(data)


def _squash(text: str, limit: int) -> str:
    return " ".join(text.split())[:limit]


def read_homepage(markup: str, *, text_limit: int = 20_000) -> Homepage:
    """The identifying facts of a homepage; tolerant of broken HTML (html.parser never raises on it)."""
    parser = _HomepageParser()
    parser.feed(markup)
    parser.close()
    meta = parser.meta
    return Homepage(
        title=_squash(" ".join(parser.title) or meta.get("og:title", ""), 300),
        site_name=_squash(meta.get("og:site_name") or meta.get("application-name", ""), 200),
        description=_squash(meta.get("description") or meta.get("og:description", ""), 500),
        text=_squash(" ".join(parser.text), text_limit),
        language=parser.language,
    )


PageStatus = Literal["ok", "parked", "missing", "unreachable"]


@dataclass(frozen=True)
class PageCheck:
    """A fetched homepage as the scorer sees it: ``unreachable`` means unknown (no answer), not absent."""

    status: PageStatus
    homepage: Homepage | None = None
    final_domain: str | None = None


UNKNOWN_STATUSES = frozenset({0, 401, 403, 407, 408, 425, 429, 451})
"""No answer, or a refusal aimed at robots (firewalls answer 403 to non-browsers): says nothing about the site."""


def classify_page(status: int, homepage: Homepage | None, final_url: str | None = None) -> PageCheck:
    """What an HTTP answer for a homepage means: a page, a parked domain, no site there, or no answer."""
    final_domain = registrable_domain(final_url) if final_url else None
    if status in UNKNOWN_STATUSES or status >= 500:
        return PageCheck("unreachable")
    if final_url and final_domain is None:  # sent on to a booking or social page: not a site of its own
        return PageCheck("missing")
    if status != 200 or homepage is None:
        return PageCheck("missing", final_domain=final_domain)
    return PageCheck("parked" if homepage.parked else "ok", homepage, final_domain)


# ------------------------------------------------------------------------------------------------ matching


def search_query(company: str, city: str | None) -> str:
    """The query for one hotel: its name, and its city when known (namesakes are common)."""
    return f"{company} {city}" if city else company


def homepage_url(url: str) -> str:
    """The homepage of the site a URL is on: ``https://www.x.test/rooms?a=1`` -> ``https://www.x.test/``."""
    parts = urlsplit(url if "//" in url else f"https://{url}")
    scheme = parts.scheme if parts.scheme in {"http", "https"} else "https"
    return f"{scheme}://{(parts.hostname or '').lower()}/"


def is_directory(domain: str | None) -> bool:
    """Aggregators, review, social and other directory hosts, which list a hotel but are never its site."""
    return domain is None or domain in DIRECTORY_DOMAINS


def _fold(text: str | None, *, expand: bool = False) -> str:
    raw = (text or "").translate(_UMLAUTS) if expand else (text or "")
    return " ".join(re.findall(r"[a-z0-9]+", anyascii(raw).lower()))


def _compact(text: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", anyascii(text or "").lower())


def city_forms(city: str | None) -> set[str]:
    """Compact spellings of a town: its own, umlauts expanded, and its other-language names."""
    if not city:
        return set()
    forms = {_fold(city), _fold(city, expand=True)}
    for group in CITY_NAMES:
        if forms & group:
            forms |= group
    return {f.replace(" ", "") for f in forms if f}


def _core_words(words: Iterable[str]) -> list[str]:
    listed = list(words)
    kept = [w for w in listed if w not in LODGING_WORDS]
    return kept or listed


def name_cores(company: str) -> set[str]:
    """The hotel's distinctive name, compacted, both ways of writing umlauts: "Hotel Rössli" -> rossli, roessli."""
    return {"".join(_core_words(_fold(company, expand=expand).split())) for expand in (False, True)} - {""}


def label_cores(domain: str, city: str | None) -> set[str]:
    """The domain's own words without the suffix, lodging words and the town: "hotel-fjord-skagen.test" -> fjord."""
    label = domain.rsplit(".", 1)[0] if "." in domain else domain
    words = [w for w in re.split(r"[^a-z0-9]+", label.lower()) if w]
    towns = city_forms(city)
    cores = {"".join(words), "".join(_core_words(words))}
    stripped = "".join(_core_words(words))
    for town in towns:
        if town and stripped.endswith(town) and len(stripped) > len(town):
            cores.add(stripped[: -len(town)])
        if town and stripped.startswith(town) and len(stripped) > len(town):
            cores.add(stripped[len(town) :])
    return cores - {""}


def domain_similarity(company: str, city: str | None, domain: str) -> float:
    """How well the domain spells the hotel's name, in [0, 1]; the town and words like "hotel" don't count."""
    best = 0.0
    for name in name_cores(company):
        for label in label_cores(domain, city):
            best = max(best, fuzz.ratio(name, label) / 100)
            if min(len(name), len(label)) >= 5:
                best = max(best, 0.95 * fuzz.partial_ratio(name, label) / 100)
    return round(best, 3)


def name_similarity(company: str, text: str | None) -> float:
    """How well a page name (title part, og:site_name) names this hotel, in [0, 1].

    Half is the distinctive words (order-free, "Bellevue" in "Hôtel Bellevue & Spa"), half the whole name as
    written, so that "Hotel Fjord" prefers "Hotel Fjord" to "Hotel Fjord Brygge" and "Bjørk Hotel" to
    "Hotel Bjørk", which are other hotels.
    """
    key = company_key(company)
    if not text or key is None:
        return 0.0
    best = 0.0
    for part in {text, *(p for p in _TITLE_SEPARATORS.split(text) if p.strip())}:
        words = fuzz.token_set_ratio(key, company_key(part) or "") / 100
        whole = fuzz.ratio(_fold(company), _fold(part)) / 100
        best = max(best, 0.5 * words + 0.5 * whole)
    return round(best, 3)


def city_on_page(city: str | None, homepage: Homepage, domain: str = "") -> bool:
    """Whether the town is named on the page (or in the domain: "bellevue-zermatt.ch")."""
    seen = _compact(f"{domain} {homepage.title} {homepage.site_name} {homepage.description} {homepage.text}")
    return any(form in seen for form in city_forms(city))


# ------------------------------------------------------------------------------------------------ scoring


@dataclass(frozen=True)
class WebsiteChoice:
    """A candidate site with its confidence in [0, 1] and the evidence the confidence was computed from."""

    url: str
    domain: str
    source: str
    confidence: float
    evidence: dict[str, Any] = field(default_factory=dict, compare=False)
    homepage: Homepage | None = field(default=None, compare=False)


def _is_parked(hit: Hit) -> bool:
    text = f"{hit.title} {hit.snippet}".lower()
    return any(marker in text for marker in PARKED_MARKERS)


def _clamp(value: float) -> float:
    return round(max(0.0, min(1.0, value)), 3)


def score_hit(company: str, city: str | None, hit: Hit, rank: int) -> WebsiteChoice | None:
    """The hit as a candidate judged on the search's words alone, or None if it cannot be the hotel's site.

    The domain and title must match the hotel's name; the city, when known, separates a hotel from its
    namesakes elsewhere (a chain's "Beau-Rivage" in Lausanne is not the one in Lucerne).
    """
    domain = registrable_domain(hit.url)
    if is_directory(domain) or company_key(company) is None or _is_parked(hit):
        return None
    assert domain is not None
    domain_match = domain_similarity(company, city, domain)
    title_match = name_similarity(company, hit.title)
    score = 0.6 * domain_match + 0.4 * title_match
    city_seen = None
    if city:
        city_seen = any(form in _compact(f"{domain} {hit.title} {hit.snippet}") for form in city_forms(city))
        score = 0.8 * score + 0.2 * (1.0 if city_seen else 0.0)
    deep = urlsplit(hit.url).path.strip("/") != ""
    confidence = _clamp(score - RANK_PENALTY * rank - (DEEP_PAGE_PENALTY if deep else 0.0))
    evidence = {
        "rank": rank,
        "domain_similarity": domain_match,
        "search_title_similarity": title_match,
        "city_in_result": city_seen,
        "deep_link": deep,
    }
    return WebsiteChoice(
        url=homepage_url(hit.url), domain=domain, source=hit.source, confidence=confidence, evidence=evidence
    )


def judge_homepage(company: str, city: str | None, candidate: WebsiteChoice, page: PageCheck) -> WebsiteChoice | None:
    """The candidate re-scored on its homepage; None when the page rules it out (parked, missing, directory).

    An unreachable page is no evidence either way: the search-only score stands, capped below certainty.
    """
    evidence = {**candidate.evidence, "page": page.status}
    if page.status in {"parked", "missing"}:
        return None
    if page.status == "unreachable" or page.homepage is None:
        return WebsiteChoice(
            candidate.url, candidate.domain, candidate.source, min(candidate.confidence, SEARCH_ONLY_CAP), evidence
        )
    domain = candidate.domain
    if page.final_domain and page.final_domain != domain:
        if is_directory(page.final_domain):
            return None
        evidence["redirected_from"] = domain
        domain = page.final_domain
    home = page.homepage
    domain_match = domain_similarity(company, city, domain)
    title_match = name_similarity(company, home.title)
    site_name_match = name_similarity(company, home.site_name)
    name_match = max(title_match, site_name_match)
    score = 0.35 * domain_match + 0.45 * name_match
    seen = city_on_page(city, home, domain) if city else None
    if city:
        score += 0.2 if seen else -CITY_MISSING_PENALTY
    else:
        score /= 0.8
    rank = int(candidate.evidence.get("rank", 0))
    evidence.update(
        domain_similarity=domain_match,
        title_similarity=title_match,
        site_name_similarity=site_name_match,
        site_name=home.site_name,
        page_title=home.title,
        city_on_page=seen,
    )
    url = candidate.url if domain == candidate.domain else f"https://{domain}/"
    return WebsiteChoice(url, domain, candidate.source, _clamp(score - PAGE_RANK_PENALTY * rank), evidence, home)


def shortlist(
    company: str, city: str | None, hits: Sequence[Hit], limit: int = PAGES_PER_PROSPECT
) -> list[WebsiteChoice]:
    """The best `limit` candidates on search evidence, one per domain, best first: the homepages worth fetching."""
    best: dict[str, WebsiteChoice] = {}
    for rank, hit in enumerate(hits):
        choice = score_hit(company, city, hit, rank)
        if choice is not None and (choice.domain not in best or choice.confidence > best[choice.domain].confidence):
            best[choice.domain] = choice
    return sorted(best.values(), key=lambda c: c.confidence, reverse=True)[:limit]


def choose_website(
    company: str, city: str | None, hits: Sequence[Hit], pages: Mapping[str, PageCheck] | None = None
) -> WebsiteChoice | None:
    """The most likely official site among ``hits``, or None when no candidate is convincing.

    `pages` maps a candidate's homepage URL to what fetching it found; candidates without one are judged
    on the search alone.
    """
    judged = judge_candidates(company, city, hits, pages or {})
    return judged.best if judged.best is not None and judged.best.confidence >= MIN_CONFIDENCE else None


@dataclass(frozen=True)
class Judgement:
    """The best candidate of one answer (confident or not) and the candidates its homepage ruled out."""

    best: WebsiteChoice | None
    rejected: dict[str, str]

    @property
    def confident(self) -> bool:
        return self.best is not None and self.best.confidence >= MIN_CONFIDENCE


def judge_candidates(company: str, city: str | None, hits: Sequence[Hit], pages: Mapping[str, PageCheck]) -> Judgement:
    """Every shortlisted candidate judged on its homepage when `pages` has it, else on the search alone."""
    judged: list[WebsiteChoice] = []
    rejected: dict[str, str] = {}
    for candidate in shortlist(company, city, hits):
        page = pages.get(candidate.url)
        choice = judge_homepage(company, city, candidate, page) if page is not None else candidate
        if choice is None:
            rejected[candidate.domain] = page.status if page is not None else "ruled out"
        else:
            judged.append(choice)
    return Judgement(max(judged, key=lambda c: c.confidence, default=None), rejected)


def check_imported_website(
    company: str | None, city: str | None, website: str, page: PageCheck
) -> tuple[WebsiteChoice | None, str]:
    """The imported website if its homepage answers, isn't parked and looks like this hotel; else why not."""
    domain = registrable_domain(website)
    if is_directory(domain):
        return None, "not a hotel's own domain"
    assert domain is not None
    if page.status != "ok" or page.homepage is None:
        return None, f"homepage {page.status}"
    home = page.homepage
    if page.final_domain and page.final_domain != domain:
        if is_directory(page.final_domain):
            return None, f"redirects to {page.final_domain}"
        domain = page.final_domain
    name = company or ""
    domain_match = domain_similarity(name, city, domain) if name else 0.0
    name_match = max(name_similarity(name, home.title), name_similarity(name, home.site_name)) if name else 0.0
    seen = city_on_page(city, home, domain) if city else None
    evidence: dict[str, Any] = {
        "page": page.status,
        "domain_similarity": domain_match,
        "title_similarity": name_similarity(name, home.title),
        "site_name_similarity": name_similarity(name, home.site_name),
        "site_name": home.site_name,
        "page_title": home.title,
        "city_on_page": seen,
    }
    likeness = max(domain_match, name_match)
    if name and likeness < IMPORT_MIN_MATCH:
        return None, "homepage does not name the hotel"
    confidence = _clamp(0.7 + 0.3 * likeness) if name else 0.7
    url = homepage_url(website) if domain == registrable_domain(website) else f"https://{domain}/"
    return WebsiteChoice(url, domain, "import", confidence, evidence, home), "ok"
