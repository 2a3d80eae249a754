"""The inbox file: valid files load with safe defaults; every mistake names the file, the line and the field."""

from __future__ import annotations

import itertools
from datetime import date, time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.domain.inboxes import (
    InboxFileError,
    parse_cron,
    parse_inbox_file,
    read_inbox_file,
)
from jengu_pipeline.instance import PROJECT_ROOT

SOURCE = "inboxes.yaml"
VALID = """\
inboxes:
  - address: Mia@Jengu.test
    display_name: Mia Berg
    host_provider: google
    smtp:
      host: SMTP.jengu.test
      port: 587
      username: mia@jengu.test
      password_env: JENGU_MIA_PASSWORD
    warmup_start: 2027-01-04
  - address: leo@jengu.test
    display_name: Leo
    smtp: {host: 127.0.0.1, port: 2525, tls: none, username: leo, password_env: LEO_PW}
    imap: {host: 127.0.0.1, port: 1143, tls: none}
    warmup_start: 2027-01-04
    daily_cap: 40
sending:
  weekdays: [mon, tue, wed, thu, fri, sat]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(InboxFileError) as caught:
        parse_inbox_file(text, SOURCE)
    return caught.value.problems


def test_a_valid_file_loads_with_defaults() -> None:
    loaded = parse_inbox_file(VALID, SOURCE)
    mia, leo = loaded.inboxes
    assert (mia.address, mia.domain, mia.smtp.host, mia.smtp.tls) == (
        "mia@jengu.test",
        "jengu.test",
        "smtp.jengu.test",
        "starttls",
    )
    assert (mia.ceiling, leo.ceiling) == (30, 40)
    assert leo.imap is not None
    assert leo.imap.sent_folder == "Sent"
    rules = loaded.sending
    assert rules.weekdays[-1] == "sat"
    assert (rules.business_hours.start, rules.business_hours.end) == (9, 17)
    assert (rules.skip_probability, rules.risky_share, rules.bounce_pause_rate) == (0.0, 0.2, 0.02)
    assert rules.cron.interval_seconds == 300


def test_the_example_file_in_the_repository_is_valid_and_sandbox_safe() -> None:
    loaded = read_inbox_file(PROJECT_ROOT / "inboxes.example.yaml")
    assert len(loaded.inboxes) >= 2
    for inbox in loaded.inboxes:
        assert inbox.domain.endswith((".test", ".example"))
        assert inbox.smtp.host.endswith((".test", ".example"))
    text = (PROJECT_ROOT / "inboxes.example.yaml").read_text()
    assert "password:" not in text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("port: 587", "port: 70000"),
            "inboxes.yaml: line 7: inboxes.0.smtp.port: Input should be less than or equal to 65535",
        ),
        (("port: 587", "prot: 587"), "inboxes.yaml: line 7: inboxes.0.smtp.prot: Extra inputs are not permitted"),
        (
            ("    warmup_start: 2027-01-04\n  - ", "  - "),
            "inboxes.yaml: line 2: inboxes.0.warmup_start: Field required",
        ),
        (
            ("host_provider: google", "host_provider: gmail"),
            "inboxes.yaml: line 4: inboxes.0.host_provider: Input should be 'google', 'microsoft' or 'other'",
        ),
        (
            ("JENGU_MIA_PASSWORD", "mia-password"),
            "inboxes.yaml: line 9: inboxes.0.smtp.password_env: String should match pattern",
        ),
        (
            ("Mia@Jengu.test", "mia@"),
            "inboxes.yaml: line 2: inboxes.0.address: There must be something after the @-sign.",
        ),
        (
            ("daily_cap: 40", "daily_cap: 51"),
            "inboxes.yaml: line 16: inboxes.1.daily_cap: Input should be less than or equal to 50",
        ),
        (
            ("sat]", "sat, sat]"),
            "inboxes.yaml: line 18: sending.weekdays: each day once: mon, tue, wed, thu, fri, sat, sat",
        ),
    ],
)
def test_a_wrong_field_names_file_line_and_path(change: tuple[str, str], expected: str) -> None:
    assert VALID.count(change[0]) == 1
    found = problems(VALID.replace(*change))
    assert [problem for problem in found if problem.startswith(expected)], found


def test_a_cap_above_the_hosts_tolerance_is_refused() -> None:
    text = VALID.replace("    warmup_start: 2027-01-04\n  - ", "    warmup_start: 2027-01-04\n    daily_cap: 31\n  - ")
    assert problems(text) == [
        "inboxes.yaml: line 11: inboxes.0.daily_cap: at most 30 a day from a google-hosted inbox, got 31"
    ]
    microsoft = text.replace("host_provider: google", "host_provider: microsoft").replace(
        "daily_cap: 31", "daily_cap: 16"
    )
    assert problems(microsoft)[0].endswith("at most 15 a day from a microsoft-hosted inbox, got 16")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("host: 127.0.0.1, port: 2525", "host: smtp.jengu.test, port: 2525"),  # a password never travels in clear
            "line 13: inboxes.1.smtp: a password is only sent over TLS: set tls to starttls or ssl (none is for loopback)",
        ),
        (
            ("      username: mia@jengu.test\n", ""),
            "line 6: inboxes.0.smtp: give username and password_env together (or neither, for a server without login)",
        ),
        (
            ("    daily_cap: 40", "    daily_cap: 40\n    dkim_key_env: LEO_DKIM"),
            "line 11: inboxes.1: dkim_key_env needs dkim_selector (the DNS name the signature points receivers to)",
        ),
        (
            ("leo@jengu.test", "MIA@jengu.test"),
            "line 2: inboxes: each address once: mia@jengu.test given more than once",
        ),
    ],
)
def test_rules_across_fields(change: tuple[str, str], expected: str) -> None:
    assert problems(VALID.replace(*change)) == [f"inboxes.yaml: {expected}"]


@pytest.mark.parametrize(
    ("sending", "expected"),
    [
        ("schedule: '*/5 8-25 * * 1-6'", "sending.schedule: hour field '8-25': values must be within 0-23"),
        ("schedule: '@hourly'", "sending.schedule: '@hourly': a cron expression has five fields"),
        ("schedule_timezone: Europe/Atlantis", "sending.schedule_timezone: 'Europe/Atlantis' is not an IANA time zone"),
        ("schedule_timezone: America", "sending.schedule_timezone: 'America' is not an IANA time zone"),
        ("business_hours: {start: 17, end: 9}", "sending.business_hours: end (9) must be after start (17)"),
        ("warmup_stages: [5, 5, 10]", "sending.warmup_stages: stages must rise from at least 1"),
        ("bounce_min_sends: 200", "sending: bounce_min_sends (200) exceeds bounce_window (100)"),
        (
            "unsubscribe_url: http://unsubscribe.jengu.test/u",
            "sending.unsubscribe_url: 'http://unsubscribe.jengu.test/u': an https URL",
        ),
        ("skip_probability: 1", "sending.skip_probability: Input should be less than 1"),
        ("weekdays: [monday]", "sending.weekdays.0: Input should be 'mon'"),
    ],
)
def test_wrong_sending_rules_are_named(sending: str, expected: str) -> None:
    text = VALID.replace("  weekdays: [mon, tue, wed, thu, fri, sat]", f"  {sending}")
    found = problems(text)
    assert len(found) == 1
    assert found[0].startswith("inboxes.yaml: line 18: ")
    assert found[0].removeprefix("inboxes.yaml: line 18: ").startswith(expected), found


def test_loopback_http_is_a_valid_unsubscribe_url() -> None:
    text = VALID.replace("  weekdays: [mon, tue, wed, thu, fri, sat]", "  unsubscribe_url: http://127.0.0.1:8025/u")
    assert parse_inbox_file(text, SOURCE).sending.unsubscribe_url == "http://127.0.0.1:8025/u"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("inboxes: [\n  {address: a@b.test\n", "inboxes.yaml: line 3: YAML syntax error"),
        ("- just\n- a list\n", "inboxes.yaml: (inbox file) must be a mapping of fields, got list"),
        ("", "inboxes.yaml: (inbox file) must be a mapping of fields, got NoneType"),
        ("inboxes: []\n", "inboxes.yaml: line 1: inboxes: List should have at least 1 item"),
        (
            VALID.replace("sending:", "sending: {}\nsending:"),
            "inboxes.yaml: line 18: sending: given twice in one mapping",
        ),
    ],
)
def test_file_level_mistakes(text: str, expected: str) -> None:
    assert problems(text)[0].startswith(expected)


def test_no_is_a_string_not_false() -> None:
    text = VALID.replace("display_name: Leo", "display_name: no")
    assert parse_inbox_file(text, SOURCE).inboxes[1].display_name == "no"


def test_reading_a_missing_or_binary_file(tmp_path: Path) -> None:
    with pytest.raises(InboxFileError, match="no such file"):
        read_inbox_file(tmp_path / "inboxes.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(InboxFileError, match="not UTF-8 text"):
        read_inbox_file(binary)


def test_cron_fields_and_interval() -> None:
    cron = parse_cron("*/5 8-18 * * 1-6")
    assert cron.interval_seconds == 300
    assert cron.times_on(date(2027, 3, 1))[:2] == [time(8, 0), time(8, 5)]  # a Monday
    assert len(cron.times_on(date(2027, 3, 1))) == 11 * 12
    assert cron.times_on(date(2027, 3, 7)) == []  # a Sunday
    assert parse_cron("0,50 * * * *").interval_seconds == 600  # 50 -> 0 of the next hour
    assert parse_cron("0 9 * * 7").times_on(date(2027, 3, 7)) == [time(9, 0)]  # 7 is Sunday too
    first_or_monday = parse_cron("0 9 1 * 1")  # both day fields restricted: either matches
    assert first_or_monday.times_on(date(2027, 3, 1))
    assert first_or_monday.times_on(date(2027, 3, 8))
    assert not first_or_monday.times_on(date(2027, 3, 9))


@given(st.lists(st.integers(0, 59), min_size=1, max_size=8, unique=True))
def test_cron_interval_is_never_longer_than_a_real_gap(minutes: list[int]) -> None:
    cron = parse_cron(f"{','.join(map(str, minutes))} * * * *")
    fired = [hour * 60 + minute for hour in range(3) for minute in sorted(minutes)]
    assert cron.interval_seconds == 60 * min(b - a for a, b in itertools.pairwise(fired))
