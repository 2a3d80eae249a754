"""Pure website scoring: homepage reading, name and domain similarity, and the choice among search hits."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from jengu_pipeline.domain.websites import (
    Homepage,
    PageCheck,
    check_imported_website,
    choose_website,
    city_forms,
    classify_page,
    domain_similarity,
    homepage_url,
    name_similarity,
    read_homepage,
)


@dataclass(frozen=True)
class Hit:
    url: str
    title: str
    snippet: str = ""
    source: str = "searxng"


def home(name: str, city: str, *, title: str | None = None) -> PageCheck:
    page = Homepage(
        title=title or f"{name} | Official site – {city}", site_name=name, text=f"Welcome to {name}, {city}."
    )
    return PageCheck("ok", page)


def test_read_homepage_takes_title_site_name_description_and_visible_text_only() -> None:
    markup = (
        '<!doctype html><html lang="de"><head><meta charset="utf-8"><title>Hotel Rössli &amp; Spa</title>'
        '<meta property="og:site_name" content="Hotel Rössli"><meta name="description" content="Zimmer in Luzern">'
        "<style>body{color:red}</style></head><body><script>var x = 'hidden';</script>"
        "<h1>Willkommen</h1><p>im   Hotel\nRössli, Luzern</p></body></html>"
    )
    page = read_homepage(markup)
    assert page == Homepage(
        title="Hotel Rössli & Spa",
        site_name="Hotel Rössli",
        description="Zimmer in Luzern",
        text="Willkommen im Hotel Rössli, Luzern",
        language="de",
    )
    assert not page.parked
    assert read_homepage("<title>x.test - This domain may be for sale</title>").parked
    assert read_homepage("<p>unclosed <b>tags <title>still read").title == "still read"


def test_excerpt_cuts_at_a_word() -> None:
    assert Homepage(text="one two three four").excerpt(9) == "one two"


@pytest.mark.parametrize(
    ("status", "page", "final_url", "expected"),
    [
        (200, Homepage(title="Hotel A"), None, "ok"),
        (200, Homepage(title="a.test - This domain may be for sale"), None, "parked"),
        (404, None, None, "missing"),
        (200, None, None, "missing"),  # not HTML
        (0, None, None, "unreachable"),  # no answer: unknown, not absent
        (403, None, None, "unreachable"),  # a firewall refusing robots says nothing of the site
        (503, None, None, "unreachable"),
        (200, Homepage(title="Hotel A"), "https://www.booking.com/hotel/a.html", "missing"),
    ],
)
def test_classify_page(status: int, page: Homepage | None, final_url: str | None, expected: str) -> None:
    assert classify_page(status, page, final_url).status == expected


def test_homepage_url_keeps_scheme_and_host_only() -> None:
    assert homepage_url("https://www.x.test/rooms?a=1") == "https://www.x.test/"
    assert homepage_url("x.test") == "https://x.test/"
    assert homepage_url("http://X.test/") == "http://x.test/"


def test_name_similarity_prefers_the_name_as_written() -> None:
    assert name_similarity("Hotel Fjord", "Hotel Fjord | Official site – Skagen") == 1.0
    assert name_similarity("Hotel Fjord", "Hotel Fjord Brygge | Official site – Skagen") < 0.95
    assert name_similarity("Bjørk Hotel", "Bjørk Hotel") > name_similarity("Bjørk Hotel", "Hotel Bjørk") > 0.7
    assert name_similarity("Hôtel Bellevue", "Grand Hotel Miramar") < 0.5


def test_domain_similarity_ignores_lodging_words_and_the_town() -> None:
    assert domain_similarity("Hostal Sol y Mar", "Sevilla", "sol-y-mar-sevilla.example") == 1.0
    assert domain_similarity("Hotel Rössli", "Luzern", "roessli-luzern.ch") == 1.0
    assert domain_similarity("Hotel Rössli", "Luzern", "rossli.ch") == 1.0
    assert domain_similarity("Hotel Rössli", "Luzern", "bellevue-luzern.ch") < 0.5


def test_city_forms_know_the_english_names() -> None:
    assert {"copenhagen", "kobenhavn"} <= city_forms("København")
    assert "gothenburg" in city_forms("Göteborg")
    assert city_forms(None) == set()


def test_homepage_evidence_picks_the_hotel_over_a_higher_ranked_namesake() -> None:
    hits = [  # the engine's titles say nothing ("Home"): only the homepages tell the two hotels apart
        Hit("https://www.fjord-skagen.test/", "Home"),
        Hit("https://www.fjord-skagen.example/", "Home"),
    ]
    search_only = choose_website("Hotel Fjord", "Skagen", hits)
    assert search_only is not None
    assert search_only.domain == "fjord-skagen.test"
    pages = {
        "https://www.fjord-skagen.test/": home("Hotel Fjord Brygge", "Skagen"),
        "https://www.fjord-skagen.example/": home("Hotel Fjord", "Skagen"),
    }
    choice = choose_website("Hotel Fjord", "Skagen", hits, pages)
    assert choice is not None
    assert choice.domain == "fjord-skagen.example"
    assert choice.evidence["site_name"] == "Hotel Fjord"
    assert choice.evidence["city_on_page"] is True
    assert choice.confidence > search_only.confidence
    assert choice.homepage is not None


def test_a_namesake_in_another_town_is_no_match() -> None:
    hits = [Hit("https://www.harbour-edinburgh.test/", "Harbour House | Official site – Edinburgh")]
    pages = {"https://www.harbour-edinburgh.test/": home("Harbour House", "Edinburgh")}
    assert choose_website("Harbour House", "Manchester", hits, pages) is None


def test_parked_pages_aggregators_and_social_sites_are_never_chosen() -> None:
    hits = [
        Hit("https://www.booking.com/hotel/ch/bellevue.html", "Hotel Bellevue, Zermatt – Booking.com"),
        Hit("https://www.facebook.com/hotelbellevuezermatt", "Hotel Bellevue Zermatt | Facebook"),
        Hit("https://www.tripadvisor.co.uk/Hotel_Review-bellevue", "Hotel Bellevue - Zermatt - Tripadvisor"),
        Hit("https://www.hotels.com/ho123/", "Hotel Bellevue Zermatt | Hotels.com"),
        Hit("https://www.instagram.com/bellevue/", "Hotel Bellevue Zermatt (@bellevue)"),
        Hit("https://www.linkedin.com/company/bellevue", "Hotel Bellevue Zermatt | LinkedIn"),
        Hit("https://www.agoda.com/bellevue", "Hotel Bellevue Zermatt | Agoda"),
        Hit("https://www.airbnb.com/rooms/1", "Hotel Bellevue Zermatt - Airbnb"),
        Hit("https://www.expedia.de/bellevue", "Hotel Bellevue Zermatt | Expedia"),
        Hit("https://www.bellevue-zermatt.test/", "Hotel Bellevue | Official site – Zermatt"),
    ]
    parked = {"https://www.bellevue-zermatt.test/": PageCheck("parked", Homepage(title="for sale"))}
    assert choose_website("Hotel Bellevue", "Zermatt", hits, parked) is None
    missing = {"https://www.bellevue-zermatt.test/": PageCheck("missing")}
    assert choose_website("Hotel Bellevue", "Zermatt", hits, missing) is None
    unknown = {"https://www.bellevue-zermatt.test/": PageCheck("unreachable")}
    chosen = choose_website("Hotel Bellevue", "Zermatt", hits, unknown)
    assert chosen is not None
    assert chosen.domain == "bellevue-zermatt.test"  # an unanswered page is no evidence either way
    assert chosen.confidence <= 0.8


def test_an_imported_website_must_answer_unparked_and_name_the_hotel() -> None:
    ok, reason = check_imported_website("Hotel Fjord", "Skagen", "fjord-skagen.example", home("Hotel Fjord", "Skagen"))
    assert ok is not None
    assert (ok.source, ok.domain, ok.url, reason) == (
        "import",
        "fjord-skagen.example",
        "https://fjord-skagen.example/",
        "ok",
    )
    parked = PageCheck("parked", Homepage(title="for sale"))
    assert check_imported_website("Hotel Fjord", "Skagen", "fjord.example", parked) == (None, "homepage parked")
    other = home("Grand Hotel Miramar", "Nice")
    assert check_imported_website("Hotel Fjord", "Skagen", "miramar.example", other)[1] == (
        "homepage does not name the hotel"
    )
    assert check_imported_website("Hotel Fjord", "Skagen", "booking.com", other)[1] == "not a hotel's own domain"
