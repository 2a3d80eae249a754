from __future__ import annotations

import subprocess
import sys
import unicodedata
from collections.abc import Callable, Mapping
from typing import Literal

import email_validator
import polars as pl
import pycountry
import pytest
import pytz
from hypothesis import given, settings
from hypothesis import strategies as st

from jengu_pipeline.domain import normalise
from jengu_pipeline.domain.normalise import (
    ACCEPTED_COLUMNS,
    PLACE_ZONES,
    REJECTED_COLUMNS,
    SUBDIVISION_ZONES,
    ascii_name_part,
    canonical_linkedin_url,
    clean_text,
    clean_text_expr,
    company_key,
    country_and_timezone,
    normalise_email,
    normalise_records,
    parse_person_name,
    registrable_domain,
)

RAW_SCHEMA = {"line_number": pl.Int64} | dict.fromkeys(normalise.TEXT_COLUMNS, pl.Utf8)
LINE_BREAKS = ("\r", "\n", "\x0b", "\x0c", "\x85", "\u2028", "\u2029")
NAME_WORDS_FOR_PLAINNESS = ["Anna", "ANNA", "van", "Van", "Jr", "MBA", "Dr", "O'Brien", "Jean-Luc", "al-Amin", "Ǆ",
                            "ß", "Σίσυφος", "d'", "-x", "Ma", "de", "Mc", "i"]  # fmt: skip


def raw_frame(*rows: Mapping[str, object]) -> pl.DataFrame:
    records = [{"line_number": index + 2, "raw": f"line {index + 2}", **row} for index, row in enumerate(rows)]
    return pl.DataFrame(records, schema=RAW_SCHEMA)


def expr_clean(values: list[str | None]) -> list[str | None]:
    return pl.DataFrame({"v": values}, schema={"v": pl.Utf8}).select(clean_text_expr(pl.col("v"))).to_series().to_list()


# --------------------------------------------------------------------------- clean_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Anna\r\nBerg ", "Anna Berg"),
        ("Anna\u2028Berg\u2029x\x85y\tz", "Anna Berg x y z"),
        ("Hotel\u00a0\u00a0Bellevue", "Hotel Bellevue"),
        ("Zoe\u0308", "Zoë"),  # decomposed diaeresis composes (NFC)
        ("\u202eevil\u202c name\u200b", "evil name"),  # bidi override and zero-width space removed
        ("\ufeffBOM", "BOM"),
        ("क्\u200dष", "क्\u200dष"),  # the zero-width joiner some scripts need stays
        (" \r\n\t ", None),
        ("", None),
        (None, None),
    ],
)
def test_clean_text(value: str | None, expected: str | None) -> None:
    assert clean_text(value) == expected
    assert expr_clean([value]) == [expected]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cn", "Cs"])))
def test_clean_text_output_is_one_clean_line_and_matches_polars(value: str) -> None:
    cleaned = clean_text(value)
    if cleaned is not None:
        assert not any(unicodedata.category(char) in {"Cc", "Zl", "Zp"} for char in cleaned)
        assert not any(char in cleaned for char in LINE_BREAKS)
        assert cleaned == cleaned.strip()
        assert "  " not in cleaned
        assert unicodedata.is_normalized("NFC", cleaned)
        assert clean_text(cleaned) == cleaned
    assert expr_clean([value]) == [cleaned]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("first", "last", "full", "expected"),
    [
        ("Jean-Luc", "van der Berg Jr.", None, ("Jean-Luc", "van der Berg", "jean-luc", "vanderberg")),
        ("Dr. Jean", "Dupont", None, ("Jean", "Dupont", "jean", "dupont")),
        ("Mme Zoë", "de la Fontaine", None, ("Zoë", "de la Fontaine", "zoe", "delafontaine")),
        ("JOHN", "MCDONALD", None, ("John", "McDonald", "john", "mcdonald")),
        ("mary", "o'brien-mcdonald", None, ("Mary", "O'Brien-McDonald", "mary", "obrien-mcdonald")),
        ("JEAN", "VAN DER BERG", None, ("Jean", "van der Berg", "jean", "vanderberg")),
        ("zoë", "ørsted", None, ("Zoë", "Ørsted", "zoe", "orsted")),
        ("María José", "García López", None, ("María José", "García López", "mariajose", "garcialopez")),
        ("Jane", "Doe, MBA", None, ("Jane", "Doe", "jane", "doe")),
        ("Jon", "Smith, CHA, CRME", None, ("Jon", "Smith", "jon", "smith")),
        ("Hans", "Müller PhD", None, ("Hans", "Müller", "hans", "muller")),
        ("Anna", "Berg | Revenue Manager @ Hotel", None, ("Anna", "Berg", "anna", "berg")),
        ("McKenzie", "DeVito", None, ("McKenzie", "DeVito", "mckenzie", "devito")),
        (None, None, "John Smith 🌴", ("John", "Smith", "john", "smith")),
        (None, None, "Anna (She/Her) Berg", ("Anna", "Berg", "anna", "berg")),
        (None, None, "Jane Doe, MBA", ("Jane", "Doe", "jane", "doe")),
        (None, None, "Müller, Hans", ("Hans", "Müller", "hans", "muller")),
        (None, None, "Prof. Dr. Hans Müller", ("Hans", "Müller", "hans", "muller")),
        (None, None, "JOHN SMITH", ("John", "Smith", "john", "smith")),
        (None, None, "Ludwig von Mises III", ("Ludwig", "von Mises", "ludwig", "vonmises")),
        (None, "Ørsted", None, (None, "Ørsted", None, "orsted")),  # a lone cell is read as a whole name
        ("Zoë", None, None, ("Zoë", None, "zoe", None)),
        ("Anna", "PhD", None, ("Anna", None, "anna", None)),  # a credential is not a last name
        (None, None, "🌴 ✨", (None, None, None, None)),
        (None, None, None, (None, None, None, None)),
    ],
)
def test_parse_person_name(
    first: str | None, last: str | None, full: str | None, expected: tuple[str | None, ...]
) -> None:
    assert tuple(parse_person_name(first, last, full)) == expected


def test_first_and_last_cells_win_over_full_name() -> None:
    assert parse_person_name("Anna", "Berg", "Someone Else")[:2] == ("Anna", "Berg")


def test_names_never_keep_line_breaks() -> None:
    name = parse_person_name("Anna\r\nBcc: x@evil.test", "Berg\n")
    assert not any(char in (name.first_name or "") + (name.last_name or "") for char in LINE_BREAKS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Zoë", "zoe"),
        ("Ørsted", "orsted"),
        ("Müller", "muller"),
        ("Jean-Luc", "jean-luc"),
        ("O'Brien", "obrien"),
        ("van der Berg", "vanderberg"),
        ("Łukasz", "lukasz"),
        ("王", "wang"),
        ("--", None),
        (None, None),
    ],
)
def test_ascii_name_part(value: str | None, expected: str | None) -> None:
    assert ascii_name_part(value) == expected


ACCENTED_LATIN = [
    chr(code)
    for code in range(0x80, 0x2000)
    if unicodedata.normalize("NFD", chr(code)) != chr(code) and unicodedata.normalize("NFD", chr(code))[0].isascii()
]


def test_vectorised_ascii_names_fold_accents_as_anyascii_does() -> None:
    names = [*ACCENTED_LATIN, "Zoë Ørsted", "x\u0301y", "Łukasz", "王", "ǅemal", "Ångström", "--", ""]
    folded = normalise._ascii_names(pl.Series(names, dtype=pl.Utf8)).to_list()
    assert folded == [ascii_name_part(name) for name in names]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(alphabet=st.characters(exclude_categories=["Cs", "Cn"]), max_size=8),
            st.sampled_from([*NAME_WORDS_FOR_PLAINNESS]),
        ),
        max_size=20,
    )
)
def test_vectorised_plain_words_match_the_python_rule(words: list[str]) -> None:
    for vocabulary in (normalise._NAME_VOCABULARY, normalise._CELL_VOCABULARY):
        odd = set(normalise._unplain_name_words(pl.Series(words, dtype=pl.Utf8).unique(), vocabulary).to_list())
        assert odd == {word for word in words if not normalise._is_plain_name_word(word, vocabulary)}


# The shortcuts of _name_cell / _full_name must give nameparser's own answer.
NAME_WORDS = ["Anna", "Berg", "Jean-Luc", "Zoë", "Ørsted", "McDonald", "O'Brien", "García", "Smith", "Müller"]
CASINGS: list[Callable[[str], str]] = [str, str.upper, str.lower]


def agrees_with_nameparser(cell: str, position: Literal["first", "last"]) -> bool:
    capitalise = cell in (cell.upper(), cell.lower())
    return normalise._name_cell(cell, position, capitalise) == normalise._parsed_cell(cell, position, capitalise)


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=3),
    titles=st.lists(st.sampled_from(sorted(normalise._TITLES)), max_size=2),
    casing=st.sampled_from(CASINGS),
)
def test_first_name_cell_shortcut_agrees_with_nameparser(
    words: list[str], titles: list[str], casing: Callable[[str], str]
) -> None:
    assert agrees_with_nameparser(casing(" ".join([*titles, *words])), "first")


@settings(max_examples=100, deadline=None)
@given(
    words=st.lists(st.sampled_from(NAME_WORDS), min_size=1, max_size=3),
    credentials=st.lists(st.sampled_from(sorted(normalise._CREDENTIALS)), max_size=2),
    separator=st.sampled_from([" ", ", "]),
    casing=st.sampled_from(CASINGS),
)
def test_last_name_cell_shortcut_agrees_with_nameparser(
    words: list[str], credentials: list[str], separator: str, casing: Callable[[str], str]
) -> None:
    assert agrees_with_nameparser(casing(separator.join([" ".join(words), *credentials])), "last")


@settings(max_examples=100, deadline=None)
@given(
    given_name=st.sampled_from(NAME_WORDS),
    family=st.sampled_from(NAME_WORDS),
    titles=st.lists(st.sampled_from(sorted(normalise._TITLES)), max_size=1),
    credentials=st.lists(st.sampled_from(sorted(normalise._CREDENTIALS)), max_size=2),
    casing=st.sampled_from(CASINGS),
)
def test_full_name_shortcut_agrees_with_nameparser(
    given_name: str, family: str, titles: list[str], credentials: list[str], casing: Callable[[str], str]
) -> None:
    text = casing(", ".join([" ".join([*titles, given_name, family]), *credentials]))
    capitalise = text in (text.upper(), text.lower())
    assert normalise._full_name(text, capitalise) == normalise._parsed_full_name(text, capitalise)


# --------------------------------------------------------------------------- LinkedIn


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://www.linkedin.com/in/anna-berg", "https://www.linkedin.com/in/anna-berg"),
        (
            "https://fr.linkedin.com/in/Jean-Dupont-123/?trk=public_profile",
            "https://www.linkedin.com/in/jean-dupont-123",
        ),
        ("http://m.linkedin.com/in/zoe-orsted#about", "https://www.linkedin.com/in/zoe-orsted"),
        ("linkedin.com/in/anna-berg/", "https://www.linkedin.com/in/anna-berg"),
        ("www.linkedin.com/in/anna-berg/details/experience/", "https://www.linkedin.com/in/anna-berg"),
        ("https://www.linkedin.com/mwlite/in/anna-berg", "https://www.linkedin.com/in/anna-berg"),
        ("https://de.linkedin.com/in/j%C3%B6rg-m%C3%BCller", "https://www.linkedin.com/in/j%C3%B6rg-m%C3%BCller"),
        ("https://de.linkedin.com/in/Jörg-Müller", "https://www.linkedin.com/in/j%C3%B6rg-m%C3%BCller"),
        (
            "https://www.linkedin.com/sales/lead/ACwAAAB1x2YBcD,NAME_SEARCH,xY9z?_ntb=abc",
            "https://www.linkedin.com/sales/lead/ACwAAAB1x2YBcD",
        ),
        (
            "https://www.linkedin.com/sales/people/ACwAAAB1x2YBcD%2CNAME_SEARCH%2CxY9z",
            "https://www.linkedin.com/sales/lead/ACwAAAB1x2YBcD",
        ),
        ("http://uk.linkedin.com/pub/john-smith/1a/2b/3C", "https://www.linkedin.com/pub/john-smith/1a/2b/3c"),
        ("https://www.linkedin.com/company/hotel-bellevue", None),
        ("https://www.linkedin.com/in/", None),
        ("https://www.linkedin.com.evil.test/in/anna", None),
        ("https://evil.test/?u=linkedin.com/in/anna", None),
        ("ftp://www.linkedin.com/in/anna", None),
        ("Anna Berg", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_linkedin_url(value: str | None, expected: str | None) -> None:
    assert canonical_linkedin_url(value) == expected


def test_sales_navigator_ids_keep_their_case() -> None:
    upper = canonical_linkedin_url("https://www.linkedin.com/sales/lead/ACwAAAB")
    lower = canonical_linkedin_url("https://www.linkedin.com/sales/lead/acwaaab")
    assert upper != lower


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.text(),
        st.builds(
            lambda host, kind, path: f"https://{host}linkedin.com/{kind}/{path}",
            st.sampled_from(["", "www.", "fr.", "M."]),
            st.sampled_from(["in", "IN", "pub", "sales/lead", "sales/people", "mwlite/in"]),
            st.text(),
        ),
    )
)
def test_canonical_linkedin_url_is_idempotent(value: str) -> None:
    canonical = canonical_linkedin_url(value)
    if canonical is not None:
        assert canonical_linkedin_url(canonical) == canonical
        assert canonical.startswith("https://www.linkedin.com/")


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.from_regex(normalise._LINKEDIN_PROFILE, fullmatch=True),
        st.from_regex(normalise._LINKEDIN_LEAD.replace("[a-z0-9_-]+(?:,", "[A-Za-z0-9_-]+(?:,"), fullmatch=True),
    )
)
def test_linkedin_polars_shortcut_agrees_with_scalar(value: str) -> None:
    fast = pl.DataFrame({"u": [value]}).select(normalise._linkedin_expr("u")).item()
    if fast is not None:
        assert fast == canonical_linkedin_url(value)


# --------------------------------------------------------------------------- companies and domains


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Hôtel Bellevue & Spa S.A.", "bellevue"),
        ("The Ritz Hotel", "ritz"),
        ("Beau-Rivage Palace GmbH", "beau rivage palace"),
        ("Grand Hotel Paris", "grand paris"),
        ("Hotel", "hotel"),  # never emptied: falls back to all its words
        ("Hotel & Spa Group", "hotel spa group"),
        ("Nordlys Hotels Ltd.", "nordlys"),
        ("  ", None),
        (None, None),
    ],
)
def test_company_key(value: str | None, expected: str | None) -> None:
    assert company_key(value) == expected


def test_vectorised_company_keys_fold_accents_as_anyascii_does() -> None:
    names = [f"Hôtel {letter}berg & Spa" for letter in ACCENTED_LATIN] + [
        "Hôtel Bellevue & Spa S.A.", "L’Hôtel d'Angleterre", "Hotel", "&&", "Ørsted Hotel 12", "İstanbul Palace",
        "ǅemal Suites", "Hotel\u0363x", "王府井酒店", "The Ritz", "St. Moritz Grand",
    ]  # fmt: skip
    keys = normalise._company_keys(pl.Series(names, dtype=pl.Utf8)).to_list()
    assert keys == [company_key(name) for name in names]


COMPANY_WORDS = ["Hotel", "Spa", "S.A.", "&", "Zoë", "Ørsted", "GmbH", "de", "la", "12", "l’", "d'", "Grand", "Ǆ"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(
            st.one_of(st.sampled_from(COMPANY_WORDS), st.sampled_from(ACCENTED_LATIN), st.text(max_size=6)),
            min_size=1,
            max_size=5,
        ).map(" ".join),
        max_size=10,
    )
)
def test_vectorised_company_keys_agree_with_the_scalar(values: list[str]) -> None:
    cleaned = [clean_text(value) for value in values]
    keys = normalise._company_keys(pl.Series(cleaned, dtype=pl.Utf8)).to_list()
    assert keys == [company_key(value) for value in cleaned]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("hotel-bellevue.test", "hotel-bellevue.test"),
        ("www.nordlys.example", "nordlys.example"),
        ("https://www.Hotel-Sacher.AT/en/rooms?x=1", "hotel-sacher.at"),
        ("http://www.hotel.co.uk/", "hotel.co.uk"),
        ("anna.berg@hotel-bellevue.test", "hotel-bellevue.test"),
        ("myhotel.wixsite.com", "myhotel.wixsite.com"),  # private suffix: each site is its own domain
        ("https://www.booking.com/hotel/ch/bellevue.html", None),
        ("tripadvisor.co.uk", None),
        ("https://maps.google.de/?q=hotel", None),
        ("https://www.linkedin.com/company/x", None),
        ("http://192.168.1.1/", None),
        ("hotel bellevue", None),
        ("localhost", None),
        (None, None),
    ],
)
def test_registrable_domain(value: str | None, expected: str | None) -> None:
    assert registrable_domain(value) == expected


def test_registrable_domain_never_touches_the_network() -> None:
    code = (
        "import socket\n"
        "def refuse(*args, **kwargs): raise AssertionError('network access')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from jengu_pipeline.domain.normalise import registrable_domain\n"
        "assert registrable_domain('https://www.hotel-bellevue.co.uk/x') == 'hotel-bellevue.co.uk'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --------------------------------------------------------------------------- places


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        (("Geneva, Geneva, Switzerland", None, None, None), ("CH", "Europe/Zurich")),
        (("Greater Paris Metropolitan Region", None, None, None), ("FR", "Europe/Paris")),
        (("Paris, Île-de-France, France", None, None, None), ("FR", "Europe/Paris")),
        (("New York City Metropolitan Area", None, None, None), ("US", "America/New_York")),
        (("San Francisco Bay Area", None, None, None), ("US", "America/Los_Angeles")),
        (("Austin, Texas, United States", None, None, None), ("US", "America/Chicago")),
        (("Atlanta, Georgia, United States", None, None, None), ("US", "America/New_York")),
        (("Tbilisi, Georgia", None, None, None), ("GE", "Asia/Tbilisi")),
        (("Vancouver, British Columbia, Canada", None, None, None), ("CA", "America/Vancouver")),
        (("Calgary, Alberta, Canada", None, None, None), ("CA", "America/Edmonton")),
        (("Perth, Western Australia, Australia", None, None, None), ("AU", "Australia/Perth")),
        (("Ponta Delgada, Azores, Portugal", None, None, None), ("PT", "Atlantic/Azores")),
        (("London Area, United Kingdom", None, None, None), ("GB", "Europe/London")),
        ((None, None, "Tenerife", "España"), ("ES", "Atlantic/Canary")),
        ((None, None, "Canarias", "ES"), ("ES", "Atlantic/Canary")),
        ((None, "Madrid", None, "Spain"), ("ES", "Europe/Madrid")),
        ((None, "Toronto", None, "CA"), ("CA", "America/Toronto")),
        ((None, None, "TX", "USA"), ("US", "America/Chicago")),
        ((None, None, None, "UK"), ("GB", "Europe/London")),
        ((None, None, None, "Deutschland"), ("DE", "Europe/Berlin")),
        ((None, None, None, "Schweiz"), ("CH", "Europe/Zurich")),
        ((None, None, None, "CHE"), ("CH", "Europe/Zurich")),
        ((None, None, None, "The Netherlands"), ("NL", "Europe/Amsterdam")),
        ((None, None, None, "Russian Federation"), ("RU", "Europe/Moscow")),  # main zone, not Kaliningrad
        ((None, None, None, "Australia"), ("AU", "Australia/Sydney")),
        ((None, None, None, "United States"), ("US", "America/New_York")),
        (("Atlantis", None, None, None), (None, None)),
        (("Austin, TX", None, None, None), ("US", "America/Chicago")),  # known city
        (("Springfield, CA", None, None, None), (None, None)),  # a 2-letter code in a location is ambiguous
        ((None, None, None, None), (None, None)),
    ],
)
def test_country_and_timezone(
    place: tuple[str | None, str | None, str | None, str | None], expected: tuple[str | None, str | None]
) -> None:
    assert country_and_timezone(*place) == expected


def test_zone_tables_name_real_places_and_zones() -> None:
    for subdivision, zone in SUBDIVISION_ZONES.items():
        assert pycountry.subdivisions.get(code=subdivision) is not None, subdivision
        assert zone in pytz.country_timezones[subdivision.split("-")[0]], subdivision
    for place, zone in PLACE_ZONES.items():
        assert zone in pytz.all_timezones_set, place
    for country, zone in normalise._MAIN_ZONE.items():
        assert zone in pytz.country_timezones[country], country


# --------------------------------------------------------------------------- email


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Anna.Berg@Hotel-Bellevue.TEST", ("anna.berg@hotel-bellevue.test", None)),
        ("anna@nordlys.example", ("anna@nordlys.example", None)),
        ("Anna Berg <anna@bellevue.ch>", ("anna@bellevue.ch", None)),
        ("mailto:anna@bellevue.ch", ("anna@bellevue.ch", None)),
        (" anna@bellevue.ch\r\n", ("anna@bellevue.ch", None)),
        ("josé@exämple.com", ("josé@exämple.com", None)),
        (None, (None, None)),
        ("   ", (None, None)),
    ],
)
def test_normalise_email_accepts(value: str | None, expected: tuple[str | None, str | None]) -> None:
    assert normalise_email(value) == expected


@pytest.mark.parametrize(
    "value", ["anna", "anna@", "@bellevue.ch", "anna@@bellevue.ch", "anna..berg@bellevue.ch", "anna@bellevue.local"]
)
def test_normalise_email_rejects_with_the_validator_reason(value: str) -> None:
    address, reason = normalise_email(value)
    assert address is None
    assert reason
    assert reason[0].isupper()
    assert reason.endswith(".")


def test_normalise_email_leaves_the_validator_globals_alone() -> None:
    before = (email_validator.TEST_ENVIRONMENT, list(email_validator.SPECIAL_USE_DOMAIN_NAMES))
    normalise_email("anna@bellevue.test")
    assert (email_validator.TEST_ENVIRONMENT, list(email_validator.SPECIAL_USE_DOMAIN_NAMES)) == before
    with pytest.raises(email_validator.EmailNotValidError):
        email_validator.validate_email("anna@bellevue.test", check_deliverability=False)


@settings(max_examples=100, deadline=None)
@given(st.from_regex(normalise._EMAIL_FAST, fullmatch=True))
def test_email_polars_shortcut_agrees_with_email_validator(value: str) -> None:
    fast = pl.DataFrame({"e": [value]}).select(normalise._email_fast_expr("e")).item()
    if fast is not None:
        assert normalise_email(value) == (fast, None)


# --------------------------------------------------------------------------- records

GOOD = {
    "first_name": "Anna",
    "last_name": "Berg",
    "title": "General Manager",
    "company": "Hotel Bellevue",
    "website": "https://www.hotel-bellevue.test/",
    "linkedin_url": "https://ch.linkedin.com/in/anna-berg/",
    "location": "Geneva, Geneva, Switzerland",
    "email": "Anna.Berg@hotel-bellevue.test",
}


def test_normalise_records_accepts_and_normalises() -> None:
    batch = normalise_records(raw_frame(GOOD))
    assert batch.rejected.is_empty()
    assert batch.accepted.columns == list(ACCEPTED_COLUMNS)
    assert batch.accepted.row(0, named=True) == {
        "line_number": 2,
        "first_name": "Anna",
        "last_name": "Berg",
        "first_ascii": "anna",
        "last_ascii": "berg",
        "name_key": "anna berg",
        "title": "General Manager",
        "company": "Hotel Bellevue",
        "company_key": "bellevue",
        "linkedin_url": "https://www.linkedin.com/in/anna-berg",
        "email": "anna.berg@hotel-bellevue.test",
        "website": "hotel-bellevue.test",
        "country": "CH",
        "timezone": "Europe/Zurich",
        "phone": None,
        "tier": "hot",
        "score": 90,
    }


def test_normalise_records_rejects_with_stable_reasons() -> None:
    batch = normalise_records(
        raw_frame(
            {**GOOD, "error": "line 3: unbalanced quote"},
            {**GOOD, "first_name": "🌴", "last_name": None},
            {**GOOD, "email": "anna@"},
            {**GOOD, "linkedin_url": "https://www.linkedin.com/company/bellevue"},
            {"first_name": "Anna", "last_name": "Berg", "title": "GM"},
            {**GOOD, "email": "N/A", "linkedin_url": "-", "company": "n/a"},
        )
    )
    assert batch.accepted.is_empty()
    assert batch.rejected.columns == list(REJECTED_COLUMNS)
    assert batch.rejected.get_column("reason").to_list() == [
        "error: line 3: unbalanced quote",
        "name: missing",
        "email: There must be something after the @-sign.",
        "linkedin_url: not a LinkedIn profile URL",
        "unreachable: no company, LinkedIn URL or email",
        "unreachable: no company, LinkedIn URL or email",  # placeholders count as empty
    ]
    assert batch.rejected.get_column("raw").to_list() == [f"line {n}" for n in range(2, 8)]


def test_aggregator_website_is_dropped_not_rejected() -> None:
    batch = normalise_records(raw_frame({**GOOD, "website": "https://www.booking.com/hotel/ch/bellevue.html"}))
    assert batch.accepted.get_column("website").to_list() == [None]


def test_missing_optional_columns_and_empty_input() -> None:
    frame = raw_frame(GOOD).drop("city", "region", "full_name", "phone")
    assert normalise_records(frame).accepted.height == 1
    empty = normalise_records(pl.DataFrame(schema=RAW_SCHEMA))
    assert empty.accepted.columns == list(ACCEPTED_COLUMNS)
    assert empty.accepted.is_empty()
    assert empty.rejected.is_empty()


def test_batch_agrees_with_the_scalar_normalisers() -> None:
    rows = [
        {**GOOD, "linkedin_url": url, "email": email, "website": site, "company": company, "location": place}
        for url, email, site, company, place in [
            ("https://www.linkedin.com/in/ZOE", "Zoe@Nordlys.Example", "www.nordlys.example", "Nordlys", "Norway"),
            ("https://de.linkedin.com/in/j%C3%B6rg", "jörg@müller.de", "müller.de", "Hôtel Müller", "Bavaria"),
            ("https://www.linkedin.com/sales/lead/ACw1,NAME_SEARCH,x", None, None, "Savoy", "Toronto, Canada"),
            ("www.linkedin.com/in/x/?trk=1", "x@y.ch", "https://y.ch/a", "The Savoy", "Sydney, Australia"),
        ]
    ]
    accepted = normalise_records(raw_frame(*rows)).accepted
    for row, out in zip(rows, accepted.iter_rows(named=True), strict=True):
        assert out["linkedin_url"] == canonical_linkedin_url(row["linkedin_url"])
        assert out["email"] == normalise_email(row["email"])[0]
        assert out["website"] == registrable_domain(row["website"])
        assert out["company_key"] == company_key(row["company"])
        assert (out["country"], out["timezone"]) == country_and_timezone(row["location"], None, None, None)


TEXT_VALUES = st.one_of(
    st.none(),
    st.text(max_size=30),
    st.sampled_from(["N/A", "Anna", "Berg, MBA", "anna@x.test", "x@", "https://linkedin.com/in/a", "Hotel"]),
)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries({name: TEXT_VALUES for name in RAW_SCHEMA if name != "line_number"}),
        max_size=12,
    )
)
def test_normalise_records_conserves_rows(rows: list[dict[str, str | None]]) -> None:
    frame = pl.DataFrame([{"line_number": index, **row} for index, row in enumerate(rows)], schema=RAW_SCHEMA)
    batch = normalise_records(frame)
    lines = batch.accepted.get_column("line_number").to_list() + batch.rejected.get_column("line_number").to_list()
    assert sorted(lines) == list(range(len(rows)))
    assert batch.rejected.get_column("reason").null_count() == 0
    for column in ("first_name", "last_name", "title", "company", "phone"):
        for value in batch.accepted.get_column(column).drop_nulls().to_list():
            assert not any(char in value for char in LINE_BREAKS)


def test_private_linkedin_member_rows_are_rejected_with_a_reason() -> None:
    from jengu_pipeline.domain.normalise import normalise_records

    raw = pl.DataFrame(
        {
            "line_number": [2, 3],
            "raw": ["a", "b"],
            "error": [None, None],
            "first_name": ["LinkedIn", "Anna"],
            "last_name": ["Member", "Berg"],
            "company": ["Hotel Magnolia", "Hotel Alpina"],
        }
    )
    batch = normalise_records(raw)
    assert batch.accepted["line_number"].to_list() == [3]
    assert batch.rejected["reason"].to_list() == ['name: private LinkedIn profile ("LinkedIn Member")']


def test_a_shared_mailbox_is_no_personal_address_but_names_the_hotel() -> None:
    batch = normalise_records(
        raw_frame(
            {**GOOD, "website": None, "email": "Info@Hotel-Bellevue.test"},
            {
                **GOOD,
                "first_name": "Per",
                "linkedin_url": None,
                "website": "https://other.test",
                "email": "info@x.test",
            },
            {**GOOD, "first_name": "Eva", "linkedin_url": None, "website": None, "email": "info@gmail.com"},
        )
    )
    rows = batch.accepted.select("first_name", "email", "website").rows()
    assert rows == [("Anna", None, "hotel-bellevue.test"), ("Per", None, "other.test"), ("Eva", None, None)]
