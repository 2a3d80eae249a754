"""`jengu demo --days 14 --json` on a fresh home, as an operator runs it, checked against what really happened:
the sandbox SMTP server's .eml files and the store, never the demo's own summary alone.

Follow-ups go out (steps 2 and 3), each in the thread of the step before it, from the same inbox, no earlier
than its delay; none reaches anyone who replied, unsubscribed or bounced before its claim; out-of-office
prospects are resumed after their return date; every inbox's daily cap and warm-up limit hold on every day; and
every message's Date agrees with the Received stamp the sandbox gave it (one clock).
"""

from __future__ import annotations

import email
import json
import os
from collections import Counter
from datetime import date, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from jengu_cli import jengu

from jengu_pipeline.domain.campaigns import read_campaign_folder
from jengu_pipeline.domain.inboxes import read_inbox_file
from jengu_pipeline.domain.sending import inbox_day_cap, prospect_zone, sending_day
from jengu_pipeline.domain.sequences import follow_up_due
from jengu_pipeline.store import open_store

ROOT = Path(__file__).parents[2]
CAMPAIGN = read_campaign_folder(ROOT / "jengu_pipeline" / "sandbox" / "campaigns")[0].campaign
STOPPING = ("interested", "not_interested", "question", "other", "unsubscribe", "bounce_hard")
COUNTED = ("claimed", "sent", "unknown", "bounced")


@pytest.fixture(scope="module")
def fourteen_days(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    home = tmp_path_factory.mktemp("demo-14")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JENGU_", "DAGSTER_"))}
    env["JENGU_HOME"] = str(home)
    result = jengu("demo", "--days", "14", "--json", env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1]), home


def sent_mail(home: Path) -> dict[str, EmailMessage]:
    """send id -> the message the sandbox SMTP server stored for it."""
    found = {}
    for path in sorted((home / "sandbox" / "smtp").glob("**/*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        assert isinstance(message, EmailMessage)
        found[str(message["X-Jengu-Send-Id"])] = message
    return found


def rows(home: Path, sql: str) -> list[dict[str, Any]]:
    return open_store(f"duckdb:///{home}/crm.duckdb").query(sql).to_dicts()


@pytest.mark.slow
def test_the_summary_has_follow_ups_replies_stops_and_a_line_per_day(
    fourteen_days: tuple[dict[str, Any], Path],
) -> None:
    summary, _ = fourteen_days
    assert summary["sent_by_step"]["2"] > 0
    assert summary["sent_by_step"]["3"] > 0
    assert summary["sent"] == sum(summary["sent_by_step"].values())
    assert len(summary["days"]) == 14
    assert sum(sum(day["sent_by_step"].values()) for day in summary["days"]) == summary["sent"]
    assert summary["stopped"] > 0
    assert sum(summary["replies"].values()) == summary["details"]["replies"]["first_pass"]["stored"] > 0
    assert summary["details"]["replies"]["second_pass"]["stored"] == 0
    for key in ("prospects", "websites", "verified_emails", "messages", "held", "skipped", "suppressed"):
        assert key in summary


@pytest.mark.slow
def test_each_follow_up_continues_its_thread_from_the_same_inbox_no_earlier_than_its_delay(
    fourteen_days: tuple[dict[str, Any], Path],
) -> None:
    _, home = fourteen_days
    mail = sent_mail(home)
    sends = rows(
        home,
        "SELECT s.send_id, s.prospect_id, s.step, s.inbox, s.rfc_message_id, s.claimed_at, s.sent_at, s.status,"
        " p.timezone, p.country, m.subject FROM sends s JOIN prospects p USING (prospect_id)"
        " JOIN messages m ON m.message_id = s.message_id",
    )
    by_step = {(row["prospect_id"], row["step"]): row for row in sends}
    follow_ups = [row for row in sends if row["step"] > 1 and row["status"] == "sent"]
    assert {row["step"] for row in follow_ups} == {2, 3}
    for row in follow_ups:
        previous = by_step[(row["prospect_id"], row["step"] - 1)]
        first = by_step[(row["prospect_id"], 1)]
        message = mail[row["send_id"]]
        assert message["In-Reply-To"] == previous["rfc_message_id"]
        references = str(message["References"]).split()
        assert references[0] == first["rfc_message_id"]
        assert references[-1] == previous["rfc_message_id"]
        assert message["Subject"] == f"Re: {first['subject']}"
        assert message["From"].addresses[0].addr_spec == row["inbox"] == previous["inbox"]
        zone = prospect_zone(row["timezone"], row["country"], previous["sent_at"])
        delay = CAMPAIGN.steps[row["step"] - 1].delay_days
        due = follow_up_due(previous["sent_at"], delay, zone=zone, business_days=CAMPAIGN.business_days)
        assert row["claimed_at"] >= due, (row, due)


@pytest.mark.slow
def test_no_follow_up_reaches_anyone_who_replied_unsubscribed_or_bounced_before_its_claim(
    fourteen_days: tuple[dict[str, Any], Path],
) -> None:
    _, home = fourteen_days
    marks = ", ".join(f"'{intent}'" for intent in STOPPING)
    late = rows(
        home,
        "SELECT s.send_id, s.step, r.intent FROM sends s JOIN replies r ON r.prospect_id = s.prospect_id"
        f" WHERE s.step > 1 AND r.intent IN ({marks}) AND r.received_at < s.claimed_at",
    )
    assert late == []
    suppressed = rows(
        home,
        "SELECT s.send_id FROM sends s JOIN suppressions x ON x.email = s.recipient"
        " WHERE s.step > 1 AND x.created_at < s.claimed_at",
    )
    assert suppressed == []
    stopped = rows(home, "SELECT count(*) AS n FROM campaign_members WHERE stopped_at IS NOT NULL")[0]["n"]
    assert stopped > 0, "the world did answer: some sequences were stopped"


@pytest.mark.slow
def test_out_of_office_prospects_wait_for_their_return_then_get_their_next_step(
    fourteen_days: tuple[dict[str, Any], Path],
) -> None:
    _, home = fourteen_days
    paused = rows(
        home,
        "SELECT m.prospect_id, m.paused_until, min(r.received_at) AS away_from FROM campaign_members m"
        " JOIN replies r ON r.prospect_id = m.prospect_id AND r.intent = 'auto_reply'"
        " WHERE m.paused_until IS NOT NULL GROUP BY m.prospect_id, m.paused_until",
    )
    assert paused
    resumed = 0
    for member in paused:
        later = rows(
            home,
            f"SELECT claimed_at FROM sends WHERE prospect_id = '{member['prospect_id']}' AND step > 1",
        )
        for send in later:
            assert not member["away_from"] <= send["claimed_at"] < member["paused_until"], member
            resumed += send["claimed_at"] >= member["paused_until"]
    assert resumed > 0, "someone came back within the fortnight and got their follow-up"


@pytest.mark.slow
def test_daily_caps_and_warm_up_hold_on_every_simulated_day(fourteen_days: tuple[dict[str, Any], Path]) -> None:
    summary, home = fourteen_days
    config = read_inbox_file(home / "sandbox" / "demo-inboxes.yaml")
    marks = ", ".join(f"'{status}'" for status in COUNTED)
    claims = rows(home, f"SELECT inbox, claimed_at FROM sends WHERE status IN ({marks})")
    per_day = Counter((row["inbox"], sending_day(row["claimed_at"], config.sending).day) for row in claims)
    inboxes = {inbox.address: inbox for inbox in config.inboxes}
    for (address, day), count in per_day.items():
        assert count <= inbox_day_cap(inboxes[address], day, config.sending), (address, day, count)
    first_day = date.fromisoformat(summary["days"][0]["date"])
    (warming,) = [inbox for inbox in config.inboxes if inbox.warmup_start == first_day]
    caps = [day["caps"][warming.address] for day in summary["days"]]
    assert caps[0] < caps[-1], "the inbox that joins on day one has its cap rise with its warm-up stage"
    assert all(day["sent_by_inbox"][warming.address] <= day["caps"][warming.address] for day in summary["days"])


@pytest.mark.slow
def test_every_message_is_dated_by_the_clock_that_stamped_its_arrival(
    fourteen_days: tuple[dict[str, Any], Path],
) -> None:
    _, home = fourteen_days
    for message in sent_mail(home).values():
        received = parsedate_to_datetime(str(message["Received"]).rpartition(";")[2].strip())
        dated = message["Date"].datetime
        assert timedelta(0) <= received - dated < timedelta(minutes=1), (message["Message-ID"], dated, received)
