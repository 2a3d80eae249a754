"""`jengu replies classify|fetch|reclassify` as an operator runs them, on both store backends."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pytest
from jengu_cli import jengu

CORPUS = Path(__file__).parents[1] / "data" / "replies" / "handwritten"
SANDBOX_INBOXES = Path(__file__).parents[2] / "jengu_pipeline" / "sandbox" / "inboxes.yaml"


@pytest.fixture
def env(store_url: str, tmp_path: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith(("JENGU_", "DAGSTER_"))}
    values |= {
        "JENGU_HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
        "JENGU_MAILDIR": str(tmp_path / "maildir"),
        "JENGU_INBOX_FILE": str(SANDBOX_INBOXES),
    }
    if store_url.startswith("postgresql"):
        values["JENGU_DATABASE_URL"] = store_url
    return values


def test_classify_prints_the_documented_csv_for_every_file(tmp_path: Path) -> None:
    result = jengu(
        "replies", "classify", str(CORPUS), "--unsubscribe-address", "unsubscribe@jengu.example", env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["file", "category", "failed_recipients", "detail", "return_date"]
    with (CORPUS / "labels.csv").open(newline="") as file:
        expected = {row["file"]: row for row in csv.DictReader(file)}
    got = {Path(row["file"]).name: row for row in rows}
    assert set(got) == set(expected)
    for name, row in expected.items():
        assert got[name]["category"] == row["category"], name
        assert set(got[name]["failed_recipients"].split(";")) - {""} == set(row["failed_recipients"].split(";")) - {""}
        assert got[name]["return_date"] == row["return_date"], name
    assert "interested" in result.stderr  # the per-category tally goes to stderr, the CSV stays clean


def test_classify_refuses_a_folder_without_messages(tmp_path: Path) -> None:
    result = jengu("replies", "classify", str(tmp_path), env=dict(os.environ))
    assert result.returncode == 1
    assert "no message files found" in result.stderr


def test_fetch_stores_each_message_once_and_reclassify_finds_nothing_changed(
    env: dict[str, str], tmp_path: Path
) -> None:
    maildir = tmp_path / "maildir"
    for folder in ("new", "cur", "tmp"):
        (maildir / folder).mkdir(parents=True)
    messages = sorted(CORPUS.glob("*.eml"))
    for path in messages:
        shutil.copy(path, maildir / "new" / path.name)

    first = jengu("replies", "fetch", "--json", env=env)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["read"] == summary["stored"] == summary["processed"] == len(messages)
    assert summary["unmatched"] == len(messages)  # nothing was sent from this store: visible, never dropped
    assert sum(summary["this_pass_by_category"].values()) == len(messages)

    again = jengu("replies", "fetch", "--json", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["stored"] == 0

    redo = jengu("replies", "reclassify", "--all", "--json", env=env)
    assert redo.returncode == 0, redo.stderr[-3000:]
    assert json.loads(redo.stdout.strip().splitlines()[-1]) == {"classified": len(messages), "changed": []}


def test_classify_with_llm_says_when_no_model_is_configured(env: dict[str, str]) -> None:
    result = jengu("replies", "classify", "--llm", str(CORPUS / "en_deferral.eml"), env=env)
    assert result.returncode == 1
    assert "no LLM is configured" in result.stderr
