"""Read a prospect file (a LinkedIn Sales Navigator export or any CSV) into one table.

The reader never guesses silently and never drops a record: every data record of the file
comes back as exactly one row, either usable or carrying the reason it is not, together with
its starting line number and its original text, so that the import can report and keep it.

Python's `csv` module, driven line by line, defines what the records are (the slow path, the
reference). A vectorised reader built on polars gives the same result on the records where the
two provably agree, which in a real export is nearly all of them, and hands the others, one at
a time, to the csv module; whole files go to the slow path only in rare cases (lone carriage
returns as line breaks, many broken records).
"""

from __future__ import annotations

import codecs
import csv
import gc
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import islice, zip_longest
from pathlib import Path
from typing import NamedTuple

import charset_normalizer
import polars as pl

CANONICAL_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "title",
    "company",
    "website",
    "linkedin_url",
    "location",
    "city",
    "region",
    "country",
    "email",
    "phone",
)

# Header synonyms per canonical field, most preferred first. Headers are compared without case,
# accents, spaces or punctuation ("First Name" = "firstName" = "first_name", "Prénom" = "prenom").
# When several columns map to one field, a row takes the first non-empty value in this order,
# ties broken by column order: "Email" before "Work Email", a LinkedIn profile URL before a
# Sales Navigator one (PhantomBuster's "profileUrl" is the Sales Navigator link).
_SYNONYMS: dict[str, tuple[str, ...]] = {
    "first_name": ("First Name", "Given Name", "Prénom", "Vorname", "Nombre"),
    "last_name": (
        "Last Name",
        "Surname",
        "Family Name",
        "Nom",
        "Nom de famille",
        "Nachname",
        "Familienname",
        "Apellido",
        "Apellidos",
    ),
    "full_name": (
        "Full Name",
        "Name",
        "Contact",
        "Contact Name",
        "Nom complet",
        "Vollständiger Name",
        "Nombre completo",
    ),
    "title": (
        "Title",
        "Job Title",
        "Current Title",
        "Position",
        "Current Position",
        "Organization Title 1",
        "Poste",
        "Fonction",
        "Titre",
        "Intitulé du poste",
        "Berufsbezeichnung",
        "Jobtitel",
        "Cargo",
        "Puesto",
    ),
    "company": (
        "Company",
        "Company Name",
        "Current Company",
        "Hotel",
        "Hotel Name",
        "Organization",
        "Organisation",
        "Organization 1",
        "Account Name",
        "Employer",
        "Entreprise",
        "Société",
        "Nom de l'entreprise",
        "Firma",
        "Unternehmen",
        "Firmenname",
        "Empresa",
    ),
    "website": (
        "Website",
        "Company Website",
        "Hotel Website",
        "Organization Website 1",
        "Domain",
        "Company Domain",
        "Site",
        "Web",
        "Site web",
        "Site internet",
        "Webseite",
        "Sitio web",
        "URL",
        "Company URL",
    ),
    "linkedin_url": (
        "LinkedIn Profile URL",
        "LinkedIn URL",
        "LinkedIn Profile",
        "LinkedIn",
        "Person Linkedin Url",
        "defaultProfileUrl",
        "Profile URL",
        "Profile",
        "Sales Navigator Profile URL",
        "Sales Navigator URL",
        "Sales Navigator",
    ),
    "location": ("Location", "Person Location", "Geography", "Location Name", "Localisation", "Standort", "Ubicación"),
    "city": ("City", "Ville", "Stadt", "Ort", "Ciudad"),
    "region": ("State", "Region", "Province", "Bundesland", "Provincia", "Estado"),
    "country": ("Country", "Pays", "Land", "País"),
    "email": (
        "Email",
        "Email Address",
        "Work Email",
        "Professional Email",
        "Business Email",
        "Courriel",
        "Adresse e-mail",
        "E-Mail-Adresse",
        "Correo",
        "Correo electrónico",
    ),
    "phone": (
        "Phone",
        "Phone Number",
        "Telephone",
        "Mobile",
        "Mobile Phone",
        "Work Phone",
        "Portable",
        "Telefon",
        "Telefonnummer",
        "Handy",
        "Teléfono",
        "Móvil",
    ),
}
# At least one of these must be mapped, or the file cannot name a single prospect.
_IDENTITY_FIELDS = frozenset({"first_name", "last_name", "full_name", "company", "linkedin_url", "email"})

_DELIMITERS = (",", ";", "\t", "|")
# A quoted field still open after this many physical lines is taken for a stray quote.
_MAX_RECORD_LINES = 20
# A record with more fields than this past the header is left to the csv module.
_MAX_EXTRA_FIELDS = 64
# Records the fast path hands to the csv module, re-anchoring after each, before giving up on it.
_MAX_RESYNCS = 16
_SAMPLE_CHARS = 64 * 1024  # what the delimiter sniffer, header and mapping look at
_SAMPLE_RECORDS = 200
_MAX_CONTROL_SHARE = 0.05  # more control characters than this in the sample: binary

# Unicode White_Space: what polars' strip_chars() and the Rust regex \s mean by whitespace, so both
# parsers agree (Python's str.strip() would also strip the separators \x1c-\x1f).
_WHITESPACE = "".join(
    chr(code)
    for code in (
        *range(0x09, 0x0E),
        0x20,
        0x85,
        0xA0,
        0x1680,
        *range(0x2000, 0x200B),
        0x2028,
        0x2029,
        0x202F,
        0x205F,
        0x3000,
    )
)
_NOT_BLANK = r"\S"
_BLANK_TO_THE_END = re.compile(b"(?:" + b"|".join(re.escape(char.encode()) for char in _WHITESPACE) + rb")*\Z")
"""Matches where only blank lines are left (UTF-8 text): after the header, that is a file without data rows."""
_QUOTED_SECTION = '"[^"]*"'
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_NON_ASCII_BYTE = re.compile(rb"[\x80-\xff]")
_NON_ASCII_LETTER_RUN = re.compile(r"[^\W\d_a-zA-Z]{3,}")
_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])[^\x00-\x7f](?=[^\W\d_])")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class ProspectFileError(Exception):
    """The file cannot be read at all; str() names the file and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path.name}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True, eq=False)
class FileReadout:
    """What was read from one prospect file (eq=False: DataFrames have no truth value)."""

    path: Path
    encoding: str
    delimiter: str
    header: list[str]
    mapping: dict[str, str]
    rows: pl.DataFrame


def check_prospect_file(path: Path) -> None:
    """Raise ProspectFileError when :func:`read_prospect_file` would refuse the file as a whole.

    It decodes the file and looks at its first records only (a fraction of a full read), so a command or a
    sensor can refuse a file before anything is staged or run for it.
    """
    _open(Path(path))


def read_prospect_file(path: Path) -> FileReadout:
    """Read a prospect file; raise ProspectFileError only when it cannot be read at all.

    `rows` has one row per data record (blank lines are not records): `line_number` where the
    record starts (the header is line 1 unless blank lines precede it), `raw` its text without
    its final newline (cut to RAW_KEPT_CHARS characters and its length, see :func:`capped_raw`),
    `error` why it cannot be used (its fields are then null) and one column per CANONICAL_FIELDS
    entry, stripped, null when empty.

    Refused as a whole: an unreadable, empty or binary file, a header without data rows, a file
    whose rows use another delimiter than its header, two recognised columns of the same name and
    a file without any column naming a prospect.
    """
    path = Path(path)
    (payload, encoding, lines), layout, columns = _open(path)
    wanted = sorted(columns)
    cells = _read_fast(payload, layout, wanted, lines)
    del lines
    if cells is None:
        cells = _read_slow(payload.decode("utf-8"), layout, wanted)
    rows = _canonical_rows(cells, columns)
    if rows.is_empty():
        raise ProspectFileError(path, _only_a_header(layout))
    return FileReadout(
        path=path,
        encoding=encoding,
        delimiter=layout.delimiter,
        header=layout.header,
        mapping={layout.header[index]: field for index, (field, _) in columns.items()},
        rows=rows.with_columns(raw=capped_raw(pl.col("raw"))),
    )


RAW_KEPT_CHARS = 4000
"""What is kept of a record's raw text: a record longer than this (a hostile 50 MB line, say) keeps its
first RAW_KEPT_CHARS characters and its length, so that no file can bloat the store with its raw text."""


def capped_raw(raw: pl.Expr) -> pl.Expr:
    """``raw`` itself when short enough, else its first RAW_KEPT_CHARS characters + ``… [N characters in all]``."""
    length = raw.str.len_chars()
    cut = pl.concat_str(
        raw.str.slice(0, RAW_KEPT_CHARS), pl.lit("… ["), length.cast(pl.String), pl.lit(" characters in all]")
    )
    return pl.when(length > RAW_KEPT_CHARS).then(cut).otherwise(raw)


class _Opened(NamedTuple):
    text: _Text
    layout: _Layout
    columns: dict[int, tuple[str, int]]


def _open(path: Path) -> _Opened:
    """Decode the file, find its layout and map its columns, refusing a file that cannot be imported."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProspectFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not data or data.isspace():
        raise ProspectFileError(path, "empty file (no header row)" if not data else "blank file (no header row)")
    text = _decode(path, data)
    del data
    layout = _find_layout(path, text.payload)
    if not layout.sample and _BLANK_TO_THE_END.match(text.payload, layout.body_offset):
        raise ProspectFileError(path, _only_a_header(layout))
    _refuse_mixed_delimiters(path, layout)
    columns = _map_columns(layout.header, layout.sample_rows)
    if not _IDENTITY_FIELDS & {field for field, _ in columns.values()}:
        shown = ", ".join(name.strip()[:40] for name in layout.header[:20])
        more = ", …" if len(layout.header) > 20 else ""
        raise ProspectFileError(
            path,
            f"no recognisable column (need a name, company, LinkedIn URL or email column; found: {shown}{more})",
        )
    _refuse_duplicate_columns(path, layout.header, columns)
    return _Opened(text, layout, columns)


def _only_a_header(layout: _Layout) -> str:
    return f"no data rows: the file holds only a header (line {layout.header_line}), nothing to import"


# --- decoding ---------------------------------------------------------------------------------


class _Text(NamedTuple):
    """A file's text as UTF-8 bytes, which is what the parsers read (a str of a whole file is
    never kept: one emoji makes it four bytes a character), and its lines if already read."""

    payload: bytes
    encoding: str
    lines: pl.Series | None


def _decode(path: Path, data: bytes) -> _Text:
    """Decode by BOM, else strict UTF-8, else a legacy code page; reject binary content."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise ProspectFileError(path, f"not valid {encoding} text (bad bytes at byte {exc.start})") from None
            decoded = _Text(data[len(bom) :] if encoding == "utf-8-sig" else text.encode("utf-8"), encoding, None)
            break
    else:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise ProspectFileError(path, f"not a CSV file (binary content at byte {nul})")
        decoded = _decode_without_bom(data)
    payload, encoding, _ = decoded
    head = payload[:_SAMPLE_CHARS].decode("utf-8", errors="ignore")
    controls = _CONTROL.findall(head)
    nul = payload.find(b"\x00")
    if nul >= 0 or len(controls) > _MAX_CONTROL_SHARE * len(head):
        before = payload[:nul].decode("utf-8") if nul >= 0 else head[: head.index(controls[0])]
        offset = len(before.encode(encoding, errors="replace"))
        raise ProspectFileError(path, f"not a CSV file (binary content at byte {offset})")
    return decoded


def _decode_without_bom(data: bytes) -> _Text:
    """UTF-8 if valid; else cp1252 when it reads as Western text; else charset-normalizer's guess.

    charset-normalizer alone is unreliable on short Western European text (it reads
    "Prénom;Nom;Société / José;Peña" as cp1250, "François" as cp1006), and Excel on a Western
    Windows, by far the likeliest source of a non-UTF-8 prospect file, writes cp1252. So cp1252
    wins unless the text it gives looks like another script (runs of accented letters, as
    Cyrillic or Greek read as cp1252 produce, or symbols inside words, as Polish cp1250 does);
    then charset-normalizer decides. Latin-1 is the last resort: it decodes any byte.

    UTF-8 is checked by polars as it reads the lines, in parallel and twice as fast as Python's
    decoder; should polars fail, Python's decoder has the last word.
    """
    if not _classic_mac(data):
        try:
            return _Text(data, "utf-8", _line_bodies(data))
        except pl.exceptions.ComputeError:
            pass
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return _Text(data, "utf-8", None)
    sample = _non_ascii_lines(data)
    candidates = ["cp1252"] if _reads_as_western(sample) else [*_guess_encoding(sample), "cp1252"]
    for encoding in candidates:
        try:
            return _Text(data.decode(encoding).encode("utf-8"), encoding, None)
        except UnicodeDecodeError:
            continue
    return _Text(data.decode("latin-1").encode("utf-8"), "latin-1", None)


def _non_ascii_lines(data: bytes) -> bytes:
    """The lines holding non-ASCII bytes (up to the sample size): the only ones that tell code pages apart."""
    pieces: list[bytes] = []
    size = position = 0
    while size < _SAMPLE_CHARS:
        match = _NON_ASCII_BYTE.search(data, position)
        if match is None:
            break
        start = max(data.rfind(b"\n", 0, match.start()) + 1, match.start() - 2048)
        end = data.find(b"\n", match.end())
        end = min(len(data) if end < 0 else end + 1, match.end() + 2048)
        pieces.append(data[start:end])
        size += end - start
        position = end
    return b"".join(pieces)


def _reads_as_western(sample: bytes) -> bool:
    """Whether cp1252 turns the sample into plausible Western European text."""
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    odd = sum(len(run) for run in _NON_ASCII_LETTER_RUN.findall(text))
    odd += sum(1 for char in _BETWEEN_LETTERS.findall(text) if not char.isalpha() and char not in "’‘´")
    return odd <= 0.1 * non_ascii


def _guess_encoding(sample: bytes) -> list[str]:
    """charset-normalizer's best guess, as a Python codec name, if it has one."""
    best = charset_normalizer.from_bytes(sample).best()
    return [] if best is None else [codecs.lookup(best.encoding).name]


# --- layout: delimiter, header, sample --------------------------------------------------------


class _Record(NamedTuple):
    """One record of the file: physical lines [start, end), its fields or why it has none."""

    start: int
    end: int
    fields: list[str] | None
    error: str | None
    raw: str  # its text, without the final line break


class _Layout(NamedTuple):
    delimiter: str
    header: list[str]
    header_line: int  # the line number (from 1) where the header starts
    body_start: int  # index of the first physical line after the header
    body_offset: int  # the same, as a byte offset in the UTF-8 text
    sample: list[_Record]  # the first data records, parsed or broken

    @property
    def sample_rows(self) -> list[list[str]]:
        """The sample's records that parsed, for the column mapping."""
        return [record.fields for record in self.sample if record.fields is not None]


def _find_layout(path: Path, payload: bytes) -> _Layout:
    """Find the delimiter and header from the first lines of the file.

    Leading blank lines and Excel's "sep=;" line are skipped. Each candidate delimiter parses the
    sample; the one whose records most often have as many fields as its header wins, then the one
    giving the widest header. A header without any candidate delimiter is a single column.
    """
    end = payload.find(b"\n", _SAMPLE_CHARS)  # the sample ends with a whole line
    if end < 0:
        end = payload.find(b"\r", _SAMPLE_CHARS)  # classic Mac line breaks
    complete = end < 0
    lines = _split_lines((payload if complete else payload[: end + 1]).decode("utf-8"))
    start, hinted = _skip_preamble(lines)
    best: tuple[tuple[float, int], str, list[_Record]] | None = None
    for delimiter in (hinted,) if hinted else _DELIMITERS:
        records = list(islice(_csv_records(lines, start, delimiter, None), _SAMPLE_RECORDS))
        if not complete and 1 < len(records) < _SAMPLE_RECORDS:
            records.pop()  # may have been cut by the end of the sample
        if not records or records[0].fields is None:
            score = (-1.0, 0)
        else:
            width = len(records[0].fields)
            data = [record for record in records[1:] if record.fields is not None]
            consistent = sum(len(record.fields or ()) == width for record in data) / len(data) if data else 1.0
            score = (consistent, width) if width > 1 or hinted else (-1.0, width)
        if best is None or score > best[0]:
            best = (score, delimiter, records)
    assert best is not None
    _, delimiter, records = best
    if not records:
        raise ProspectFileError(path, "no header row")
    header = records[0]
    if header.fields is None:
        raise ProspectFileError(path, f"header row (line {header.start + 1}) cannot be read: {header.error}")
    return _Layout(
        delimiter=delimiter,
        header=header.fields,
        header_line=header.start + 1,
        body_start=header.end,
        body_offset=len("".join(lines[: header.end]).encode("utf-8")),
        sample=records[1:],
    )


_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def _refuse_mixed_delimiters(path: Path, layout: _Layout) -> None:
    """Refuse a file whose header is split by one delimiter and most of its rows by another.

    Read with the header's delimiter, such rows are one field each, and every one of them would be
    rejected for a misleading reason ("no company"). It takes half the sampled rows being one field
    that another delimiter splits, so that a few short rows never refuse a file.
    """
    if len(layout.header) < 2 or not layout.sample:
        return
    single = [record for record in layout.sample if record.fields is not None and len(record.fields) == 1]
    if 2 * len(single) < len(layout.sample):
        return
    split_by = {
        other: [record for record in single if _splits(record.raw, other)]
        for other in _DELIMITERS
        if other != layout.delimiter
    }
    other, rows = max(split_by.items(), key=lambda item: len(item[1]))
    if 2 * len(rows) >= len(layout.sample):
        raise ProspectFileError(
            path,
            f"inconsistent delimiter: the header (line {layout.header_line}) is separated by "
            f"{_DELIMITER_NAMES[layout.delimiter]} but the rows by {_DELIMITER_NAMES[other]} "
            f"(from line {rows[0].start + 1}); save the file again with one delimiter",
        )


def _splits(raw: str, delimiter: str) -> bool:
    """Whether the csv module reads ``raw`` as two non-blank fields or more under ``delimiter``."""
    try:
        records = list(csv.reader(_split_lines(raw), delimiter=delimiter))
    except csv.Error:
        return False
    return any(sum(1 for field in fields if field.strip(_WHITESPACE)) > 1 for fields in records)


def _refuse_duplicate_columns(path: Path, header: Sequence[str], columns: dict[int, tuple[str, int]]) -> None:
    """Refuse two recognised columns of the same name: which one holds the value would be a guess.

    Names compare as the mapping compares them ("E-mail" = "email"). Columns the import does not read
    (unrecognised ones, Excel's unnamed trailing columns) may repeat.
    """
    seen: dict[str, int] = {}
    for index in sorted(columns):
        key = _header_key(header[index])
        if key in seen:
            first = seen[key]
            raise ProspectFileError(
                path,
                f"duplicate column: {header[first].strip()!r} (column {first + 1}) and {header[index].strip()!r} "
                f"(column {index + 1}) name the same field; rename or remove one",
            )
        seen[key] = index


def _skip_preamble(lines: Sequence[str]) -> tuple[int, str | None]:
    """Index of the first line after leading blank lines and a "sep=X" line, and X if given."""
    index = 0
    while index < len(lines) and not lines[index].strip(_WHITESPACE):
        index += 1
    if index < len(lines):
        hint = lines[index].strip(_WHITESPACE)
        if len(hint) == 5 and hint[:4].lower() == "sep=" and hint[4] in _DELIMITERS:
            return index + 1, hint[4]
    return index, None


# --- column mapping ---------------------------------------------------------------------------


def _header_key(name: str) -> str:
    """A header without case, accents, spaces or punctuation."""
    return "".join(char for char in unicodedata.normalize("NFKD", name) if char.isalnum()).casefold()


_SYNONYM_KEYS = {
    _header_key(name): (field, rank) for field, names in _SYNONYMS.items() for rank, name in enumerate(names)
}


def _map_columns(header: Sequence[str], sample_rows: Sequence[Sequence[str]]) -> dict[int, tuple[str, int]]:
    """Column index -> (canonical field, preference rank) for every recognised header.

    A website-like column ("URL", "Company URL", even "Website") whose sample values are mostly
    LinkedIn links is not a website: a person's profile link makes it a LinkedIn URL column
    (ranked after the named ones), a company page (PhantomBuster's companyUrl) leaves it unmapped.
    """
    columns: dict[int, tuple[str, int]] = {}
    for index, name in enumerate(header):
        found = _SYNONYM_KEYS.get(_header_key(name))
        if found is None:
            continue
        if found[0] == "website":
            values = [row[index].lower() for row in sample_rows if index < len(row) and row[index].strip()]
            linkedin = [value for value in values if "linkedin." in value]
            if values and len(linkedin) * 2 > len(values):
                if any("/company/" in value or "/school/" in value for value in linkedin):
                    continue
                found = ("linkedin_url", len(_SYNONYMS["linkedin_url"]))
        columns[index] = found
    return columns


# --- the slow path: Python's csv module, line by line -----------------------------------------


class _RunawayRecord(Exception):
    """A record needed more than _MAX_RECORD_LINES physical lines."""


class _LineFeed:
    """Feeds physical lines to csv.reader, remembering where the current record started."""

    def __init__(self, lines: Sequence[str], start: int) -> None:
        self.lines = lines
        self.position = start
        self.record_start = start
        self.exhausted = False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            self.exhausted = True
            raise StopIteration
        if self.position - self.record_start >= _MAX_RECORD_LINES:
            raise _RunawayRecord
        line = self.lines[self.position]
        self.position += 1
        return line


def _csv_records(
    lines: Sequence[str], start: int, delimiter: str, width: int | None, offset: int = 0
) -> Iterator[_Record]:
    """Parse records from physical lines (with their line endings), skipping blank lines.

    Resynchronisation after a stray quote: a record is broken when its quoted field is still open
    after _MAX_RECORD_LINES lines or at the end of the file, or when it spans several lines and
    ends up with more non-empty fields than the header (an opening stray quote closed by the next
    quote of a later line). Its first line then becomes a bad record and parsing resumes on the
    line after it, so a stray quote costs one line and never swallows the rest of the file.
    `width` is the header's field count (None: the first record is the header); `offset` is the
    number of file lines before lines[0], for the messages.
    """
    position = start
    while position < len(lines):
        feed = _LineFeed(lines, position)
        problem: str | None = None
        try:
            for fields in csv.reader(feed, delimiter=delimiter):
                first, end = feed.record_start, feed.position
                if feed.exhausted:
                    problem = f"unclosed quote: the quoted field starting on line {offset + first + 1} never closes"
                elif width is not None and end - first > 1 and _extra_fields(fields, width):
                    problem = (
                        f"unbalanced quote: the quoted field starting on line {offset + first + 1} runs over "
                        f"{end - first} lines into {len(fields)} fields, header has {width}"
                    )
                if problem:
                    break
                feed.record_start = end
                if end - first == 1 and not lines[first].strip(_WHITESPACE):
                    continue
                if width is None:
                    width = len(fields)
                text = lines[first] if end - first == 1 else "".join(lines[first:end])
                yield _Record(first, end, fields, None, _without_line_end(text))
        except _RunawayRecord:
            problem = (
                f"unclosed quote: the quoted field starting on line {offset + feed.record_start + 1} "
                f"is still open after {_MAX_RECORD_LINES} lines"
            )
        except csv.Error as exc:
            problem = f"unreadable record: {exc}"
        if problem is None:
            return
        bad = feed.record_start
        yield _Record(bad, bad + 1, None, problem, _without_line_end(lines[bad]))
        position = bad + 1


def _extra_fields(fields: Sequence[str], width: int) -> bool:
    """Whether a record has non-empty fields beyond the header's width (empty ones are harmless)."""
    return any(field.strip(_WHITESPACE) for field in fields[width:])


def _split_lines(text: str) -> list[str]:
    """Physical lines with their endings: \\r\\n, \\n or a lone \\r ends a line (as in editors).

    str.splitlines() is fast but also breaks at \\v, \\f, \\x1c-\\x1e, \\x85, \\u2028 and \\u2029,
    which are text in a CSV file: the pieces it cuts there are joined back.
    """
    lines: list[str] = []
    pending = ""
    for piece in text.splitlines(keepends=True):
        if piece.endswith(("\n", "\r")):
            lines.append(pending + piece)
            pending = ""
        else:
            pending += piece
    if pending:
        lines.append(pending)
    return lines


def _without_line_end(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith(("\n", "\r")) else text


def _read_slow(text: str, layout: _Layout, wanted: Sequence[int]) -> pl.DataFrame:
    """Parse the data records with the csv module (the reference behaviour).

    The cyclic garbage collector is paused meanwhile: the csv module allocates a list per record,
    none in a cycle, and the collector rescanning millions of them would double the time taken.
    """
    lines = _split_lines(text)
    del text
    width = len(layout.header)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _cells(_csv_records(lines, layout.body_start, layout.delimiter, width), width, wanted)
    finally:
        if collecting:
            gc.enable()


def _cells(records: Iterable[_Record], width: int, wanted: Sequence[int]) -> pl.DataFrame:
    """line_number, raw, error and the wanted columns (c0, c1...) of records read by the csv module.

    Built 100,000 records at a time: polars holds text far more compactly than Python objects.
    """
    chunks = [_no_cells(wanted)]
    iterator = iter(records)
    while batch := list(islice(iterator, 100_000)):
        fields = [record.fields or [] for record in batch]
        columns = list(zip_longest(*fields))  # transposed, short records padded with None
        errors = [
            record.error
            or (f"ragged row: {len(row)} fields, header has {width}" if _extra_fields(row, width) else None)
            for record, row in zip(batch, fields, strict=True)
        ]
        chunks.append(
            pl.DataFrame(
                {
                    "line_number": pl.Series([record.start + 1 for record in batch], dtype=pl.Int64),
                    "raw": pl.Series([record.raw for record in batch], dtype=pl.String),
                    "error": pl.Series(errors, dtype=pl.String),
                    **{
                        f"c{index}": pl.Series(
                            columns[index] if index < len(columns) else [None] * len(batch), dtype=pl.String
                        )
                        for index in wanted
                    },
                }
            )
        )
    return pl.concat(chunks)


def _no_cells(wanted: Sequence[int]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={"line_number": pl.Int64, "raw": pl.String, "error": pl.String}
        | {f"c{index}": pl.String for index in wanted}
    )


# --- the fast path: polars --------------------------------------------------------------------


def _strict_record(delimiter: str) -> str:
    """A (Rust) regex matching a record whose quotes all follow RFC 4180."""
    other = {"\t": "\\t", "|": "\\|"}.get(delimiter, delimiter)
    field = f'(?:"(?:[^"]|"")*"|[^"{other}]*)'
    return f"^{field}(?:{other}{field})*$"


def _read_fast(
    payload: bytes, layout: _Layout, wanted: Sequence[int], lines_read: pl.Series | None = None
) -> pl.DataFrame | None:
    """Parse the data records with polars, or None when the file needs the slow path.

    Records are found from quote parity: a line with an odd number of quotes opens or closes a
    quoted field, so a record runs until the count of quotes seen is even again. That is exactly
    what the csv module does when every quote follows RFC 4180 (checked per record) and a record
    spans at most _MAX_RECORD_LINES lines. At the first record that is not so (a stray quote,
    say), the csv module reads that one record, and parity restarts after it: a few broken lines
    cost a few re-anchorings, not the whole file. The slow path remains for files with lone
    carriage returns or more than _MAX_RESYNCS such records.
    """
    if _classic_mac(payload):
        return None
    lines = _Lines(payload, layout.delimiter, len(layout.header), lines_read)
    if lines.lone_carriage_return:
        return None
    pieces: list[pl.DataFrame] = []
    read_by_csv: list[_Record] = []
    anchor = layout.body_start
    while anchor < lines.count:
        records, bad = lines.records_from(anchor)
        pieces.append(records)
        if bad is None:
            break
        if len(read_by_csv) == _MAX_RESYNCS:
            return None
        read_by_csv.append(lines.csv_record(bad, layout))
        anchor = read_by_csv[-1].end
    records = pl.concat(pieces) if pieces else _no_records()
    if records.is_empty():
        cells: pl.DataFrame | None = _no_cells(wanted)
    elif len(pieces) == 1 and not read_by_csv and not lines.blank_after(layout.body_start):
        cells = _parse_records(payload[layout.body_offset :], records, layout, wanted)
    else:
        cells = _parse_records(records["raw"].str.join("\n").cast(pl.Binary).item(), records, layout, wanted)
    if cells is None or not read_by_csv:
        return cells
    return pl.concat([cells, _cells(read_by_csv, len(layout.header), wanted)]).sort("line_number")


class _Lines:
    """The payload's physical lines (split at \\n) as polars reads them, and what each tells."""

    def __init__(self, payload: bytes, delimiter: str, width: int, bodies: pl.Series | None) -> None:
        self.payload = payload
        self.delimiter = delimiter
        self.width = width
        body = pl.col("body")
        frame = (_line_bodies(payload) if bodies is None else bodies).to_frame().with_row_index("index")
        self.count = frame.height
        frame = frame.with_columns(  # in parallel
            parity=(body.str.count_matches('"', literal=True) % 2).cum_sum() % 2 == 1,
            blank=~body.str.contains(_NOT_BLANK),
            delimiters=body.str.count_matches(delimiter, literal=True),
            # whether the line, as a record of its own, is one polars reads as the csv module does
            ok=body.str.contains(_strict_record(delimiter)) & (body.str.len_bytes() <= csv.field_size_limit()),
            lone_cr=body.str.contains("\r", literal=True),
        )
        self.lone_carriage_return = bool(frame["lone_cr"].any())
        # A line of very many delimiters must not hold more than _MAX_EXTRA_FIELDS fields past the
        # header (quoted delimiters aside), or polars would need that many columns.
        too_wide = (
            frame.filter(pl.col("delimiters") >= width + _MAX_EXTRA_FIELDS)
            .filter(_field_count(body, delimiter) > width + _MAX_EXTRA_FIELDS)["index"]
            .implode()
        )
        self.frame = frame.with_columns(ok=pl.col("ok") & ~pl.col("index").is_in(too_wide))

    def blank_after(self, start: int) -> bool:
        """Whether any line from `start` on is blank (or only whitespace)."""
        return bool(self.frame["blank"].slice(start).any())

    def records_from(self, anchor: int) -> tuple[pl.DataFrame, int | None]:
        """Records from line `anchor` (where the csv module would start one) up to the first one it
        must read itself, and that record's first line (None when there is none)."""
        flipped = anchor > 0 and bool(self.frame["parity"][anchor - 1])
        lines = (
            self.frame.slice(anchor)
            .with_columns(open_after=pl.col("parity") != flipped)
            .with_columns(continues=pl.col("open_after").shift(1, fill_value=False))
            .filter(~pl.col("blank") | pl.col("continues"))
            .with_columns(start=pl.when(~pl.col("continues")).then(pl.col("index")).forward_fill())
        )
        # The first record whose lines alone show it unsound: a line on its own that is not, a
        # record spanning too many lines, the last one left open at the end of the file. Records
        # past it are not looked at: parity may mean nothing there.
        alone = ~pl.col("continues") & ~pl.col("continues").shift(-1, fill_value=False)
        unsound = lines.filter(
            (alone & ~pl.col("ok"))
            | (pl.col("index") - pl.col("start") >= _MAX_RECORD_LINES)
            | (pl.col("open_after") & (pl.int_range(pl.len()) == pl.len() - 1))
        )["start"].min()
        if unsound is not None:
            lines = lines.filter(pl.col("index") < unsound)
        records = self._group(lines)
        starts = [] if unsound is None else [int(unsound)]  # type: ignore[arg-type]
        unsound_spanning = records.filter(~pl.col("ok"))["line_number"].min()
        if unsound_spanning is not None:
            starts.append(int(unsound_spanning) - 1)  # type: ignore[arg-type]
        if not starts:
            return records.drop("ok"), None
        return records.filter(pl.col("line_number") <= min(starts)).drop("ok"), min(starts)

    def _group(self, lines: pl.DataFrame) -> pl.DataFrame:
        """line_number, raw, line count, delimiter count and soundness of each record, from its lines."""
        spanning = lines.filter(pl.col("continues"))["start"].unique().implode()
        single = lines.filter(~pl.col("start").is_in(spanning)).select(
            line_number=pl.col("index").cast(pl.Int64) + 1,
            raw=pl.col("body"),
            delimiters=pl.col("delimiters"),
            ok=pl.lit(value=True),
        )
        multi = lines.filter(pl.col("start").is_in(spanning))
        if multi.is_empty():
            return single
        multi = (
            multi.with_columns(ending=self.endings.gather(multi["index"]))
            .group_by("start", maintain_order=True)
            .agg(
                line_number=pl.col("index").first().cast(pl.Int64) + 1,
                raw=pl.concat_str("body", "ending").str.join("").str.strip_suffix("\n").str.strip_suffix("\r"),
                delimiters=pl.col("delimiters").sum(),
            )
            .select(
                "line_number",
                "raw",
                "delimiters",
                # A record spanning lines with fields past the header may be two stray quotes
                # pairing up, which the csv module resolves; a trailing delimiter is fine.
                ok=(pl.col("raw").str.len_bytes() <= csv.field_size_limit())
                & pl.col("raw").str.contains(_strict_record(self.delimiter))
                & (
                    _field_count(pl.col("raw"), self.delimiter)
                    <= self.width + pl.col("raw").str.ends_with(self.delimiter).cast(pl.UInt32)
                ),
            )
        )
        return pl.concat([single, multi]).sort("line_number")

    @cached_property
    def endings(self) -> pl.Series:
        """The line break ending each line, "\\n" or "\\r\\n" (polars drops the CR).

        Needed only to rebuild the exact text of records spanning lines. Counting carriage returns
        settles files with one kind of line break throughout; others (Excel's CRLF rows with LF
        inside cells) are split again in Python.
        """
        carriage_returns = self.payload.count(b"\r")
        newlines = self.count - (not self.payload.endswith(b"\n"))
        if carriage_returns in {0, newlines} and not self.payload.endswith(b"\r"):
            return pl.repeat("\r\n" if carriage_returns else "\n", self.count, dtype=pl.String, eager=True)
        crlf = pl.Series(self.payload.split(b"\n")[: self.count], dtype=pl.Binary).bin.ends_with(b"\r")
        return pl.select(pl.when(crlf).then(pl.lit("\r\n")).otherwise(pl.lit("\n"))).to_series()

    @cached_property
    def offsets(self) -> pl.Series:
        """The byte offset where each line starts, and one past the last."""
        lengths = self.frame["body"].str.len_bytes().cast(pl.Int64) + self.endings.str.len_bytes()
        return pl.concat([pl.Series([0], dtype=pl.Int64), lengths.cum_sum()])

    def csv_record(self, start: int, layout: _Layout) -> _Record:
        """The record starting on line `start`, read by the csv module (a broken one: that line).

        It reads one line more than a record may span, so that a runaway quote is told from the
        end of the file.
        """
        stop = min(start + _MAX_RECORD_LINES + 1, self.count)
        text = self.payload[self.offsets[start] : self.offsets[stop]].decode("utf-8")
        record = next(_csv_records(_split_lines(text), 0, layout.delimiter, len(layout.header), start))
        return record._replace(start=record.start + start, end=record.end + start)


def _classic_mac(payload: bytes) -> bool:
    """Whether lines end with a lone CR only: polars, splitting at LF, would see one huge line."""
    return b"\n" not in payload and b"\r" in payload


def _line_bodies(payload: bytes) -> pl.Series:
    """Every physical line split at \\n, without its \\n or \\r\\n ("" for an empty line).

    polars.read_csv with no quote character and a separator absent from the text (NUL: binary
    files were rejected) reads whole lines, in parallel, keeping blank ones as nulls.
    """
    if not payload:
        return pl.Series("body", [], dtype=pl.String)
    lines = pl.read_csv(payload, has_header=False, separator="\x00", quote_char=None, infer_schema=False)
    return lines.to_series().fill_null("").alias("body")


def _no_records() -> pl.DataFrame:
    return pl.DataFrame(schema={"line_number": pl.Int64, "raw": pl.String, "delimiters": pl.UInt32})


def _parse_records(source: bytes, records: pl.DataFrame, layout: _Layout, wanted: Sequence[int]) -> pl.DataFrame | None:
    """Parse the records' fields with polars.read_csv, under a made-up header wide enough for all.

    polars silently drops the fields past the columns it is asked for, so the header is as wide
    as the most delimiters a record holds (an upper bound on its fields, cheap to count) but no
    wider than _MAX_EXTRA_FIELDS past the real one (records were checked against that), with room
    for a trailing delimiter; the columns past the real header reveal ragged records.
    """
    width = len(layout.header)
    delimiters = int(records["delimiters"].max())  # type: ignore[arg-type]
    widest = max(width + 1, min(delimiters + 1, width + _MAX_EXTRA_FIELDS))
    names = [f"c{index}" for index in range(widest)]
    try:
        cells = pl.read_csv(
            layout.delimiter.join(names).encode() + b"\n" + source,
            separator=layout.delimiter,
            quote_char='"',
            infer_schema=False,
            columns=[names[index] for index in wanted] + names[width:],
        )
    except pl.exceptions.PolarsError:
        return None
    if cells.height != records.height:
        return None
    extra = names[width:]
    ragged = cells.select(pl.any_horizontal(pl.col(extra).str.contains(_NOT_BLANK).fill_null(False))).to_series()
    error = pl.repeat(None, records.height, dtype=pl.String, eager=True).alias("error")
    if ragged.any():
        fields = records.filter(ragged).select(_field_count(pl.col("raw"), layout.delimiter).cast(pl.String))
        error = error.scatter(ragged.arg_true(), "ragged row: " + fields.to_series() + f" fields, header has {width}")
    return pl.concat([records.select("line_number", "raw"), error.to_frame(), cells.drop(extra)], how="horizontal")


def _field_count(raw: pl.Expr, delimiter: str) -> pl.Expr:
    """Fields per record: delimiters outside quoted sections, plus one."""
    return raw.str.replace_all(_QUOTED_SECTION, "").str.count_matches(delimiter, literal=True) + 1


# --- canonical columns ------------------------------------------------------------------------


def _canonical_rows(cells: pl.DataFrame, columns: dict[int, tuple[str, int]]) -> pl.DataFrame:
    """One column per canonical field: its columns' first non-empty stripped value, by preference."""
    names = [f"c{index}" for index in columns]
    cells = cells.with_columns(pl.col(names).str.strip_chars()).with_columns(
        pl.when(pl.col(name) != "").then(pl.col(name)).alias(name) for name in names
    )
    sources: dict[str, list[tuple[int, int]]] = {}
    for index, (field, rank) in columns.items():
        sources.setdefault(field, []).append((rank, index))
    values = []
    for field in CANONICAL_FIELDS:
        candidates = [f"c{index}" for _, index in sorted(sources.get(field, []))]
        value = pl.coalesce(candidates) if candidates else pl.lit(None, dtype=pl.String)
        values.append(pl.when(pl.col("error").is_null()).then(value).alias(field))
    return cells.select("line_number", "raw", "error", *values)
