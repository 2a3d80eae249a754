"""Read a prospect file (a LinkedIn Sales Navigator export or any CSV) into one table.

The reader never guesses silently and never drops a record: every data record of the file
comes back as exactly one row, either usable or carrying the reason it is not, together with
its starting line number and its original text, so that the import can report and keep it.
A file that cannot be imported as a whole is refused with the reason, naming the file.

Where each part lives: bytes to text (encodings, binary refusal) in :mod:`text_decoding`; which
column means which field in :mod:`prospect_columns`; text to records in :mod:`csv_records`, where
Python's `csv` module, driven line by line, defines what the records are (the reference), and
:mod:`csv_records_fast`, a vectorised reader built on polars that gives the same result on the
records where the two provably agree, which in a real export is nearly all of them, and hands
the others, one at a time, to the csv module. Whole files go to the reference only in rare cases
(lone carriage returns as line breaks, many broken records).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import polars as pl

from jengu_pipeline.domain.csv_records import (
    DELIMITERS,
    WHITESPACE,
    Layout,
    NoHeader,
    find_layout,
    read_slow,
    split_lines,
)
from jengu_pipeline.domain.csv_records_fast import read_fast
from jengu_pipeline.domain.prospect_columns import (
    CANONICAL_FIELDS,
    IDENTITY_FIELDS,
    Columns,
    duplicate_columns,
    map_columns,
)
from jengu_pipeline.domain.text_decoding import DecodedText, NotText, decode

__all__ = [
    "CANONICAL_FIELDS",
    "RAW_KEPT_CHARS",
    "FileReadout",
    "ProspectFileError",
    "check_prospect_file",
    "read_prospect_file",
]

_BLANK_TO_THE_END = re.compile(b"(?:" + b"|".join(re.escape(char.encode()) for char in WHITESPACE) + rb")*\Z")
"""Matches where only blank lines are left (UTF-8 text): after the header, that is a file without data rows."""


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
    cells = read_fast(payload, layout, wanted, lines)
    del lines
    if cells is None:
        cells = read_slow(payload.decode("utf-8"), layout, wanted)
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
    text: DecodedText
    layout: Layout
    columns: Columns


def _open(path: Path) -> _Opened:
    """Decode the file, find its layout and map its columns, refusing a file that cannot be imported."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProspectFileError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not data or data.isspace():
        raise ProspectFileError(path, "empty file (no header row)" if not data else "blank file (no header row)")
    try:
        text = decode(data)
        del data
        layout = find_layout(text.payload)
    except (NotText, NoHeader) as problem:
        raise ProspectFileError(path, str(problem)) from None
    if not layout.sample and _BLANK_TO_THE_END.match(text.payload, layout.body_offset):
        raise ProspectFileError(path, _only_a_header(layout))
    _refuse_mixed_delimiters(path, layout)
    columns = map_columns(layout.header, layout.sample_rows)
    if not IDENTITY_FIELDS & {field for field, _ in columns.values()}:
        shown = ", ".join(name.strip()[:40] for name in layout.header[:20])
        more = ", …" if len(layout.header) > 20 else ""
        raise ProspectFileError(
            path,
            f"no recognisable column (need a name, company, LinkedIn URL or email column; found: {shown}{more})",
        )
    _refuse_duplicate_columns(path, layout.header, columns)
    return _Opened(text, layout, columns)


def _only_a_header(layout: Layout) -> str:
    return f"no data rows: the file holds only a header (line {layout.header_line}), nothing to import"


_DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}


def _refuse_mixed_delimiters(path: Path, layout: Layout) -> None:
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
        for other in DELIMITERS
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
        records = list(csv.reader(split_lines(raw), delimiter=delimiter))
    except csv.Error:
        return False
    return any(sum(1 for field in fields if field.strip(WHITESPACE)) > 1 for fields in records)


def _refuse_duplicate_columns(path: Path, header: Sequence[str], columns: Columns) -> None:
    """Refuse two recognised columns of the same name: which one holds the value would be a guess."""
    twice = duplicate_columns(header, columns)
    if twice is not None:
        first, second = twice
        raise ProspectFileError(
            path,
            f"duplicate column: {header[first].strip()!r} (column {first + 1}) and {header[second].strip()!r} "
            f"(column {second + 1}) name the same field; rename or remove one",
        )


# --- canonical columns ------------------------------------------------------------------------


def _canonical_rows(cells: pl.DataFrame, columns: Columns) -> pl.DataFrame:
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
