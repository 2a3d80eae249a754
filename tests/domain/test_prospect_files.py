"""The prospect file reader, on real files written to disk: encodings, dialects, broken input, mapping."""

from __future__ import annotations

import codecs
import csv
import io
import re
from pathlib import Path

import polars as pl
import pytest

from jengu_pipeline.domain import csv_records, csv_records_fast, prospect_columns
from jengu_pipeline.domain import prospect_files as pf
from jengu_pipeline.domain.prospect_files import (
    CANONICAL_FIELDS,
    FileReadout,
    ProspectFileError,
    read_prospect_file,
)


def write(tmp_path: Path, content: str | bytes, name: str = "prospects.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def read(tmp_path: Path, content: str | bytes, name: str = "prospects.csv") -> FileReadout:
    return read_prospect_file(write(tmp_path, content, name))


def rows(readout: FileReadout, *columns: str) -> list[tuple[object, ...]]:
    return readout.rows.select(columns).rows()


def both_paths(content: str) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    """The fast path's rows (None when it declines) and the slow path's, for the same text."""
    layout = csv_records.find_layout(content.encode())
    columns = prospect_columns.map_columns(layout.header, layout.sample_rows)
    fast = csv_records_fast.read_fast(content.encode(), layout, sorted(columns))
    slow = csv_records.read_slow(content, layout, sorted(columns))
    return None if fast is None else pf._canonical_rows(fast, columns), pf._canonical_rows(slow, columns)


# --- the table's shape ------------------------------------------------------------------------


def test_rows_have_line_number_raw_error_and_every_canonical_field(tmp_path: Path) -> None:
    readout = read(tmp_path, "First Name,Email,Notes\nAda, ada@example.test ,hi\n")
    assert readout.rows.columns == ["line_number", "raw", "error", *CANONICAL_FIELDS]
    assert readout.rows.schema["line_number"] == pl.Int64
    assert all(readout.rows.schema[name] == pl.String for name in ("raw", "error", *CANONICAL_FIELDS))
    expected = dict.fromkeys(CANONICAL_FIELDS) | {"first_name": "Ada", "email": "ada@example.test"}
    assert readout.rows.row(0, named=True) == {
        "line_number": 2,
        "raw": "Ada, ada@example.test ,hi",
        "error": None,
        **expected,
    }
    assert readout.header == ["First Name", "Email", "Notes"]
    assert readout.mapping == {"First Name": "first_name", "Email": "email"}
    assert readout.path == tmp_path / "prospects.csv"


@pytest.mark.parametrize("content", ["Email,Company\r\n", "\n\nEmail,Company\n\n \n", "Email,Company"])
def test_header_only_file_is_refused_saying_nothing_would_be_imported(tmp_path: Path, content: str) -> None:
    line = content.count("\n", 0, content.index("Email")) + 1
    expected = rf"^x\.csv: no data rows: the file holds only a header \(line {line}\), nothing to import$"
    with pytest.raises(ProspectFileError, match=expected):
        read(tmp_path, content, name="x.csv")
    with pytest.raises(ProspectFileError, match=expected):
        pf.check_prospect_file(write(tmp_path, content, name="x.csv"))


def test_values_are_stripped_but_not_otherwise_changed(tmp_path: Path) -> None:
    readout = read(tmp_path, 'Full Name,Email\n"  JOHN  o\'neil\u00a0",\t MiXeD@Example.TEST \u3000\n')
    assert rows(readout, "full_name", "email") == [("JOHN  o'neil", "MiXeD@Example.TEST")]


def test_whitespace_is_unicode_white_space() -> None:
    """What polars' strip_chars() strips: str.isspace() but for the \\x1c-\\x1f separators."""
    expected = {chr(code) for code in range(0x110000) if chr(code).isspace()} - set("\x1c\x1d\x1e\x1f")
    assert set(csv_records.WHITESPACE) == expected
    stripped = pl.Series(["".join(sorted(expected)) + "x" + "".join(sorted(expected))]).str.strip_chars()
    assert stripped.to_list() == ["x"]


# --- encodings --------------------------------------------------------------------------------

TEXT = "Prénom;Nom;Société;Email\nJosé;Peña;Hôtel Müller – Zürich;jose@hotel.test\nZoë;O’Brien;Café €;\n"


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (TEXT.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + TEXT.encode("utf-8"), "utf-8-sig"),
        (codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "utf-16"),
        (codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "utf-16"),
        (TEXT.encode("cp1252"), "cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le", "utf-16-be", "cp1252"],
)
def test_encodings_are_detected(tmp_path: Path, encoded: bytes, encoding: str) -> None:
    readout = read(tmp_path, encoded)
    assert readout.encoding == encoding
    assert readout.header == ["Prénom", "Nom", "Société", "Email"]
    assert rows(readout, "line_number", "first_name", "last_name", "company", "email") == [
        (2, "José", "Peña", "Hôtel Müller – Zürich", "jose@hotel.test"),
        (3, "Zoë", "O’Brien", "Café €", None),
    ]


def test_cyrillic_cp1251_file_is_left_to_charset_normalizer(tmp_path: Path) -> None:
    text = "Full Name,Company\nИван Петров,Гостиница Москва\nОльга Смирнова,Отель Невский\n"
    readout = read(tmp_path, text.encode("cp1251"))
    assert readout.encoding == "cp1251"
    assert rows(readout, "full_name", "company") == [
        ("Иван Петров", "Гостиница Москва"),
        ("Ольга Смирнова", "Отель Невский"),
    ]


# --- delimiters -------------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_each_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["First Name", "Last Name", "Company", "Location"])
    writer.writerow(["Ana", "Lima", "Hotel A, B; C | D", "Lisbon, Portugal"])
    writer.writerow(["Jo", "Kim", "Hotel\tTab", "Seoul"])
    readout = read(tmp_path, buffer.getvalue())
    assert readout.delimiter == delimiter
    assert rows(readout, "first_name", "company", "location") == [
        ("Ana", "Hotel A, B; C | D", "Lisbon, Portugal"),
        ("Jo", "Hotel\tTab", "Seoul"),
    ]


def test_delimiter_giving_consistent_rows_wins_over_one_found_in_the_header(tmp_path: Path) -> None:
    content = "Nom;Prénom;Ville, Pays\nDupont;Jean;Paris, France\nMartin;Léa;Lyon, France\n"
    readout = read(tmp_path, content)
    assert readout.delimiter == ";"
    assert rows(readout, "last_name", "first_name") == [("Dupont", "Jean"), ("Martin", "Léa")]


def test_excel_sep_line_sets_the_delimiter_and_is_not_a_record(tmp_path: Path) -> None:
    readout = read(tmp_path, "sep=|\r\nEmail|Company\r\na@x.test|Hotel, Spa; Bar\r\n")
    assert readout.delimiter == "|"
    assert rows(readout, "line_number", "email", "company") == [(3, "a@x.test", "Hotel, Spa; Bar")]


def test_single_column_file(tmp_path: Path) -> None:
    readout = read(tmp_path, "Email\na@x.test\n\nb@x.test\n")
    assert readout.delimiter == ","
    assert rows(readout, "line_number", "email") == [(2, "a@x.test"), (4, "b@x.test")]


# --- record structure -------------------------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_quoted_newlines_keep_line_numbers_and_raw_text(tmp_path: Path, newline: str) -> None:
    lines = [
        "Full Name,Summary,Email",
        'Ada Lovelace,"First line',
        "second line",
        '""quoted"" third",ada@x.test',
        "Bob,plain,bob@x.test",
        '"Carl',
        '",,carl@x.test',
    ]
    readout = read(tmp_path, newline.join(lines) + newline)
    assert rows(readout, "line_number", "raw", "full_name", "email") == [
        (2, newline.join(lines[1:4]), "Ada Lovelace", "ada@x.test"),
        (5, lines[4], "Bob", "bob@x.test"),
        (6, newline.join(lines[5:7]), "Carl", "carl@x.test"),
    ]


def test_mixed_line_endings_keep_raw_text_exact(tmp_path: Path) -> None:
    """Excel and Python's csv module end rows with CRLF but keep a cell's own LF."""
    content = 'Email,Notes\r\na@x.test,"one\ntwo"\r\nb@x.test,"three\r\nfour"\r\nc@x.test,five\r\n'
    readout = read(tmp_path, content)
    assert rows(readout, "line_number", "raw") == [
        (2, 'a@x.test,"one\ntwo"'),
        (4, 'b@x.test,"three\r\nfour"'),
        (6, "c@x.test,five"),
    ]


def test_lone_carriage_returns_end_lines(tmp_path: Path) -> None:
    readout = read(tmp_path, 'Email,Notes\ra@x.test,"x\ry"\rb@x.test,z\r')
    assert rows(readout, "line_number", "raw", "email") == [
        (2, 'a@x.test,"x\ry"', "a@x.test"),
        (4, "b@x.test,z", "b@x.test"),
    ]


def test_a_long_file_is_read_whole_past_the_sample_the_layout_comes_from(tmp_path: Path) -> None:
    """The header and mapping come from the first 64 KB; a record crossing that limit stays whole."""
    body = "".join(f'p{n}@x.test,"Notes {n}\r\nsecond line, with a comma"\r\n' for n in range(4000))
    readout = read(tmp_path, "Email,Notes\r\n" + body)
    assert readout.rows.height == 4000
    assert readout.rows["line_number"].to_list() == list(range(2, 8002, 2))
    assert readout.rows["raw"][3999] == 'p3999@x.test,"Notes 3999\r\nsecond line, with a comma"'
    assert readout.rows["error"].null_count() == 4000


def test_many_records_through_the_slow_path(tmp_path: Path) -> None:
    """Lone carriage returns send the whole file to the csv module, whose output is built in batches."""
    readout = read(tmp_path, "Email\r" + "".join(f"p{n}@x.test\r" for n in range(120_000)))
    assert readout.rows.height == 120_000
    assert readout.rows["line_number"].to_list() == list(range(2, 120_002))
    assert readout.rows["email"][-1] == "p119999@x.test"


def test_emoji_and_other_astral_characters(tmp_path: Path) -> None:
    readout = read(tmp_path, "Full Name,Company\nZoë 🚀 Smith,𝐇𝐨𝐭𝐞𝐥 Ω\n")
    assert rows(readout, "full_name", "company") == [("Zoë 🚀 Smith", "𝐇𝐨𝐭𝐞𝐥 Ω")]


def test_doubled_quotes_and_quoted_delimiters(tmp_path: Path) -> None:
    readout = read(tmp_path, 'Company,Title\n"The ""Grand"" Hotel, Paris","GM, ""acting"""\n')
    assert rows(readout, "company", "title") == [('The "Grand" Hotel, Paris', 'GM, "acting"')]


def test_blank_lines_are_skipped_and_not_counted_as_records(tmp_path: Path) -> None:
    content = "\n  \r\nEmail,Company\r\n\r\na@x.test,A\r\n \t \r\n\r\nb@x.test,B\r\n\r\n\r\n"
    readout = read(tmp_path, content)
    assert readout.header == ["Email", "Company"]
    assert rows(readout, "line_number", "email") == [(5, "a@x.test"), (8, "b@x.test")]


def test_blank_line_inside_a_quoted_field_is_part_of_it(tmp_path: Path) -> None:
    readout = read(tmp_path, 'Email,Notes\na@x.test,"one\n\ntwo"\nb@x.test,x\n')
    assert rows(readout, "line_number", "raw") == [(2, 'a@x.test,"one\n\ntwo"'), (5, "b@x.test,x")]


def test_rows_with_only_empty_fields_are_records(tmp_path: Path) -> None:
    readout = read(tmp_path, "Email,Company\n,\n , \n")
    assert rows(readout, "line_number", "error", "email", "company") == [(2, None, None, None), (3, None, None, None)]


def test_fewer_fields_than_the_header_leave_the_missing_ones_null(tmp_path: Path) -> None:
    readout = read(tmp_path, "First Name,Last Name,Email,Company\nAda,Lovelace\nBob\n")
    assert rows(readout, "error", "first_name", "last_name", "email") == [
        (None, "Ada", "Lovelace", None),
        (None, "Bob", None, None),
    ]


def test_more_fields_than_the_header_is_an_error_only_when_the_extra_ones_hold_text(tmp_path: Path) -> None:
    content = 'First Name,Email\nAda,a@x.test,,  ,\nBob,b@x.test,oops\nCy,"c@x.test","",x,\n'
    readout = read(tmp_path, content)
    assert rows(readout, "line_number", "error", "first_name") == [
        (2, None, "Ada"),
        (3, "ragged row: 3 fields, header has 2", None),
        (4, "ragged row: 5 fields, header has 2", None),
    ]


def test_trailing_delimiter_on_every_line(tmp_path: Path) -> None:
    readout = read(tmp_path, "Email,Company,\na@x.test,A,\nb@x.test,B,\n")
    assert rows(readout, "error", "email", "company") == [(None, "a@x.test", "A"), (None, "b@x.test", "B")]


def test_many_extra_fields_are_still_one_error_row(tmp_path: Path) -> None:
    readout = read(tmp_path, "Email,Company\na@x.test,A\n" + "x," * 100 + "y\nc@x.test,C\n")
    assert rows(readout, "line_number", "error", "email") == [
        (2, None, "a@x.test"),
        (3, "ragged row: 101 fields, header has 2", None),
        (4, None, "c@x.test"),
    ]


# --- broken quotes ----------------------------------------------------------------------------


def test_stray_quote_costs_one_line_then_parsing_resumes(tmp_path: Path) -> None:
    lines = ["Full Name,Email", 'Ann "The Boss,ann@x.test'] + [f"P{n},p{n}@x.test" for n in range(30)]
    lines[3] = '"Broken,b@x.test'
    readout = read(tmp_path, "\n".join(lines) + "\n")
    assert readout.rows.height == 31
    assert readout.rows["line_number"].to_list() == list(range(2, 33))
    bad = readout.rows.filter(pl.col("error").is_not_null())
    assert bad.select("line_number", "raw").rows() == [(4, '"Broken,b@x.test')]
    assert "unclosed quote" in bad["error"][0]
    assert "line 4" in bad["error"][0]
    assert readout.rows.filter(pl.col("line_number") == 2)["full_name"].to_list() == ['Ann "The Boss']
    assert readout.rows.filter(pl.col("line_number") == 5)["email"].to_list() == ["p2@x.test"]


def test_quote_open_at_the_end_of_the_file_is_a_bad_record(tmp_path: Path) -> None:
    readout = read(tmp_path, 'Email,Company\na@x.test,"Hotel\nb@x.test,B\n')
    assert rows(readout, "line_number", "email") == [(2, None), (3, "b@x.test")]
    assert "never closes" in readout.rows["error"][0]


def test_two_stray_quotes_do_not_swallow_the_lines_between_them(tmp_path: Path) -> None:
    content = 'Email,Company\na@x.test,"Hotel A\nb@x.test,B\nc@x.test,"C, Ltd"\nd@x.test,D\n'
    readout = read(tmp_path, content)
    assert rows(readout, "line_number", "email", "company") == [
        (2, None, None),
        (3, "b@x.test", "B"),
        (4, "c@x.test", "C, Ltd"),
        (5, "d@x.test", "D"),
    ]
    assert "unbalanced quote" in readout.rows["error"][0]


def test_field_over_the_csv_size_limit_is_a_bad_record(tmp_path: Path) -> None:
    huge = "x" * (csv.field_size_limit() + 1)
    readout = read(tmp_path, f"Email,Notes\na@x.test,{huge}\nb@x.test,short\n")
    assert rows(readout, "line_number", "email") == [(2, None), (3, "b@x.test")]
    assert readout.rows["error"][0].startswith("unreadable record")


def test_header_with_unclosed_quote_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ProspectFileError, match=r"^prospects\.csv: header row \(line 1\) cannot be read"):
        read(tmp_path, '"Email,Company\na,b\n')


# --- fast and slow paths agree ----------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        'Email,Notes\r\na@x.test,"one\ntwo"\r\n\r\nb@x.test,"x"\r\n',
        "Email,Company,\na@x.test,A,\nb@x.test,B,,extra\n\n",
        'Email,Notes\na@x.test,"one\ntwo",\nb@x.test,"three\nfour",\n',  # trailing delimiters
        'Email,Notes\n"a@x.test","say ""hi"""\n"b, c",\n',
        'Email,Notes\na@x.test,5" screen\nb@x.test,"x\ny"\n',  # a quote inside an unquoted field
        'Email,Notes\na@x.test,"x" y\nb@x.test,z\n',  # text after a closing quote
        'Email,Notes\na@x.test,"open\n' + "b,c\n" * 25,  # a runaway quote
        'Email,Notes\na@x.test,"open\n' + "b,c\n" * 5,  # a quote open until the end of the file
        "Email,Notes\n" + "".join(f'{n}@x.test,"{n}\n' for n in range(csv_records_fast.MAX_RESYNCS)) + "z@x.test,z\n",
        'Email,Notes\na@x.test,"x\nb@x.test,"y",z\n',  # two stray quotes pairing up into a ragged record
        'Email,Notes\na@x.test,"x\ny",z\nb@x.test,w\n',  # a sound quoted newline, but in a ragged record
        "Email,Notes\na@x.test,y\n" + "x," * 70 + "\n" + '"' + "x," * 70 + '"\n',  # many delimiters
    ],
)
def test_fast_path_agrees_with_the_csv_module(content: str) -> None:
    fast, slow = both_paths(content)
    assert fast is not None
    assert fast.equals(slow)


@pytest.mark.parametrize(
    "content",
    [
        "Email,Notes\ra@x.test,x\r",  # lone carriage returns
        "Email,Notes\n"
        + "".join(f'{n}@x.test,"{n}\n' for n in range(3 * csv_records_fast.MAX_RESYNCS)),  # many stray quotes
    ],
)
def test_fast_path_declines_what_only_the_csv_module_reads_right(content: str) -> None:
    fast, _ = both_paths(content)
    assert fast is None


# --- column mapping ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("First Name", "first_name"),
        ("firstName", "first_name"),
        ("first_name", "first_name"),
        ("PRÉNOM", "first_name"),
        ("Vorname", "first_name"),
        ("Nombre", "first_name"),
        ("Last Name", "last_name"),
        ("lastName", "last_name"),
        ("Surname", "last_name"),
        ("Nom", "last_name"),
        ("Nachname", "last_name"),
        ("Apellido", "last_name"),
        ("Name", "full_name"),
        ("Full Name", "full_name"),
        ("fullName", "full_name"),
        ("Contact", "full_name"),
        ("Title", "title"),
        ("Job Title", "title"),
        ("jobTitle", "title"),
        ("Position", "title"),
        ("Current Title", "title"),
        ("Company", "company"),
        ("Company Name", "company"),
        ("companyName", "company"),
        ("Hotel", "company"),
        ("Hotel Name", "company"),
        ("Organization", "company"),
        ("Account Name", "company"),
        ("Current Company", "company"),
        ("Website", "website"),
        ("Company Website", "website"),
        ("companyWebsite", "website"),
        ("Domain", "website"),
        ("Company Domain", "website"),
        ("URL", "website"),
        ("Site", "website"),
        ("LinkedIn URL", "linkedin_url"),
        ("LinkedIn Profile", "linkedin_url"),
        ("Profile URL", "linkedin_url"),
        ("linkedinProfileUrl", "linkedin_url"),
        ("Sales Navigator URL", "linkedin_url"),
        ("salesNavigatorUrl", "linkedin_url"),
        ("defaultProfileUrl", "linkedin_url"),
        ("Person Linkedin Url", "linkedin_url"),
        ("Location", "location"),
        ("Geography", "location"),
        ("Person Location", "location"),
        ("City", "city"),
        ("Ville", "city"),
        ("Stadt", "city"),
        ("State", "region"),
        ("Region", "region"),
        ("Province", "region"),
        ("Country", "country"),
        ("Pays", "country"),
        ("Land", "country"),
        ("Email", "email"),
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("Work Email", "email"),
        ("Professional Email", "email"),
        (" e_mail ", "email"),
        ("Phone", "phone"),
        ("Telephone", "phone"),
        ("Phone Number", "phone"),
        ("Mobile", "phone"),
    ],
)
def test_header_synonyms(tmp_path: Path, header: str, field: str) -> None:
    other, other_field = ("Email", "email") if field == "company" else ("Company", "company")
    readout = read(tmp_path, f"Email Status,{other},{header}\nvalid,x,value\n")
    assert readout.mapping == {other: other_field, header: field}
    assert readout.rows[field].to_list() == ["value"]


@pytest.mark.parametrize("header", ["Headline", "Summary", "Email Status", "companyUrl", "Industry"])
def test_headers_that_are_not_prospect_fields_stay_unmapped(tmp_path: Path, header: str) -> None:
    readout = read(tmp_path, f"Email,{header}\na@x.test,https://www.linkedin.com/company/1\n")
    assert readout.mapping == {"Email": "email"}


def test_synonym_table_names_each_header_once() -> None:
    keys = [prospect_columns.header_key(name) for names in prospect_columns.SYNONYMS.values() for name in names]
    assert len(keys) == len(set(keys))
    assert set(prospect_columns.SYNONYMS) == set(CANONICAL_FIELDS)


def test_phantombuster_sales_navigator_export(tmp_path: Path) -> None:
    header = (
        "profileUrl,fullName,firstName,lastName,companyName,title,companyId,companyUrl,regularCompanyUrl,summary,"
        "titleDescription,industry,companyLocation,location,durationInRole,durationInCompany,"
        "pastExperienceCompanyName,pastExperienceCompanyUrl,pastExperienceCompanyTitle,pastExperienceDate,"
        "pastExperienceDuration,connectionDegree,profileImageUrl,sharedConnectionsCount,name,vmid,"
        "linkedInProfileUrl,isPremium,isOpenLink,query,timestamp,defaultProfileUrl"
    )
    row = [
        "https://www.linkedin.com/sales/lead/ACwAAA1,NAME_SEARCH,abc",
        "Marie Curie",
        "Marie",
        "Curie",
        "Hôtel Le Radium",
        "General Manager",
        "123",
        "https://www.linkedin.com/sales/company/123",
        "https://www.linkedin.com/company/123",
        "Hotelier.\nLoves science.",
        "",
        "Hospitality",
        "Paris, France",
        "Paris, Île-de-France, France",
        "2 years",
        "5 years",
        "",
        "",
        "",
        "",
        "",
        "2nd",
        "",
        "3",
        "Marie Curie",
        "ACwAAA1",
        "https://www.linkedin.com/in/mariecurie",
        "true",
        "false",
        "https://www.linkedin.com/sales/search/people?query=x",
        "2024-05-01T10:00:00.000Z",
        "https://www.linkedin.com/in/ACwAAA1",
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header.split(","), row])
    readout = read(tmp_path, buffer.getvalue())
    assert readout.mapping == {
        "profileUrl": "linkedin_url",
        "fullName": "full_name",
        "firstName": "first_name",
        "lastName": "last_name",
        "companyName": "company",
        "title": "title",
        "location": "location",
        "name": "full_name",
        "linkedInProfileUrl": "linkedin_url",
        "defaultProfileUrl": "linkedin_url",
    }
    record = readout.rows.row(0, named=True)
    assert record["line_number"] == 2
    assert record["linkedin_url"] == "https://www.linkedin.com/in/mariecurie"
    assert (record["full_name"], record["first_name"], record["last_name"]) == ("Marie Curie", "Marie", "Curie")
    assert (record["company"], record["title"]) == ("Hôtel Le Radium", "General Manager")
    assert record["location"] == "Paris, Île-de-France, France"
    assert record["website"] is None


def test_evaboot_export(tmp_path: Path) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(
        [
            "Sales Navigator Profile URL",
            "Linkedin Profile URL",
            "First Name",
            "Last Name",
            "Email",
            "Email Status",
            "Job Title",
            "Company Name",
            "Company Website",
            "Company Domain",
            "Location",
            "Company Industry",
            "Company Employee Count",
        ]
    )
    writer.writerow(
        [
            "https://www.linkedin.com/sales/lead/ACwAAB2",
            "",
            "Hans",
            "Müller",
            "",
            "not found",
            "Direktor",
            "Hotel Adler",
            "",
            "hotel-adler.test",
            "München, Bayern, Deutschland",
            "Hospitality",
            "51-200",
        ]
    )
    readout = read(tmp_path, codecs.BOM_UTF8 + buffer.getvalue().encode("utf-8"))
    assert (readout.encoding, readout.delimiter) == ("utf-8-sig", ";")
    assert readout.mapping == {
        "Sales Navigator Profile URL": "linkedin_url",
        "Linkedin Profile URL": "linkedin_url",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Job Title": "title",
        "Company Name": "company",
        "Company Website": "website",
        "Company Domain": "website",
        "Location": "location",
    }
    record = readout.rows.row(0, named=True)
    assert record["linkedin_url"] == "https://www.linkedin.com/sales/lead/ACwAAB2"  # the only one filled
    assert record["website"] == "hotel-adler.test"  # Company Website is empty
    assert (record["first_name"], record["last_name"], record["title"]) == ("Hans", "Müller", "Direktor")
    assert record["email"] is None


def test_columns_for_one_field_give_the_first_non_empty_value(tmp_path: Path) -> None:
    content = "Work Email,Email,Company\nwork@x.test,main@x.test,A\nwork2@x.test,,B\n,,C\n"
    readout = read(tmp_path, content)
    assert readout.mapping == {"Work Email": "email", "Email": "email", "Company": "company"}
    assert readout.rows["email"].to_list() == ["main@x.test", "work2@x.test", None]


def test_url_column_holding_linkedin_profiles_is_a_linkedin_url(tmp_path: Path) -> None:
    content = "Name,URL\nAda,https://www.linkedin.com/in/ada\nBob,https://linkedin.com/in/bob\nCy,\n"
    readout = read(tmp_path, content)
    assert readout.mapping == {"Name": "full_name", "URL": "linkedin_url"}
    assert readout.rows["linkedin_url"].to_list() == [
        "https://www.linkedin.com/in/ada",
        "https://linkedin.com/in/bob",
        None,
    ]
    assert readout.rows["website"].to_list() == [None, None, None]


@pytest.mark.parametrize(
    ("header", "named"),
    [
        ("Email,Company,Email", "'Email' (column 1) and 'Email' (column 3)"),
        ("First Name,company,Company", "'company' (column 2) and 'Company' (column 3)"),
        ("Name,E-mail,Email", "'E-mail' (column 2) and 'Email' (column 3)"),
    ],
)
def test_two_recognised_columns_of_one_name_are_refused_naming_them(tmp_path: Path, header: str, named: str) -> None:
    content = f"{header}\n,A,second@x.test\nfirst@x.test,B,second@x.test\n"
    expected = rf"^x\.csv: duplicate column: {re.escape(named)} name the same field; rename or remove one$"
    with pytest.raises(ProspectFileError, match=expected):
        read(tmp_path, content, name="x.csv")


def test_repeated_columns_the_import_does_not_read_are_harmless(tmp_path: Path) -> None:
    readout = read(tmp_path, "Email,Notes,Company,Notes,,\na@x.test,1,A,2,,\n")
    assert readout.mapping == {"Email": "email", "Company": "company"}
    assert rows(readout, "email", "company") == [("a@x.test", "A")]


def test_synonyms_of_one_field_are_not_duplicates(tmp_path: Path) -> None:
    readout = read(tmp_path, "Email,Work Email,Company\n,w@x.test,A\n")
    assert readout.mapping == {"Email": "email", "Work Email": "email", "Company": "company"}
    assert rows(readout, "email") == [("w@x.test",)]


def test_url_column_holding_company_websites_is_a_website(tmp_path: Path) -> None:
    readout = read(tmp_path, "Name,URL\nAda,https://hotel-ada.test\n")
    assert readout.mapping == {"Name": "full_name", "URL": "website"}


# --- files that cannot be read ----------------------------------------------------------------


def test_binary_file_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ProspectFileError, match=r"^photo\.csv: not a CSV file \(binary content at byte 12\)$"):
        read(tmp_path, b"Email,Name\na\x00\x01\x02\xff\xfe", name="photo.csv")


def test_control_character_soup_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProspectFileError, match=r"^x\.csv: not a CSV file \(binary content at byte 2\)"):
        read(tmp_path, b"ab" + bytes(range(1, 9)) * 20, name="x.csv")


def test_broken_utf16_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProspectFileError, match=r"^x\.csv: not valid utf-16 text"):
        read(tmp_path, codecs.BOM_UTF16_LE + "Email\n".encode("utf-16-le") + b"\x00\xd8", name="x.csv")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file (no header row)"),
        (b"\n\n  \r\n", "blank file (no header row)"),
        (codecs.BOM_UTF8 + b"\n", "no header row"),
    ],
)
def test_empty_file_has_no_header_row(tmp_path: Path, content: bytes, reason: str) -> None:
    with pytest.raises(ProspectFileError, match=rf"^x\.csv: {re.escape(reason)}$"):
        read(tmp_path, content, name="x.csv")
    with pytest.raises(ProspectFileError, match=rf"^x\.csv: {re.escape(reason)}$"):
        pf.check_prospect_file(tmp_path / "x.csv")


def test_file_without_a_recognisable_column_lists_what_it_found(tmp_path: Path) -> None:
    with pytest.raises(ProspectFileError) as caught:
        read(tmp_path, "foo,bar,Headline\n1,2,3\n", name="x.csv")
    assert str(caught.value) == (
        "x.csv: no recognisable column (need a name, company, LinkedIn URL or email column; found: foo, bar, Headline)"
    )
    assert caught.value.path == tmp_path / "x.csv"


def test_missing_file_or_directory_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ProspectFileError, match=r"^nowhere\.csv: cannot be read"):
        read_prospect_file(tmp_path / "nowhere.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(ProspectFileError, match=r"^folder\.csv: cannot be read"):
        read_prospect_file(tmp_path / "folder.csv")


# --- files refused for their shape ------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "header_by", "rows_by", "line"),
    [
        ("First Name;Last Name;Company\nAnna,Berg,Hotel X\nPer,Lund,Hotel Y\n", "';'", "','", 2),
        ("First Name,Last Name,Company\nAnna;Berg;Hotel X\nPer;Lund;Hotel Y\n", "','", "';'", 2),
        ("sep=;\nEmail;Company\n\na@x.test\tHotel X\nb@x.test\tHotel Y\n", "';'", "tab", 4),
    ],
)
def test_rows_split_by_another_delimiter_than_the_header_are_refused(
    tmp_path: Path, content: str, header_by: str, rows_by: str, line: int
) -> None:
    header_line = 2 if content.startswith("sep=") else 1
    expected = (
        f"x.csv: inconsistent delimiter: the header (line {header_line}) is separated by {header_by} but the rows"
        f" by {rows_by} (from line {line}); save the file again with one delimiter"
    )
    with pytest.raises(ProspectFileError) as caught:
        read(tmp_path, content, name="x.csv")
    assert str(caught.value) == expected


def test_a_few_one_field_rows_do_not_refuse_a_file(tmp_path: Path) -> None:
    """Short rows (trailing fields left out) and a value with a comma are data, not another delimiter."""
    content = "Company;Email;City\nHotel A;a@x.test;Rome\nHotel B, Spa\nHotel C;c@x.test;Oslo\n"
    readout = read(tmp_path, content)
    assert rows(readout, "line_number", "company", "email") == [
        (2, "Hotel A", "a@x.test"),
        (3, "Hotel B, Spa", None),
        (4, "Hotel C", "c@x.test"),
    ]


def test_a_long_raw_line_is_kept_as_a_prefix_and_its_length(tmp_path: Path) -> None:
    long_cell = "x" * 50_000
    readout = read(tmp_path, f"Email,Company\na@x.test,Hotel A\nb@x.test,{long_cell},extra\n")
    assert readout.rows["raw"].to_list()[0] == "a@x.test,Hotel A"
    kept = readout.rows["raw"].to_list()[1]
    original = f"b@x.test,{long_cell},extra"
    assert kept == original[: pf.RAW_KEPT_CHARS] + f"… [{len(original)} characters in all]"
    assert readout.rows["error"].to_list()[1] == "ragged row: 3 fields, header has 2"


def test_a_raw_line_at_the_cap_is_kept_whole(tmp_path: Path) -> None:
    line = "a@x.test," + "y" * (pf.RAW_KEPT_CHARS - len("a@x.test,"))
    readout = read(tmp_path, f"Email,Company\n{line}\n")
    assert readout.rows["raw"].to_list() == [line]


def test_a_header_followed_by_a_long_blank_tail_is_refused_by_the_quick_check(tmp_path: Path) -> None:
    """The check reads only the first records, but a header with nothing after it is refused however long the
    blank tail (here unicode spaces, past the sample the layout is found from)."""
    path = write(tmp_path, "Email,Company\n" + "\u3000 \r\n" * 40_000, name="x.csv")
    with pytest.raises(ProspectFileError, match=r"^x\.csv: no data rows"):
        pf.check_prospect_file(path)


def test_a_data_row_far_down_a_blank_tail_is_found(tmp_path: Path) -> None:
    readout = read(tmp_path, "Email,Company\n" + "\n" * 100_000 + "a@x.test,Hotel A\n")
    assert rows(readout, "line_number", "email") == [(100_002, "a@x.test")]
