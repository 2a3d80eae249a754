"""A LinkedIn Sales Navigator export of the world's staff, as PhantomBuster-style CSV.

The file carries what real exports carry, so the importer is tested on the real mess:
diacritics, the same person twice under URL variants (trailing slash, locale sub-domain,
``?locale=`` / ``?originalSubdomain=``, ``http://`` without ``www``, upper-case slug, no URL
at all) or name spellings (ASCII-folded, upper-case, a credential suffix), and a few rows an
importer must reject (no name, no company, "LinkedIn Member" private profiles, a short row,
a header line repeated mid-file as when two exports are concatenated). The returned summary
says which file lines are duplicates and which are bad, and why.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import random
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jengu_pipeline.sandbox.hotels import LINKEDIN_HOST, Hotel, Person

HEADERS = (
    "firstName",
    "lastName",
    "fullName",
    "title",
    "companyName",
    "companyUrl",
    "linkedinProfileUrl",
    "location",
    "companyLocation",
    "industry",
    "profileUrl",
    "vmid",
    "durationInRole",
    "durationInCompany",
    "connectionDegree",
    "query",
    "timestamp",
)
SEARCH_URL = f"https://www.{LINKEDIN_HOST}/sales/search/people?query=(keywords%3Ahotel%20manager)"
EXPORTED_AT = datetime(2025, 11, 20, 9, 0, tzinfo=UTC)

Row = dict[str, str]
_ASCII = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "Ae", "œ": "oe", "ł": "l", "đ": "d"})


def _ascii(text: str) -> str:
    """Case-preserving ASCII spelling, as other tools export names (Zoë Ørsted -> Zoe Orsted)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def _row(hotel: Hotel, person: Person, index: int) -> Row:
    vmid = "ACwAA" + base64.urlsafe_b64encode(hashlib.sha256(person.linkedin_slug.encode()).digest()).decode()[:34]
    company_id = zlib.crc32(hotel.domain.encode()) % 90_000_000 + 10_000_000
    city = hotel.city_aliases[0] if hotel.city_aliases else hotel.city
    return {
        "firstName": person.first,
        "lastName": person.last,
        "fullName": person.full_name,
        "title": person.title,
        "companyName": hotel.name,
        "companyUrl": f"https://www.{LINKEDIN_HOST}/sales/company/{company_id}",
        "linkedinProfileUrl": person.linkedin_url,
        "location": f"{city}, {hotel.country_name}",
        "companyLocation": f"{hotel.city}, {hotel.country_name}",
        "industry": "Hospitality",
        "profileUrl": f"https://www.{LINKEDIN_HOST}/sales/lead/{vmid},NAME_SEARCH,{vmid[-4:]}",
        "vmid": vmid,
        "durationInRole": f"{_count(1 + index % 7, 'year')} {_count(1 + index % 11, 'month')} in role",
        "durationInCompany": f"{_count(2 + index % 9, 'year')} in company",
        "connectionDegree": ("2nd", "3rd", "3rd+")[index % 3],
        "query": SEARCH_URL,
        "timestamp": (EXPORTED_AT + timedelta(seconds=7 * index)).isoformat().replace("+00:00", "Z"),
    }


def _with(**changes: Callable[[str], str]) -> Callable[[Row], Row]:
    """A row variant: each named field rewritten by its function."""
    return lambda row: {**row, **{name: change(row[name]) for name, change in changes.items()}}


URL_VARIANTS = (
    _with(linkedinProfileUrl=lambda url: url + "/"),
    _with(linkedinProfileUrl=lambda url: url.replace("://www.", "://de.")),
    _with(linkedinProfileUrl=lambda url: url + "?locale=fr_FR"),
    _with(linkedinProfileUrl=lambda url: url + "/?originalSubdomain=ch"),
    _with(linkedinProfileUrl=lambda url: url.replace("https://www.", "http://")),
    _with(linkedinProfileUrl=lambda url: url.rpartition("/")[0] + "/" + url.rpartition("/")[2].title()),
    _with(linkedinProfileUrl=lambda url: ""),
)
NAME_VARIANTS = (
    _with(firstName=_ascii, lastName=_ascii, fullName=_ascii),
    _with(lastName=str.upper, fullName=str.upper),
    _with(lastName=lambda name: f"{name}, MBA", fullName=lambda name: f"{name}, MBA"),
)
BAD_ROWS: tuple[tuple[str, Callable[[Row], Row]], ...] = (
    ("missing_name", _with(firstName=lambda _: "", lastName=lambda _: "", fullName=lambda _: "")),
    ("missing_company", _with(companyName=lambda _: "", companyUrl=lambda _: "")),
    (
        "private_profile",
        _with(
            firstName=lambda _: "LinkedIn",
            lastName=lambda _: "Member",
            fullName=lambda _: "LinkedIn Member",
            linkedinProfileUrl=lambda _: "",
            title=lambda _: "",
        ),
    ),
    ("short_row", lambda row: dict(list(row.items())[:3])),
    ("repeated_header", lambda row: {name: name for name in HEADERS}),
)


def write_prospects_csv(
    people: Sequence[tuple[Hotel, Person]],
    seed: int,
    path: Path,
    *,
    rows: int | None = None,
    duplicate_variants: bool = True,
) -> dict[str, Any]:
    """Write the export of a world's ``people`` (generated from ``seed``) and return what is in it: line numbers
    of duplicates and of bad rows.

    ``rows`` is the total number of data rows (people + duplicates + bad rows), fewer only if
    the world has too few people; None means every staff member once, plus duplicates and bad
    rows. Line numbers count the header as line 1.
    """
    rng = random.Random(f"prospects-{seed}")
    if rows is None:
        bad_count, dup_count = max(1, len(people) // 30), len(people) // 10 if duplicate_variants else 0
        chosen = people
    else:
        bad_count, dup_count = (max(1, rows // 30) if rows >= 10 else 0), rows // 10 if duplicate_variants else 0
        chosen = rng.sample(people, max(0, min(len(people), rows - bad_count - dup_count)))
    count = len(chosen)
    keyed: list[tuple[float, str, Row]] = [
        (float(i), "person", _row(hotel, person, i)) for i, (hotel, person) in enumerate(chosen)
    ]
    for original in rng.sample(range(count), min(dup_count, count)):
        variant = rng.choice(URL_VARIANTS)(keyed[original][2])
        if rng.random() < 0.5:
            variant = rng.choice(NAME_VARIANTS)(variant)
        keyed.append((rng.uniform(original + 0.5, count), "duplicate", variant))
    for number in range(bad_count):
        reason, spoil = BAD_ROWS[number % len(BAD_ROWS)]
        hotel, person = rng.choice(people)
        keyed.append((rng.uniform(0.5, count), reason, spoil(_row(hotel, person, count + number))))
    keyed.sort(key=lambda entry: entry[0])
    entries = [(kind, row) for _, kind, row in keyed]
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HEADERS)
        for _, row in entries:
            writer.writerow([row[name] for name in HEADERS if name in row])
    lines = [(line, kind) for line, (kind, _) in enumerate(entries, start=2)]
    return {
        "path": str(path),
        "rows": len(entries),
        "people": count,
        "duplicate_lines": [line for line, kind in lines if kind == "duplicate"],
        "bad_lines": [{"line": line, "reason": kind} for line, kind in lines if kind not in {"person", "duplicate"}],
    }
