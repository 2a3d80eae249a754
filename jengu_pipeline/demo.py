"""`jengu demo [--days N]`: the main job on the sample batch against the SANDBOX, then N simulated days of
sending, replies and follow-ups, measured against the sandbox's ground truth.

The sandbox is started in this process on loopback and every provider resource is pointed at it through the
JENGU_* variables it exports, before the Definitions are loaded. Nothing here can reach a real provider,
host or inbox: the sample and the world use reserved TLDs only.

Each simulated day runs under the one clock (``jengu_pipeline.clock``), moved to the day's moments: the
follow-up writing in the morning, then on a weekday each sending tick, with the replies the world wrote by then
read just before it (as the reply sensor would have); on a weekend day one read at noon. The sandbox's servers
read the same clock, so every Date, Received stamp, reply delay and out-of-office return date agrees.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import click
import dagster as dg
import yaml

from jengu_pipeline import clock as pipeline_clock
from jengu_pipeline.clock import running_at
from jengu_pipeline.domain.inboxes import WEEKDAYS, InboxFile, read_inbox_file
from jengu_pipeline.domain.sending import inbox_day_cap, sending_day
from jengu_pipeline.imports import ImportFailedError, ImportResult, import_file
from jengu_pipeline.instance import PROJECT_ROOT, dagster_instance
from jengu_pipeline.sandbox import Sandbox, start_sandbox
from jengu_pipeline.sandbox.replies import read_truth
from jengu_pipeline.settings import Settings
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.campaigns import load_campaigns
from jengu_pipeline.store.sending import HELD_STATUSES, sending_status
from jengu_pipeline.ticks import TickFailedError, run_follow_ups_tick, run_replies_tick, run_sending_tick

SAMPLE_FILE = PROJECT_ROOT / "data" / "sample" / "sales_navigator_sample.csv"
SANDBOX_SEED = 7
"""The seed the sample file was generated from: the demo's world must be the same one."""
SANDBOX_CAMPAIGNS = PROJECT_ROOT / "jengu_pipeline" / "sandbox" / "campaigns"
"""The demo's active campaign: every verified contact of the sandbox world, reserved domains only."""
SANDBOX_INBOXES = PROJECT_ROOT / "jengu_pipeline" / "sandbox" / "inboxes.yaml"
"""The demo's inboxes: their SMTP goes to the sandbox's loopback server, whatever host they name."""
NEW_INBOX = "ana@outreach.example"
"""The inbox that joins the pool on the demo's first day, so that its warm-up cap shows day by day."""
DEMO_HOUR_UTC = 10
"""The demo starts on a weekday at 10:00 UTC: business hours across Europe, not yet in America."""
TICK_HOURS_UTC = (10, 14, 18)
"""A weekday's sending ticks: Europe's morning, Europe's afternoon with America's East Coast morning, and
America's afternoon, so every prospect of the sample is inside its business hours at one of them."""
FOLLOW_UP_HOUR_UTC = 7
"""When each simulated day's follow-up writing runs (it writes what falls due within a day)."""
QUIET_DAY_READ_HOUR_UTC = 12
"""On a day without sending, the replies are read once, at noon."""


def demo_clock(today: datetime) -> datetime:
    """The next weekday at 10:00 UTC from ``today`` (the sandbox clock of the demo's first sending tick)."""
    moment = today.astimezone(UTC).replace(hour=DEMO_HOUR_UTC, minute=0, second=0, microsecond=0)
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    return moment


def demo_inbox_file(home: Path, first_day: date) -> Path:
    """The sandbox's inbox file with :data:`NEW_INBOX` starting its warm-up on ``first_day`` (a copy in home)."""
    data = yaml.safe_load(SANDBOX_INBOXES.read_text(encoding="utf-8"))
    for inbox in data["inboxes"]:
        if inbox["address"] == NEW_INBOX:
            inbox["warmup_start"] = first_day.isoformat()
    path = home / "sandbox" / "demo-inboxes.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# Written by `jengu demo`: the SANDBOX inboxes, one of them warming up from the demo's first day.\n"
        + yaml.safe_dump(data, sort_keys=False),
        encoding="utf-8",
    )
    return path


@dataclass
class DayLog:
    """What one simulated day did, for its line and for ``--json``'s ``days``."""

    day: int
    date: date
    ticks: list[str] = field(default_factory=list)
    sent_by_step: Counter[str] = field(default_factory=Counter)
    follow_ups_written: int = 0
    replies: dict[str, int] = field(default_factory=dict)
    stopped: int = 0
    postponed: int = 0
    inboxes_paused: list[str] = field(default_factory=list)
    campaigns_paused: list[str] = field(default_factory=list)
    caps: dict[str, int] = field(default_factory=dict)
    sent_by_inbox: dict[str, int] = field(default_factory=dict)
    last_tick: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "date": self.date.isoformat(),
            "weekday": f"{self.date:%a}",
            "ticks": self.ticks,
            "sent_by_step": dict(sorted(self.sent_by_step.items())),
            "follow_ups_written": self.follow_ups_written,
            "replies": self.replies,
            "stopped": self.stopped,
            "postponed": self.postponed,
            "inboxes_paused": self.inboxes_paused,
            "campaigns_paused": self.campaigns_paused,
            "caps": self.caps,
            "sent_by_inbox": self.sent_by_inbox,
        }

    def line(self) -> str:
        sent = ", ".join(f"step {step}: {n}" for step, n in sorted(self.sent_by_step.items())) or "nothing"
        replies = ", ".join(f"{category} {n}" for category, n in self.replies.items()) or "none"
        caps = ", ".join(
            f"{inbox.split('@')[0]} {self.sent_by_inbox.get(inbox, 0)}/{cap}" for inbox, cap in self.caps.items()
        )
        paused = f"; inboxes paused: {', '.join(self.inboxes_paused)}" if self.inboxes_paused else ""
        held = f"; campaigns paused: {', '.join(self.campaigns_paused)}" if self.campaigns_paused else ""
        return (
            f"  day {self.day:>2} {self.date:%a %Y-%m-%d}: sent {sent}; replies {replies}; "
            f"{self.stopped} stopped, {self.postponed} paused or postponed; sent/cap {caps}{paused}{held}"
        )


@dataclass
class _Simulation:
    """Runs the demo's days against the sandbox: follow-up writing, then per tick replies read and a send."""

    instance: dg.DagsterInstance
    sandbox: Sandbox
    store: CrmStore
    inboxes: InboxFile
    delivered: int = 0
    passes: list[dict[str, Any]] = field(default_factory=list)

    def read_replies(self, at: datetime) -> None:
        """What the world wrote by ``at``, then one pass of replies_job when it wrote anything (as the sensor)."""
        with running_at(at):
            new = self.sandbox.deliver_replies()
            self.delivered += len(new)
            if new:
                self.passes.append(run_replies_tick(self.instance))

    def run_day(self, number: int, morning: datetime) -> DayLog:
        log = DayLog(number, morning.date())
        before = self._counts()
        with running_at(morning.replace(hour=FOLLOW_UP_HOUR_UTC)):
            written = run_follow_ups_tick(self.instance)
        log.follow_ups_written = int(written["queued"]) + int(written["awaiting_approval"])
        if WEEKDAYS[morning.weekday()] in self.inboxes.sending.weekdays:
            for hour in TICK_HOURS_UTC:
                at = morning.replace(hour=hour)
                self.read_replies(at)
                with running_at(at):  # the SMTP server's Received stamps agree with the messages' Date
                    tick = run_sending_tick(self.instance, at=at)
                log.ticks.append(f"{at:%H:%M}")
                log.sent_by_step.update({str(k): int(v) for k, v in tick["sent_by_step"].items()})
                log.campaigns_paused += list(tick["paused_campaigns"])
                log.last_tick = tick
        else:
            self.read_replies(morning.replace(hour=QUIET_DAY_READ_HOUR_UTC))
        after = self._counts()
        log.replies = {
            category: n - before["replies"].get(category, 0)
            for category, n in after["replies"].items()
            if n > before["replies"].get(category, 0)
        }
        log.stopped = after["stopped"] - before["stopped"]
        log.postponed = after["postponed"] - before["postponed"]
        log.inboxes_paused = after["paused_inboxes"]
        self._caps(log)
        return log

    def _counts(self) -> dict[str, Any]:
        replies = self.store.query("SELECT intent, count(*) AS n FROM replies GROUP BY intent ORDER BY intent")
        activities = dict(
            self.store.query(
                "SELECT type, count(*) AS n FROM activities"
                " WHERE type IN ('sequence_stopped', 'sequence_paused', 'sequence_postponed')"
                " GROUP BY type"
            ).rows()
        )
        paused = self.store.query("SELECT inbox FROM inboxes WHERE status <> 'active' ORDER BY inbox")
        return {
            "replies": {str(k): int(v) for k, v in replies.rows()},
            "stopped": int(activities.get("sequence_stopped", 0)),
            "postponed": int(activities.get("sequence_postponed", 0)) + int(activities.get("sequence_paused", 0)),
            "paused_inboxes": [row[0] for row in paused.rows()],
        }

    def _caps(self, log: DayLog) -> None:
        """Each inbox's cap on the day (warm-up stage included) and what the ledger counts against it."""
        rules = self.inboxes.sending
        bounds = sending_day(datetime.combine(log.date, time(12), UTC), rules)
        counted = dict(
            self.store.query(
                "SELECT inbox, count(*) AS n FROM sends WHERE status IN ('claimed', 'sent', 'unknown', 'bounced')"
                " AND claimed_at >= ? AND claimed_at < ? GROUP BY inbox",
                [bounds.start, bounds.end],
            ).rows()
        )
        for inbox in self.inboxes.inboxes:
            log.caps[inbox.address] = inbox_day_cap(inbox, bounds.day, rules)
            log.sent_by_inbox[inbox.address] = int(counted.get(inbox.address, 0))


def run_demo(settings: Settings, *, quiet: bool, days: int = 1) -> dict[str, Any]:
    first = demo_clock(pipeline_clock.now())
    with start_sandbox(settings.home, seed=SANDBOX_SEED) as sandbox:
        os.environ.update({k: v for k, v in sandbox.env.items() if k != "JENGU_HOME"})
        inbox_file = demo_inbox_file(settings.home, first.date())
        os.environ["JENGU_INBOX_FILE"] = str(inbox_file)
        instance = dagster_instance(settings)
        store = open_store(settings.store_url)
        with store.engine.held_open():  # the demo is one process: DuckDB need not load the store per transaction
            load_campaigns(store, SANDBOX_CAMPAIGNS)
            try:
                result = import_file(SAMPLE_FILE, settings, instance, job_name="prospect_batch_job")
            except ImportFailedError as error:
                raise click.ClickException(str(error)) from error
            simulation = _Simulation(instance, sandbox, store, read_inbox_file(inbox_file))
            log: list[DayLog] = []
            try:
                for number in range(days):
                    log.append(simulation.run_day(number + 1, first + timedelta(days=number)))
                    if not quiet:
                        click.echo(log[-1].line())
                end = first + timedelta(days=days - 1)
                simulation.read_replies(end.replace(hour=23, minute=59))
                reread = len(simulation.passes)
                with running_at(end.replace(hour=23, minute=59)):
                    second_pass = run_replies_tick(instance)
            except TickFailedError as error:
                raise click.ClickException(str(error)) from error
            hotels = sandbox.world.ground_truth()["hotels"]
            truth = {person["linkedin_url"]: hotel["domain"] for hotel in hotels for person in hotel["staff"]}
            true_emails = {person["linkedin_url"]: person["email"] for hotel in hotels for person in hotel["staff"]}
            summary = _summary(
                settings,
                store,
                result,
                log,
                simulation.passes[:reread],
                second_pass,
                simulation.delivered,
                read_truth(sandbox.maildir),
                truth,
                true_emails,
                first,
                end,
            )
    if not quiet:
        _print(summary, result, first, days)
    return summary


def _summary(  # noqa: PLR0917 - the demo's figures, gathered once
    settings: Settings,
    store: CrmStore,
    result: ImportResult,
    log: list[DayLog],
    passes: list[dict[str, Any]],
    second_pass: dict[str, Any],
    delivered: int,
    reply_truth: list[dict[str, Any]],
    truth: dict[str, str],
    true_emails: dict[str, str],
    first: datetime,
    end: datetime,
) -> dict[str, Any]:
    websites = website_accuracy(store, result.batch_id, truth)
    emails = email_accuracy(store, result.batch_id, true_emails)
    calls = provider_calls(store)
    composed = message_summary(store, result.batch_id)
    ledger = sending_status(store)["ledger"]
    heard = reply_summary(store, reply_truth)
    sent_by_step: Counter[str] = Counter()
    for day in log:
        sent_by_step.update(day.sent_by_step)
    last_tick = next((day.last_tick for day in reversed(log) if day.last_tick), {})
    stopped = Counter(
        str(_json_dict(metadata).get("reason"))
        for (metadata,) in store.query("SELECT metadata FROM activities WHERE type = 'sequence_stopped'").rows()
    )
    return {
        "prospects": result.summary.accepted,
        "websites": websites["found"],
        "verified_emails": emails["ok"],
        "messages": composed["queued"] + composed["awaiting_approval"],
        "sent": sum(sent_by_step.values()),
        "sent_by_step": dict(sorted(sent_by_step.items())),
        "held": sum(ledger.get(status, 0) for status in HELD_STATUSES),
        "skipped": sum(last_tick.get("skipped", {}).values()),
        "replies": heard["by_category"],
        "suppressed": heard["suppressed"],
        "stopped": heard["stopped"],
        "days": [day.to_json() for day in log],
        "sandbox": True,
        "home": str(settings.home),
        "store": store.display_url,
        "details": {
            "batch": result.summary.__dict__,
            "totals": {t: store.count(t) for t in ("prospects", "rejected_rows", "websites", "activities")},
            "websites": websites,
            "emails": emails,
            "messages": composed,
            "follow_ups_written": sum(day.follow_ups_written for day in log),
            "sending": {
                "from": first.isoformat(),
                "to": end.isoformat(),
                "ticks": sum(len(day.ticks) for day in log),
                "last_tick": last_tick,
                "ledger": ledger,
            },
            "stopped_by_reason": dict(stopped.most_common()),
            "provider_calls": calls,
            "replies": {
                **heard,
                "delivered_by_sandbox": delivered,
                "first_pass": _passes(passes),
                "second_pass": _pass(second_pass),
                "read_at": end.replace(hour=23, minute=59).isoformat(),
            },
        },
    }


def _print(summary: dict[str, Any], result: ImportResult, first: datetime, days: int) -> None:
    details = summary["details"]
    batch, websites, emails, composed = result.summary, details["websites"], details["emails"], details["messages"]
    heard = details["replies"]
    click.echo(f"SANDBOX demo, store {summary['store']}")
    click.echo(
        f"  batch {batch.batch_id}: {batch.rows} rows, {batch.accepted} accepted "
        f"({batch.new_prospects} new, {batch.duplicates} duplicates), {batch.rejected} rejected"
    )
    click.echo(
        f"  websites: found for {websites['found']} of {websites['prospects']} prospects, "
        f"{websites['correct']} correct against the sandbox's ground truth"
    )
    click.echo(
        f"  emails: {emails['ok']} verified ({emails['ok_correct']} correct), {emails['risky']} risky "
        f"(catch-all), {emails['unreachable']} unreachable, {emails['still_new']} still pending"
    )
    click.echo(
        f"  messages: {composed['queued']} queued, {composed['awaiting_approval']} awaiting approval, "
        f"{composed['rejected']} rejected; written by {composed['written_by']}; "
        f"{composed['llm_drafts_refused']} LLM drafts refused by the gate (e.g. obeying a hostile website)"
    )
    steps = ", ".join(f"step {step}: {n}" for step, n in summary["sent_by_step"].items()) or "nothing"
    click.echo(
        f"  {days} simulated day(s) from {first:%a %Y-%m-%d} (sandbox clock, ticks at "
        f"{', '.join(f'{hour:02d}:00' for hour in TICK_HOURS_UTC)} UTC on weekdays): sent {steps}; "
        f"{details['follow_ups_written']} follow-ups written; the last tick left {summary['skipped']} for later"
    )
    click.echo(
        f"  replies: {heard['delivered_by_sandbox']} written by the world, {heard['first_pass']['stored']} stored "
        f"over {heard['first_pass']['passes']} passes, a last pass stored {heard['second_pass']['stored']}"
    )
    for category, count in summary["replies"].items():
        click.echo(f"    {category:<15} {count:>4}")
    click.echo(f"    {heard['classified_as_meant']} of {heard['with_truth']} classified as the sandbox meant them")
    click.echo(
        f"    suppressed {heard['suppressed']} addresses (hard bounces and unsubscribes), "
        f"{heard['stopped']} sequences stopped, {heard['paused']} paused by out-of-office notices"
    )
    for call in details["provider_calls"]:
        click.echo(
            f"  provider {call['provider']:<12} {call['outcome']:<15} {call['calls']:>4} calls "
            f"{call['cost_units']:>4} units"
        )
    click.echo("next: `./jengu dev` opens the Dagster UI on http://127.0.0.1:3000")


PASS_FIELDS = ("read", "stored", "duplicates", "processed", "suppressed")


def _pass(metadata: dict[str, Any]) -> dict[str, Any]:
    return {key: metadata[key] for key in PASS_FIELDS if key in metadata}


def _passes(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """The reply passes of the run added up (each message is stored by exactly one of them)."""
    totals = {key: sum(int(p.get(key, 0)) for p in passes) for key in PASS_FIELDS}
    return {**totals, "passes": len(passes)}


def reply_summary(store: CrmStore, truth: list[dict[str, Any]]) -> dict[str, Any]:
    """Stored replies by category, what they did (suppressions, stopped and paused sequences), and how many
    categories agree with what the sandbox's world meant to write."""
    meant = {record["message_id"]: record["category"] for record in truth}
    classified = store.query("SELECT rfc_message_id, intent FROM replies").rows()
    by_category = store.query("SELECT intent, count(*) AS n FROM replies GROUP BY intent ORDER BY n DESC, intent")
    counts = store.query(
        "SELECT (SELECT count(*) FROM suppressions WHERE source LIKE 'reply:%') AS suppressed,"
        " (SELECT count(*) FROM activities WHERE type = 'sequence_stopped') AS stopped,"
        " (SELECT count(*) FROM activities WHERE type = 'sequence_paused') AS paused,"
        " (SELECT count(*) FROM replies WHERE matched_by = 'none') AS unmatched"
    ).to_dicts()[0]
    return {
        "by_category": {str(k): int(v) for k, v in by_category.rows()},
        **{key: int(value) for key, value in counts.items()},
        "classified_as_meant": sum(1 for message_id, intent in classified if meant.get(message_id) == intent),
        "with_truth": sum(1 for message_id, _ in classified if message_id in meant),
    }


def website_accuracy(store: CrmStore, batch_id: str, truth: dict[str, str]) -> dict[str, int]:
    """Prospects of the batch with a known true hotel (by LinkedIn URL), how many got a website, how many right."""
    rows = store.query(
        "SELECT p.linkedin_url, p.website FROM prospects p WHERE p.batch_id = ? AND p.company IS NOT NULL", [batch_id]
    ).rows()
    known = [(truth[url], website) for url, website in rows if url in truth]
    return {
        "prospects": len(known),
        "found": sum(1 for _, website in known if website is not None),
        "correct": sum(1 for true, website in known if website == true),
    }


def email_accuracy(store: CrmStore, batch_id: str, truth: dict[str, str]) -> dict[str, int]:
    """The batch's prospects by email outcome, and how many verified addresses are the person's real one."""
    rows = store.query(
        "SELECT linkedin_url, email, email_status, stage FROM prospects WHERE batch_id = ?", [batch_id]
    ).rows()
    verified = [(url, email) for url, email, status, _ in rows if status == "ok"]
    return {
        "ok": len(verified),
        "ok_correct": sum(1 for url, email in verified if truth.get(url) == email),
        "risky": sum(1 for *_, status, _ in rows if status == "risky"),
        "unreachable": sum(1 for *_, stage in rows if stage == "unreachable"),
        "still_new": sum(1 for *_, stage in rows if stage == "new"),
    }


def provider_calls(store: CrmStore) -> list[dict[str, Any]]:
    return store.query(
        "SELECT provider, outcome, count(*) AS calls, sum(cost_units) AS cost_units FROM provider_calls"
        " GROUP BY provider, outcome ORDER BY provider, outcome"
    ).to_dicts()


def message_summary(store: CrmStore, batch_id: str) -> dict[str, Any]:
    """The batch's messages by status and writer, and how many LLM drafts the gate refused."""
    rows = store.query(
        "SELECT status, coalesce(template, provider) AS writer, attempts FROM messages WHERE batch_id = ?", [batch_id]
    ).rows()
    by_status = {
        status: sum(1 for s, *_ in rows if s == status) for status in ("queued", "awaiting_approval", "rejected")
    }
    writers: dict[str, int] = {}
    for _, writer, _ in rows:
        writers[writer] = writers.get(writer, 0) + 1
    refused = sum(
        1
        for *_, attempts in rows
        for attempt in _json_list(attempts)
        if attempt["writer"] != "template" and attempt["outcome"] == "gate_failed"
    )
    return {**by_status, "written_by": writers, "llm_drafts_refused": refused}


def _json_dict(value: Any) -> dict[str, Any]:
    return dict(json.loads(value) if isinstance(value, str) else value or {})


def _json_list(value: Any) -> list[Any]:
    return list(json.loads(value) if isinstance(value, str) else value or [])
