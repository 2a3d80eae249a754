"""The records of a CSV text read by polars, in parallel: the same records as :mod:`csv_records` gives wherever
this path answers, which in a real export is nearly everywhere.

Records are found from quote parity, each checked to follow RFC 4180; a record that does not is handed to the
csv module and parity restarts after it. Files with lone carriage returns or many broken records are left to
the csv module whole (``read_fast`` returns None).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from functools import cached_property

import polars as pl

from jengu_pipeline.domain.csv_records import (
    MAX_EXTRA_FIELDS,
    MAX_RECORD_LINES,
    NOT_BLANK,
    Layout,
    Record,
    no_cells,
    record_cells,
    records_of,
    split_lines,
)
from jengu_pipeline.domain.text_decoding import classic_mac, line_bodies

# Records the fast path hands to the csv module, re-anchoring after each, before giving up on it.
MAX_RESYNCS = 16
_QUOTED_SECTION = '"[^"]*"'


def _strict_record(delimiter: str) -> str:
    """A (Rust) regex matching a record whose quotes all follow RFC 4180."""
    other = {"\t": "\\t", "|": "\\|"}.get(delimiter, delimiter)
    field = f'(?:"(?:[^"]|"")*"|[^"{other}]*)'
    return f"^{field}(?:{other}{field})*$"


def read_fast(
    payload: bytes, layout: Layout, wanted: Sequence[int], lines_read: pl.Series | None = None
) -> pl.DataFrame | None:
    """Parse the data records with polars, or None when the file needs the slow path.

    Records are found from quote parity: a line with an odd number of quotes opens or closes a
    quoted field, so a record runs until the count of quotes seen is even again. That is exactly
    what the csv module does when every quote follows RFC 4180 (checked per record) and a record
    spans at most MAX_RECORD_LINES lines. At the first record that is not so (a stray quote,
    say), the csv module reads that one record, and parity restarts after it: a few broken lines
    cost a few re-anchorings, not the whole file. The slow path remains for files with lone
    carriage returns or more than MAX_RESYNCS such records.
    """
    if classic_mac(payload):
        return None
    lines = _Lines(payload, layout.delimiter, len(layout.header), lines_read)
    if lines.lone_carriage_return:
        return None
    pieces: list[pl.DataFrame] = []
    read_by_csv: list[Record] = []
    anchor = layout.body_start
    while anchor < lines.count:
        records, bad = lines.records_from(anchor)
        pieces.append(records)
        if bad is None:
            break
        if len(read_by_csv) == MAX_RESYNCS:
            return None
        read_by_csv.append(lines.csv_record(bad, layout))
        anchor = read_by_csv[-1].end
    records = pl.concat(pieces) if pieces else _no_records()
    if records.is_empty():
        cells: pl.DataFrame | None = no_cells(wanted)
    elif len(pieces) == 1 and not read_by_csv and not lines.blank_after(layout.body_start):
        cells = _parse_records(payload[layout.body_offset :], records, layout, wanted)
    else:
        cells = _parse_records(records["raw"].str.join("\n").cast(pl.Binary).item(), records, layout, wanted)
    if cells is None or not read_by_csv:
        return cells
    return pl.concat([cells, record_cells(read_by_csv, len(layout.header), wanted)]).sort("line_number")


class _Lines:
    """The payload's physical lines (split at \\n) as polars reads them, and what each tells."""

    def __init__(self, payload: bytes, delimiter: str, width: int, bodies: pl.Series | None) -> None:
        self.payload = payload
        self.delimiter = delimiter
        self.width = width
        body = pl.col("body")
        frame = (line_bodies(payload) if bodies is None else bodies).to_frame().with_row_index("index")
        self.count = frame.height
        frame = frame.with_columns(  # in parallel
            parity=(body.str.count_matches('"', literal=True) % 2).cum_sum() % 2 == 1,
            blank=~body.str.contains(NOT_BLANK),
            delimiters=body.str.count_matches(delimiter, literal=True),
            # whether the line, as a record of its own, is one polars reads as the csv module does
            ok=body.str.contains(_strict_record(delimiter)) & (body.str.len_bytes() <= csv.field_size_limit()),
            lone_cr=body.str.contains("\r", literal=True),
        )
        self.lone_carriage_return = bool(frame["lone_cr"].any())
        # A line of very many delimiters must not hold more than MAX_EXTRA_FIELDS fields past the
        # header (quoted delimiters aside), or polars would need that many columns.
        too_wide = (
            frame.filter(pl.col("delimiters") >= width + MAX_EXTRA_FIELDS)
            .filter(_field_count(body, delimiter) > width + MAX_EXTRA_FIELDS)["index"]
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
            | (pl.col("index") - pl.col("start") >= MAX_RECORD_LINES)
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

    def csv_record(self, start: int, layout: Layout) -> Record:
        """The record starting on line `start`, read by the csv module (a broken one: that line).

        It reads one line more than a record may span, so that a runaway quote is told from the
        end of the file.
        """
        stop = min(start + MAX_RECORD_LINES + 1, self.count)
        text = self.payload[self.offsets[start] : self.offsets[stop]].decode("utf-8")
        record = next(records_of(split_lines(text), 0, layout.delimiter, len(layout.header), start))
        return record._replace(start=record.start + start, end=record.end + start)


def _no_records() -> pl.DataFrame:
    return pl.DataFrame(schema={"line_number": pl.Int64, "raw": pl.String, "delimiters": pl.UInt32})


def _parse_records(source: bytes, records: pl.DataFrame, layout: Layout, wanted: Sequence[int]) -> pl.DataFrame | None:
    """Parse the records' fields with polars.read_csv, under a made-up header wide enough for all.

    polars silently drops the fields past the columns it is asked for, so the header is as wide
    as the most delimiters a record holds (an upper bound on its fields, cheap to count) but no
    wider than MAX_EXTRA_FIELDS past the real one (records were checked against that), with room
    for a trailing delimiter; the columns past the real header reveal ragged records.
    """
    width = len(layout.header)
    delimiters = int(records["delimiters"].max())  # type: ignore[arg-type]
    widest = max(width + 1, min(delimiters + 1, width + MAX_EXTRA_FIELDS))
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
    ragged = cells.select(pl.any_horizontal(pl.col(extra).str.contains(NOT_BLANK).fill_null(False))).to_series()
    error = pl.repeat(None, records.height, dtype=pl.String, eager=True).alias("error")
    if ragged.any():
        fields = records.filter(ragged).select(_field_count(pl.col("raw"), layout.delimiter).cast(pl.String))
        error = error.scatter(ragged.arg_true(), "ragged row: " + fields.to_series() + f" fields, header has {width}")
    return pl.concat([records.select("line_number", "raw"), error.to_frame(), cells.drop(extra)], how="horizontal")


def _field_count(raw: pl.Expr, delimiter: str) -> pl.Expr:
    """Fields per record: delimiters outside quoted sections, plus one."""
    return raw.str.replace_all(_QUOTED_SECTION, "").str.count_matches(delimiter, literal=True) + 1
