"""`jengu demo`: the main job on the sample batch against the SANDBOX, measured against its ground truth.

The sandbox is started in this process on loopback and every provider resource is pointed at it through the
JENGU_* variables it exports, before the Definitions are loaded. Nothing here can reach a real provider,
host or inbox: the sample and the world use reserved TLDs only.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from jengu_pipeline import clock as pipeline_clock
from jengu_pipeline.clock import running_at
from jengu_pipeline.imports import ImportFailedError, import_file
from jengu_pipeline.instance import PROJECT_ROOT, dagster_instance
from jengu_pipeline.sandbox import start_sandbox
from jengu_pipeline.sandbox.replies import read_truth
from jengu_pipeline.settings import Settings
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.campaigns import load_campaigns
from jengu_pipeline.store.sending import HELD_STATUSES, sending_status
from jengu_pipeline.ticks import TickFailedError, run_replies_tick, run_sending_tick

SAMPLE_FILE = PROJECT_ROOT / "data" / "sample" / "sales_navigator_sample.csv"
SANDBOX_SEED = 7
"""The seed the sample file was generated from: the demo's world must be the same one."""
SANDBOX_CAMPAIGNS = PROJECT_ROOT / "jengu_pipeline" / "sandbox" / "campaigns"
"""The demo's active campaign: every verified contact of the sandbox world, reserved domains only."""
SANDBOX_INBOXES = PROJECT_ROOT / "jengu_pipeline" / "sandbox" / "inboxes.yaml"
"""The demo's inboxes: their SMTP goes to the sandbox's loopback server, whatever host they name."""
REPLY_WAIT = timedelta(days=6)
"""How far the demo runs its clock past the sending tick before it reads the replies: long enough for every
person of the world to answer and every mail system to give up on a deferred delivery."""
DEMO_HOUR_UTC = 10
"""The demo's sending tick runs at 10:00 UTC on a weekday: business hours across Europe, not yet in America."""


def demo_clock(today: datetime) -> datetime:
    """The next weekday at 10:00 UTC from ``today`` (the sandbox clock of the demo's one sending tick)."""
    moment = today.astimezone(UTC).replace(hour=DEMO_HOUR_UTC, minute=0, second=0, microsecond=0)
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    return moment


def run_demo(settings: Settings, *, quiet: bool) -> dict[str, Any]:
    with start_sandbox(settings.home, seed=SANDBOX_SEED) as sandbox:
        os.environ.update({k: v for k, v in sandbox.env.items() if k != "JENGU_HOME"})
        os.environ["JENGU_INBOX_FILE"] = str(SANDBOX_INBOXES)
        instance = dagster_instance(settings)
        load_campaigns(open_store(settings.store_url), SANDBOX_CAMPAIGNS)
        try:
            result = import_file(SAMPLE_FILE, settings, instance, job_name="prospect_batch_job")
        except ImportFailedError as error:
            raise click.ClickException(str(error)) from error
        clock = demo_clock(pipeline_clock.now())
        try:
            with running_at(clock):  # the SMTP server's Received stamps agree with the messages' Date
                tick = run_sending_tick(instance, at=clock)
            with running_at(clock + REPLY_WAIT):
                delivered = sandbox.deliver_replies()
                first_pass = run_replies_tick(instance)
                second_pass = run_replies_tick(instance)
        except TickFailedError as error:
            raise click.ClickException(str(error)) from error
        hotels = sandbox.world.ground_truth()["hotels"]
        truth = {person["linkedin_url"]: hotel["domain"] for hotel in hotels for person in hotel["staff"]}
        true_emails = {person["linkedin_url"]: person["email"] for hotel in hotels for person in hotel["staff"]}
    store = open_store(settings.store_url)
    websites = website_accuracy(store, result.batch_id, truth)
    emails = email_accuracy(store, result.batch_id, true_emails)
    calls = provider_calls(store)
    composed = message_summary(store, result.batch_id)
    ledger = sending_status(store)["ledger"]
    heard = reply_summary(store, read_truth(sandbox.maildir))
    summary: dict[str, Any] = {
        "prospects": result.summary.accepted,
        "websites": websites["found"],
        "verified_emails": emails["ok"],
        "messages": composed["queued"] + composed["awaiting_approval"],
        "sent": tick["sent"],
        "held": sum(ledger.get(status, 0) for status in HELD_STATUSES),
        "skipped": sum(tick["skipped"].values()),
        "replies": heard["by_category"],
        "suppressed": heard["suppressed"],
        "sandbox": True,
        "home": str(settings.home),
        "store": store.display_url,
        "details": {
            "batch": result.summary.__dict__,
            "totals": {t: store.count(t) for t in ("prospects", "rejected_rows", "websites", "activities")},
            "websites": websites,
            "emails": emails,
            "messages": composed,
            "sending": {**tick, "at": clock.isoformat(), "ledger": ledger},
            "provider_calls": calls,
            "replies": {
                **heard,
                "delivered_by_sandbox": len(delivered),
                "first_pass": _pass(first_pass),
                "second_pass": _pass(second_pass),
                "read_at": (clock + REPLY_WAIT).isoformat(),
            },
        },
    }
    if not quiet:
        batch = result.summary
        click.echo(f"SANDBOX demo, store {store.display_url}")
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
        click.echo(
            f"  sending tick at {clock:%a %Y-%m-%d %H:%M} UTC (sandbox clock): {tick['sent']} sent, "
            f"outcomes {tick['outcomes']}, left for later {tick['skipped']}"
        )
        click.echo(
            f"  replies read {clock + REPLY_WAIT:%a %Y-%m-%d} (sandbox clock, {REPLY_WAIT.days} days on): "
            f"{len(delivered)} written by the world, {first_pass['stored']} stored, "
            f"a second pass stored {second_pass['stored']}"
        )
        for category, count in heard["by_category"].items():
            click.echo(f"    {category:<15} {count:>4}")
        click.echo(f"    {heard['classified_as_meant']} of {heard['with_truth']} classified as the sandbox meant them")
        click.echo(
            f"    suppressed {heard['suppressed']} addresses (hard bounces and unsubscribes), "
            f"{heard['stopped']} sequences stopped, {heard['paused']} paused by out-of-office notices"
        )
        for call in calls:
            click.echo(
                f"  provider {call['provider']:<12} {call['outcome']:<15} {call['calls']:>4} calls "
                f"{call['cost_units']:>4} units"
            )
        click.echo("next: `./jengu dev` opens the Dagster UI on http://127.0.0.1:3000")
    return summary


def _pass(metadata: dict[str, Any]) -> dict[str, Any]:
    keys = ("read", "stored", "duplicates", "processed", "suppressed")
    return {key: metadata[key] for key in keys if key in metadata}


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


def _json_list(value: Any) -> list[Any]:
    return list(json.loads(value) if isinstance(value, str) else value or [])
