"""`jengu import` end to end on both store backends: counts, idempotence, provenance, bad files, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from jengu_pipeline.cli import main
from jengu_pipeline.domain.prospect_files import RAW_KEPT_CHARS
from jengu_pipeline.instance import dagster_instance
from jengu_pipeline.partitions import PROSPECT_BATCHES
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import ingest as ingest_store
from jengu_pipeline.store import open_store


def run_import(path: Path) -> dict[str, object]:
    result = CliRunner().invoke(main, ["import", str(path), "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def test_import_counts_every_row_and_is_idempotent(jengu_env: Path, prospects_file: Path) -> None:
    first = run_import(prospects_file)
    assert first["batch_id"].startswith("sales-nav-export-nov-")
    assert {k: first[k] for k in ("rows", "accepted", "rejected", "duplicates", "new_prospects")} == {
        "rows": 8,
        "accepted": 6,
        "rejected": 2,
        "duplicates": 2,
        "new_prospects": 4,
    }

    store = open_store(get_settings().store_url)
    assert store.count("prospects") == 4
    rejected = store.query("SELECT line_number, reason FROM rejected_rows ORDER BY line_number").rows()
    assert [line for line, _ in rejected] == [8, 9]
    assert rejected[0][1].startswith("unreachable")
    assert rejected[1][1].startswith("email")

    zoe = store.query("SELECT * FROM prospects WHERE last_name = 'Ørsted'").row(0, named=True)
    assert zoe["linkedin_url"] == "https://www.linkedin.com/in/zoe-orsted"
    assert zoe["email"] == "zoe.orsted@nordlys-hotel.test"
    assert zoe["country"] == "DK"
    assert zoe["timezone"] == "Europe/Copenhagen"
    assert zoe["stage"] == "new"
    hans = store.query("SELECT email, tier FROM prospects WHERE company = 'Gasthof Sonne'").rows()
    assert hans == [("hans@gasthof-sonne.example", "hot")]

    again = run_import(prospects_file)
    assert again == first
    assert store.count("prospects") == 4
    assert store.count("prospect_sources") == 6
    assert store.count("rejected_rows") == 2


def test_rejected_rows_keep_their_raw_line_and_the_import_is_one_activity(
    jengu_env: Path, prospects_file: Path
) -> None:
    batch_id = run_import(prospects_file)["batch_id"]
    store = open_store(get_settings().store_url)
    lines = prospects_file.read_text(encoding="utf-8").splitlines()
    rejected = store.query("SELECT line_number, raw FROM rejected_rows ORDER BY line_number").rows()
    assert rejected == [(8, lines[7]), (9, lines[8])]
    activities = store.query("SELECT type, batch_id, prospect_id FROM activities ORDER BY activity_id").rows()
    assert activities == [("batch_imported", batch_id, None)], "provenance is in prospect_sources, not per prospect"
    sources = store.query(
        "SELECT count(DISTINCT prospect_id) AS n FROM prospect_sources WHERE batch_id = ?", [batch_id]
    )
    assert sources["n"][0] == store.count("prospects") == 4


def test_a_later_batch_merges_duplicates_and_keeps_provenance(
    jengu_env: Path, prospects_file: Path, tmp_path: Path
) -> None:
    first = run_import(prospects_file)
    later = tmp_path / "later.csv"
    later.write_text(
        "Full Name;Job Title;Hotel;Profile URL;E-mail\n"
        "Jean-Luc Picard;General Manager;Hotel Bellevue;https://www.linkedin.com/in/JLPicard;jl@bellevue.test\n"
        "Maria García;Revenue Manager;Hotel Sol;https://es.linkedin.com/in/mariagarcia;\n",
        encoding="utf-8",
    )
    second = run_import(later)
    assert (second["rows"], second["duplicates"], second["new_prospects"]) == (2, 1, 1)
    store = open_store(get_settings().store_url)
    assert store.count("prospects") == 5
    picard = store.query(
        "SELECT p.prospect_id, p.email, p.batch_id, count(s.batch_id) AS seen FROM prospects p"
        " JOIN prospect_sources s ON s.prospect_id = p.prospect_id WHERE p.last_name = 'Picard'"
        " GROUP BY p.prospect_id, p.email, p.batch_id"
    ).row(0, named=True)
    assert picard["seen"] == 2
    assert picard["batch_id"] == first["batch_id"]
    assert picard["email"] == "jl@bellevue.test", "the duplicate row fills the email the prospect lacked"


def test_same_bytes_under_another_name_are_the_same_batch(
    jengu_env: Path, prospects_file: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "renamed.csv"
    copy.write_bytes(prospects_file.read_bytes())
    assert run_import(copy)["batch_id"] == run_import(prospects_file)["batch_id"]
    assert open_store(get_settings().store_url).count("batches") == 1


BAD_FILES = {
    "empty": (b"", "empty file (no header row)"),
    "binary": (b"Email,Company\n" + bytes(range(256)) * 8, "not a CSV file (binary content at byte 14)"),
    "header-only": (b"First Name,Last Name,Company\r\n\r\n", "no data rows: the file holds only a header (line 1)"),
    "mixed-delimiters": (
        b"First Name;Last Name;Company\nAnna,Berg,Hotel X\nPer,Lund,Hotel Y\n",
        "inconsistent delimiter: the header (line 1) is separated by ';' but the rows by ','",
    ),
    "duplicate-columns": (
        b"First Name,Company,Email,Company\nAnna,Hotel X,a@x.test,Hotel Z\n",
        "duplicate column: 'Company' (column 2) and 'Company' (column 4) name the same field",
    ),
}


@pytest.mark.parametrize("kind", list(BAD_FILES))
def test_a_refused_file_is_one_line_naming_it_exit_1_and_leaves_nothing_behind(
    jengu_env: Path, tmp_path: Path, kind: str
) -> None:
    content, reason = BAD_FILES[kind]
    bad = tmp_path / f"{kind}.csv"
    bad.write_bytes(content)
    result = CliRunner().invoke(main, ["import", str(bad)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {bad}: {reason}"), result.output
    assert result.output.count("\n") == 1, "one line, no traceback, no Dagster log"
    assert not (jengu_env / "batches").exists() or not list((jengu_env / "batches").iterdir()), "nothing staged"
    instance = dagster_instance(get_settings())
    assert instance.get_dynamic_partitions(PROSPECT_BATCHES) == [], "no partition registered"
    assert instance.get_run_records() == [], "no run launched"
    store = open_store(get_settings().store_url)
    assert (store.count("batches"), store.count("raw_prospects")) == (0, 0)


def test_debug_shows_the_traceback_of_a_refusal(jengu_env: Path, tmp_path: Path) -> None:
    bad = tmp_path / "empty.csv"
    bad.write_bytes(b"")
    result = CliRunner().invoke(main, ["--debug", "import", str(bad)])
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.output
    assert "ProspectFileError: empty.csv: empty file (no header row)" in result.output
    assert result.output.rstrip().endswith(f"Error: {bad}: empty file (no header row)")


def test_a_failing_step_is_one_line_with_its_reason_not_dagster_s_wrapper(
    jengu_env: Path, prospects_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full\nsecond line")

    monkeypatch.setattr(ingest_store, "replace_raw_rows", broken)
    result = CliRunner().invoke(main, ["import", str(prospects_file)])
    assert result.exit_code == 1
    assert result.output == f"Error: {prospects_file}: step raw_prospects failed: RuntimeError: disk full\n"


def test_a_line_of_megabytes_is_rejected_and_kept_as_a_prefix_and_its_length(jengu_env: Path, tmp_path: Path) -> None:
    huge = "z" * 5_000_000
    path = tmp_path / "hostile.csv"
    path.write_text(f"Full Name,Company\nAnna Berg,Hotel A\nPer Lund,{huge}\n", encoding="utf-8")
    summary = run_import(path)
    assert (summary["rows"], summary["accepted"], summary["rejected"]) == (2, 1, 1)
    store = open_store(get_settings().store_url)
    [(raw, reason)] = store.query("SELECT raw, reason FROM rejected_rows").rows()
    assert reason.startswith("error: unreadable record: field larger than field limit")
    original = f"Per Lund,{huge}"
    assert raw == original[:RAW_KEPT_CHARS] + f"… [{len(original)} characters in all]"
    longest = store.query("SELECT max(length(raw)) AS n FROM raw_prospects")["n"][0]
    assert longest == len(raw) < 5000, "the raw rows keep the prefix too"


def test_export_neutralises_formula_cells(jengu_env: Path, tmp_path: Path) -> None:
    evil = tmp_path / "evil.csv"
    evil.write_text(
        "Name,Title,Company,LinkedIn\n"
        'Eve Hacker,"=HYPERLINK(""http://evil.test"",""x"")",@Evil Hotel,https://www.linkedin.com/in/eve\n',
        encoding="utf-8",
    )
    run_import(evil)
    out = tmp_path / "export" / "prospects.csv"
    result = CliRunner().invoke(main, ["export", "prospects", "--out", str(out), "--where", "NOT archived"])
    assert result.exit_code == 0, result.output
    with out.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1
    assert rows[0]["title"].startswith("'=")
    assert rows[0]["company"].startswith("'@")
    assert rows[0]["first_name"] == "Eve"


def test_colleagues_sharing_a_hotel_mailbox_are_two_prospects(jengu_env: Path, tmp_path: Path) -> None:
    shared = tmp_path / "shared.csv"
    shared.write_text(
        "First Name,Last Name,Company,Email\nAnna,Berg,Hotel Nordlys,info@nordlys.test\n"
        "Per,Lund,Hotel Nordlys,info@nordlys.test\n",
        encoding="utf-8",
    )
    assert run_import(shared)["new_prospects"] == 2
    store = open_store(get_settings().store_url)
    assert store.query("SELECT email, website FROM prospects").rows() == [(None, "nordlys.test")] * 2
    assert store.query("SELECT count(*) AS n FROM raw_prospects WHERE raw LIKE '%info@nordlys.test%'")["n"][0] == 2
