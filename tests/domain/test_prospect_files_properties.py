"""Properties of the prospect file reader: it never crashes, and it reads back what a CSV writer wrote."""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jengu_pipeline.domain import csv_records, csv_records_fast, prospect_columns
from jengu_pipeline.domain import prospect_files as pf
from jengu_pipeline.domain.prospect_files import ProspectFileError, read_prospect_file

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Header names recognised as distinct canonical fields, so that every written cell can be found again.
COLUMNS = {"Email": "email", "Company": "company", "First Name": "first_name", "Job Title": "title", "City": "city"}

# Any character but surrogates and control characters (a file full of those is rightly called binary),
# plus the ones a CSV writer must quote.
ANY_TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc"), include_characters=',;|\t"\r\n'), max_size=12)
# What a Western Excel writes in cp1252: every non-ASCII character between ASCII ones, so that the
# bytes can be neither UTF-8 nor taken for another script.
WESTERN_TEXT = st.lists(
    st.sampled_from(
        [
            "José ",
            "Müller",
            "Zoë.",
            "Hôtel",
            "Straße",
            "Lefèvre",
            " € ",
            "l’hôtel",
            "a",
            "B c",
            ",",
            ";",
            "|",
            "\t",
            '"',
            "\n",
            "\r\n",
            " ",
            "x",
        ]
    ),
    max_size=5,
).map("".join)
LINE_BREAK = re.compile(r"\r\n|\r|\n")
PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
FINAL_LINE_BREAK = re.compile(r"(?:\r\n|\r|\n)\Z")


def read_file(content: bytes) -> pf.FileReadout:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "prospects.csv"
        path.write_bytes(content)
        return read_prospect_file(path)


def read_or_refuse(content: bytes) -> pf.FileReadout | ProspectFileError:
    try:
        return read_file(content)
    except ProspectFileError as refused:
        return refused


@SETTINGS
@given(st.binary(max_size=3000) | st.binary(max_size=3000).map(lambda tail: b"Email,Company\n" + tail))
def test_any_bytes_give_a_readout_or_a_prospect_file_error(content: bytes) -> None:
    outcome = read_or_refuse(content)
    if isinstance(outcome, ProspectFileError):
        assert str(outcome).startswith("prospects.csv: ")
    else:
        assert outcome.rows.columns == ["line_number", "raw", "error", *pf.CANONICAL_FIELDS]
        assert outcome.rows["line_number"].is_sorted()
        assert outcome.rows["line_number"].n_unique() == outcome.rows.height


@SETTINGS
@given(
    st.lists(st.sampled_from(['"', ",", ";", "\n", "\r\n", "\r", " ", "é", "a", "Email", "\t", "|"]), max_size=60).map(
        "".join
    )
)
def test_every_line_of_a_broken_file_is_in_exactly_one_record_or_blank(body: str) -> None:
    text = "Email,Company\n" + body
    readout = read_or_refuse(text.encode())
    if isinstance(readout, ProspectFileError):  # the file as a whole: nothing but blank lines, or another delimiter
        assert readout.reason.startswith(("no data rows", "inconsistent delimiter"))
        assert not body.strip(csv_records.WHITESPACE) or readout.reason.startswith("inconsistent delimiter")
        return
    lines = PHYSICAL_LINE.findall(text)
    covered = [1]  # the header
    for line_number, raw in readout.rows.select("line_number", "raw").iter_rows():
        span = range(line_number, line_number + len(LINE_BREAK.findall(raw)) + 1)
        assert FINAL_LINE_BREAK.sub("", "".join(lines[span.start - 1 : span.stop - 1])) == raw
        covered.extend(span)
    assert covered == sorted(set(covered))
    uncovered = set(range(1, len(lines) + 1)) - set(covered)
    assert all(not lines[number - 1].strip(csv_records.WHITESPACE) for number in uncovered)


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]
    delimiter: str
    quoting: Literal[0, 1, 2, 3]  # a csv.QUOTE_* constant; QUOTE_NONE (3) is never drawn: it needs an escape
    lineterminator: str
    encoding: str


@st.composite
def tables(draw: st.DrawFn) -> Table:
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "cp1252"]))
    lineterminator = draw(st.sampled_from(["\r\n", "\n"]))
    cells = WESTERN_TEXT if encoding == "cp1252" else ANY_TEXT
    if lineterminator == "\n":  # a lone \r in an unquoted field would end the line
        cells = cells.map(lambda cell: cell.replace("\r", ""))
    header = draw(st.permutations(list(COLUMNS)))[: draw(st.integers(1, len(COLUMNS)))]
    if not {"Email", "Company", "First Name"} & set(header):  # a file must name its prospects somehow
        header[0] = "Email"
    return Table(
        header=header,
        rows=draw(st.lists(st.lists(cells, min_size=len(header), max_size=len(header)), max_size=12)),
        # a single column has no delimiter to sniff: it is read as comma-separated
        delimiter=draw(st.sampled_from([",", ";", "\t", "|"])) if len(header) > 1 else ",",
        quoting=draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC])),
        lineterminator=lineterminator,
        encoding=encoding,
    )


def written(table: Table, row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=table.delimiter, quoting=table.quoting, lineterminator=table.lineterminator).writerow(
        row
    )
    return buffer.getvalue()


@SETTINGS
@given(tables())
def test_what_a_csv_writer_wrote_is_read_back(table: Table) -> None:
    texts = [written(table, row) for row in [table.header, *table.rows]]
    content = "".join(texts)
    encoded = content.encode(table.encoding)
    if table.encoding == "utf-16-be":
        encoded = codecs.BOM_UTF16_BE + encoded

    data_rows = [text for text in texts[1:] if text[: -len(table.lineterminator)].strip(csv_records.WHITESPACE)]
    if not data_rows:
        refused = read_or_refuse(encoded)
        assert isinstance(refused, ProspectFileError)
        assert refused.reason.startswith("no data rows: the file holds only a header")
        return
    readout = read_file(encoded)

    assert readout.header == table.header
    assert readout.delimiter == table.delimiter
    line_number = 1 + len(LINE_BREAK.findall(texts[0]))
    wanted = []
    for text, row in zip(texts[1:], table.rows, strict=True):
        raw = text[: -len(table.lineterminator)]
        if raw.strip(csv_records.WHITESPACE):  # a lone whitespace cell written bare is a blank line
            values = {
                COLUMNS[name]: cell.strip(csv_records.WHITESPACE) or None
                for name, cell in zip(table.header, row, strict=True)
            }
            wanted.append({"line_number": line_number, "raw": raw, "error": None, **values})
        line_number += len(LINE_BREAK.findall(text))
    got = readout.rows.select("line_number", "raw", "error", *(COLUMNS[name] for name in table.header))
    assert got.to_dicts() == wanted


@SETTINGS
@given(
    st.sampled_from([",", ";", "\t", "|"]),
    st.integers(2, 4),
    st.lists(
        st.sampled_from(
            ['"', '""', ",", ";", "|", "\t", "\n", "\r\n", " ", "é", "a", "x,y", '"q"', "\n\n", ',"', '",', "\n" * 21]
        ),
        max_size=60,
    ).map("".join),
)
def test_fast_path_agrees_with_the_csv_module_whenever_it_accepts_a_file(delimiter: str, width: int, body: str) -> None:
    text = delimiter.join(["Email", "Company", "Notes", "City"][:width]) + "\r\n" + body
    layout = csv_records.find_layout(text.encode())
    columns = prospect_columns.map_columns(layout.header, layout.sample_rows)
    fast = csv_records_fast.read_fast(text.encode(), layout, sorted(columns))
    if fast is not None:
        slow = csv_records.read_slow(text, layout, sorted(columns))
        assert pf._canonical_rows(fast, columns).equals(pf._canonical_rows(slow, columns))
