"""The records of a CSV text, as Python's csv module reads them line by line: the reference reader.

Finding the layout (delimiter, header, a sample of records) and reading every record, with its first line
number, its text and why it is broken when it is: a stray quote costs one record, never the rest of the file.
The fast path (:mod:`csv_records_fast`) must agree with this one wherever it answers.
"""

from __future__ import annotations

import csv
import gc
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice, zip_longest
from typing import NamedTuple

import polars as pl

DELIMITERS = (",", ";", "\t", "|")
# A quoted field still open after this many physical lines is taken for a stray quote.
MAX_RECORD_LINES = 20
# A record with more fields than this past the header is left to the csv module.
MAX_EXTRA_FIELDS = 64
_SAMPLE_CHARS = 64 * 1024  # what the delimiter sniffer, header and mapping look at
_SAMPLE_RECORDS = 200

# Unicode White_Space: what polars' strip_chars() and the Rust regex \s mean by whitespace, so both
# parsers agree (Python's str.strip() would also strip the separators \x1c-\x1f).
WHITESPACE = "".join(
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
NOT_BLANK = r"\S"


class NoHeader(ValueError):
    """The text has no header row that can be read; str() says why."""


class Record(NamedTuple):
    """One record of the file: physical lines [start, end), its fields or why it has none."""

    start: int
    end: int
    fields: list[str] | None
    error: str | None
    raw: str  # its text, without the final line break


class Layout(NamedTuple):
    delimiter: str
    header: list[str]
    header_line: int  # the line number (from 1) where the header starts
    body_start: int  # index of the first physical line after the header
    body_offset: int  # the same, as a byte offset in the UTF-8 text
    sample: list[Record]  # the first data records, parsed or broken

    @property
    def sample_rows(self) -> list[list[str]]:
        """The sample's records that parsed, for the column mapping."""
        return [record.fields for record in self.sample if record.fields is not None]


def find_layout(payload: bytes) -> Layout:
    """Find the delimiter and header from the first lines of the file.

    Leading blank lines and Excel's "sep=;" line are skipped. Each candidate delimiter parses the
    sample; the one whose records most often have as many fields as its header wins, then the one
    giving the widest header. A header without any candidate delimiter is a single column.
    """
    end = payload.find(b"\n", _SAMPLE_CHARS)  # the sample ends with a whole line
    if end < 0:
        end = payload.find(b"\r", _SAMPLE_CHARS)  # classic Mac line breaks
    complete = end < 0
    lines = split_lines((payload if complete else payload[: end + 1]).decode("utf-8"))
    start, hinted = _skip_preamble(lines)
    best: tuple[tuple[float, int], str, list[Record]] | None = None
    for delimiter in (hinted,) if hinted else DELIMITERS:
        records = list(islice(records_of(lines, start, delimiter, None), _SAMPLE_RECORDS))
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
        raise NoHeader("no header row")
    header = records[0]
    if header.fields is None:
        raise NoHeader(f"header row (line {header.start + 1}) cannot be read: {header.error}")
    return Layout(
        delimiter=delimiter,
        header=header.fields,
        header_line=header.start + 1,
        body_start=header.end,
        body_offset=len("".join(lines[: header.end]).encode("utf-8")),
        sample=records[1:],
    )


def _skip_preamble(lines: Sequence[str]) -> tuple[int, str | None]:
    """Index of the first line after leading blank lines and a "sep=X" line, and X if given."""
    index = 0
    while index < len(lines) and not lines[index].strip(WHITESPACE):
        index += 1
    if index < len(lines):
        hint = lines[index].strip(WHITESPACE)
        if len(hint) == 5 and hint[:4].lower() == "sep=" and hint[4] in DELIMITERS:
            return index + 1, hint[4]
    return index, None


# --- reading every record ---------------------------------------------------------------------------


class _RunawayRecord(Exception):
    """A record needed more than MAX_RECORD_LINES physical lines."""


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
        if self.position - self.record_start >= MAX_RECORD_LINES:
            raise _RunawayRecord
        line = self.lines[self.position]
        self.position += 1
        return line


def records_of(
    lines: Sequence[str], start: int, delimiter: str, width: int | None, offset: int = 0
) -> Iterator[Record]:
    """Parse records from physical lines (with their line endings), skipping blank lines.

    Resynchronisation after a stray quote: a record is broken when its quoted field is still open
    after MAX_RECORD_LINES lines or at the end of the file, or when it spans several lines and
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
                elif width is not None and end - first > 1 and extra_fields(fields, width):
                    problem = (
                        f"unbalanced quote: the quoted field starting on line {offset + first + 1} runs over "
                        f"{end - first} lines into {len(fields)} fields, header has {width}"
                    )
                if problem:
                    break
                feed.record_start = end
                if end - first == 1 and not lines[first].strip(WHITESPACE):
                    continue
                if width is None:
                    width = len(fields)
                text = lines[first] if end - first == 1 else "".join(lines[first:end])
                yield Record(first, end, fields, None, _without_line_end(text))
        except _RunawayRecord:
            problem = (
                f"unclosed quote: the quoted field starting on line {offset + feed.record_start + 1} "
                f"is still open after {MAX_RECORD_LINES} lines"
            )
        except csv.Error as exc:
            problem = f"unreadable record: {exc}"
        if problem is None:
            return
        bad = feed.record_start
        yield Record(bad, bad + 1, None, problem, _without_line_end(lines[bad]))
        position = bad + 1


def extra_fields(fields: Sequence[str], width: int) -> bool:
    """Whether a record has non-empty fields beyond the header's width (empty ones are harmless)."""
    return any(field.strip(WHITESPACE) for field in fields[width:])


def split_lines(text: str) -> list[str]:
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


def read_slow(text: str, layout: Layout, wanted: Sequence[int]) -> pl.DataFrame:
    """Parse the data records with the csv module (the reference behaviour).

    The cyclic garbage collector is paused meanwhile: the csv module allocates a list per record,
    none in a cycle, and the collector rescanning millions of them would double the time taken.
    """
    lines = split_lines(text)
    del text
    width = len(layout.header)
    collecting = gc.isenabled()
    gc.disable()
    try:
        return record_cells(records_of(lines, layout.body_start, layout.delimiter, width), width, wanted)
    finally:
        if collecting:
            gc.enable()


def record_cells(records: Iterable[Record], width: int, wanted: Sequence[int]) -> pl.DataFrame:
    """line_number, raw, error and the wanted columns (c0, c1...) of records read by the csv module.

    Built 100,000 records at a time: polars holds text far more compactly than Python objects.
    """
    chunks = [no_cells(wanted)]
    iterator = iter(records)
    while batch := list(islice(iterator, 100_000)):
        fields = [record.fields or [] for record in batch]
        columns = list(zip_longest(*fields))  # transposed, short records padded with None
        errors = [
            record.error or (f"ragged row: {len(row)} fields, header has {width}" if extra_fields(row, width) else None)
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


def no_cells(wanted: Sequence[int]) -> pl.DataFrame:
    return pl.DataFrame(
        schema={"line_number": pl.Int64, "raw": pl.String, "error": pl.String}
        | {f"c{index}": pl.String for index in wanted}
    )
