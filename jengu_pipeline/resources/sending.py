"""One sending tick: reconcile what a crash left unknown, plan by the rules, then claim, send, record, one by one.

The order per message is the guarantee: the ledger claim is committed first (it re-checks the emergency stop,
the inbox's pause, the campaign, the sequence's stops and pauses, suppression and caps in its transaction), then
the SMTP conversation, then the outcome. A process killed in between leaves a ``claimed`` row that the next tick
turns into ``unknown`` and, when the inbox has IMAP, settles by finding the Message-ID in its Sent folder;
nothing is resent blindly. Passwords and DKIM keys are read from the environment variables the inbox file names,
at send time, and never stored or logged. Before planning, and after every hard bounce, the campaign health
guard may pause a campaign (and alert); its queued messages then wait.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import dns.resolver
from pydantic import Field

from jengu_pipeline import clock
from jengu_pipeline.domain.compose import signed_as
from jengu_pipeline.domain.inboxes import InboxConfig, InboxFile, read_inbox_file
from jengu_pipeline.domain.outbound import (
    OutboundEmail,
    OutboundEmailError,
    build_message,
    choose_inbox,
    new_message_id,
    reply_to_for,
    sign_dkim,
)
from jengu_pipeline.domain.sending import (
    Health,
    InboxState,
    QueueItem,
    SendingDay,
    bounce_health,
    in_business_hours,
    inbox_block,
    inbox_day_cap,
    plan_tick,
    prospect_zone,
    sending_day,
)
from jengu_pipeline.domain.unsubscribe import UnsubscribeSecretError, signer_from, unsubscribe_link
from jengu_pipeline.resources.imap import ImapEndpoint
from jengu_pipeline.resources.redaction import redacting_logger
from jengu_pipeline.resources.sender_dns import DomainCheck, check_inboxes
from jengu_pipeline.resources.sent_folder import SentFolderError, find_sent
from jengu_pipeline.resources.smtp import Outcome, SmtpEndpoint, SmtpResult, SmtpSession
from jengu_pipeline.store import sending as ledger
from jengu_pipeline.store.campaign_lifecycle import complete_ended_campaigns, guard_campaigns
from jengu_pipeline.store.repository import CrmStore

log = redacting_logger(__name__)

SANDBOX_TLDS = (".test", ".example")
LEDGER_STATUS: dict[Outcome, ledger.SendStatus] = {
    Outcome.SENT: "sent",
    Outcome.DEFERRED: "deferred",
    Outcome.HARD_BOUNCE: "bounced",
    Outcome.BLOCKED: "blocked",
    Outcome.AUTH_FAILED: "deferred",
    Outcome.CONNECTION_FAILED: "deferred",
    Outcome.UNKNOWN: "unknown",
}
"""Ledger state per SMTP outcome: nothing sent is retried later; a maybe-sent is held, never retried."""


class SendingConfigError(Exception):
    """The inbox file or an inbox's secrets are missing or unusable; nothing was sent."""


def _secret(name: str | None, what: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise SendingConfigError(f"{what}: environment variable {name} is not set")
    return value


@dataclass
class TickReport:
    """What one tick did, for the run's metadata and ``jengu send --once``."""

    at: datetime
    planned: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    paused_inboxes: list[str] = field(default_factory=list)
    paused_campaigns: list[str] = field(default_factory=list)
    sent_by_step: Counter[int] = field(default_factory=Counter)
    reconciled: dict[str, int] = field(default_factory=dict)
    stopped: bool = False

    @property
    def sent(self) -> int:
        return self.outcomes["sent"]

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "planned": self.planned,
            "outcomes": dict(self.outcomes),
            "skipped": dict(self.skipped),
            "paused_inboxes": self.paused_inboxes,
            "paused_campaigns": self.paused_campaigns,
            "sent_by_step": {str(step): count for step, count in sorted(self.sent_by_step.items())},
            "reconciled": self.reconciled,
            "stopped": self.stopped,
        }


@dataclass
class Sender:
    """Runs ticks for one inbox file against one store."""

    store: CrmStore
    config: InboxFile
    alert: Callable[[str], object]
    clock: Callable[[], datetime]
    claimed_by: str
    rng: random.Random = field(default_factory=random.Random)
    sleep: Callable[[float], None] = time.sleep
    smtp_override: tuple[str, int] | None = None
    sandbox: bool = False
    claim_timeout: timedelta = timedelta(minutes=15)
    queue_limit: int = 2000
    local_hostname: str = field(default_factory=socket.gethostname)

    def __post_init__(self) -> None:
        if self.config.sending.unsubscribe_url is None:
            raise SendingConfigError("sending.unsubscribe_url: a https one-click unsubscribe URL is required")
        try:
            self._signer = signer_from(os.environ)
        except UnsubscribeSecretError as error:
            hint = " (source the sandbox's sandbox.env)" if self.sandbox else ""
            raise SendingConfigError(f"{error}{hint}; nothing was sent") from error
        self._inboxes = {inbox.address: inbox for inbox in self.config.inboxes}
        self._sessions: dict[str, SmtpSession] = {}
        ledger.sync_inboxes(self.store, self.config.inboxes)

    # Endpoints -----------------------------------------------------------------------------------------------

    def _smtp(self, inbox: InboxConfig) -> SmtpEndpoint:
        return smtp_endpoint(inbox, self.smtp_override)

    def _imap(self, inbox: InboxConfig) -> ImapEndpoint | None:
        imap = inbox.imap
        if imap is None or imap.username is None:
            return None
        password = _secret(imap.password_env, f"inbox {inbox.address} IMAP password") or ""
        return ImapEndpoint(imap.host, imap.port, imap.tls, imap.username, password, sent_folder=imap.sent_folder)

    def _session(self, inbox: InboxConfig) -> SmtpSession:
        if inbox.address not in self._sessions:
            self._sessions[inbox.address] = SmtpSession(self._smtp(inbox), local_hostname=self.local_hostname)
        return self._sessions[inbox.address]

    # The tick ------------------------------------------------------------------------------------------------

    def tick(self) -> TickReport:
        report = TickReport(at=self.clock())
        report.reconciled = self.reconcile(report.at)
        if ledger.sending_stopped(self.store):
            report.stopped = True
            return report
        self._guard(report)
        try:
            self._send_planned(report)
        finally:
            for session in self._sessions.values():
                session.close()
            self._sessions.clear()
        return report

    def reconcile(self, now: datetime) -> dict[str, int]:
        """Stale claims become unknown; unknowns found in their inbox's Sent folder become sent; the rest wait."""
        stale = ledger.stale_claims(self.store, now - self.claim_timeout)
        found = held = 0
        for send_id, address, message_ids in ledger.unknown_sends(self.store):
            inbox = self._inboxes.get(address)
            endpoint = self._imap(inbox) if inbox else None
            if endpoint is None:
                held += 1
                continue
            try:
                present = find_sent(endpoint, message_ids)
            except SentFolderError as error:
                log.warning("cannot reconcile send %s from %s's Sent folder: %s", send_id, address, error)
                held += 1
                continue
            if present:
                ledger.resolve(self.store, send_id, sent=True, actor=f"reconciled from {address} Sent folder", now=now)
                found += 1
            else:
                held += 1
        return {"stale_claims": stale, "found_in_sent": found, "held": held}

    def _guard(self, report: TickReport, campaign: str | None = None) -> None:
        """Complete campaigns past their end date; pause (and alert about) every active campaign, or ``campaign``,
        whose health has gone bad."""
        if campaign is None:
            complete_ended_campaigns(self.store, sending_day(report.at, self.config.sending).day, report.at)
        for outcome in guard_campaigns(self.store, self.config.sending, self.clock(), only=campaign):
            if outcome.paused:
                report.paused_campaigns.append(outcome.campaign_id)
                self.alert(
                    f"sending: campaign {outcome.campaign_id} paused itself: {outcome.health.pause_reason}. "
                    f"Resume with `jengu campaign resume {outcome.campaign_id}` once its copy or list is fixed."
                )

    def _states(self, report: TickReport) -> tuple[list[InboxState], int | None, SendingDay]:
        """Each inbox's room today; one whose bounce rate crossed the line since (a late DSN) is paused now."""
        rules = self.config.sending
        day = sending_day(report.at, rules)
        states = []
        for inbox in self.config.inboxes:
            seen = ledger.inbox_ledger(self.store, inbox.address, day.start, day.end, rules.bounce_window)
            health = bounce_health(seen.recent_bounces, rules)
            if health.should_pause and seen.status == "active":
                self._pause(inbox, _bounce_reason(health), report)
            blocked = inbox_block(
                paused=seen.status != "active",
                health=health,
                preflight_failed=seen.preflight_status == "failed",
                preflight_override=inbox.preflight_override,
            )
            states.append(
                InboxState(
                    inbox.address,
                    inbox_day_cap(inbox, day.day, rules),
                    seen.sent_today,
                    seen.risky_sent_today,
                    seen.last_sent_at,
                    0.0,
                    blocked,
                )
            )
        global_left = None
        if rules.global_daily_cap is not None:
            global_left = rules.global_daily_cap - ledger.sent_today_total(self.store, day.start, day.end)
        return states, global_left, day

    def _send_planned(self, report: TickReport) -> None:
        now = report.at
        rules = self.config.sending
        states, global_left, day = self._states(report)
        queued = self._within_new_prospect_caps(
            ledger.due_messages(self.store, day.day, now, self.queue_limit), day, report
        )
        ended = ledger.record_ended(self.store, [q for q in queued if q.ended_by], day, now)
        report.skipped.update(ended.values())
        queued = [q for q in queued if q.message_id not in ended]
        blocked = {q.email for q in queued if self.sandbox and not q.email.lower().endswith(SANDBOX_TLDS)}
        report.skipped.update("outside_sandbox" for q in queued if q.email in blocked)
        owners = [(inbox.address, inbox.display_name) for inbox in self.config.inboxes]
        choices = {q.message_id: choose_inbox(q.body, q.sender, owners, q.pinned_inbox) for q in queued}
        report.skipped.update(
            "no_inbox_for_signer" for q in queued if q.email not in blocked and not choices[q.message_id].allowed
        )
        by_id = {q.message_id: q for q in queued if q.email not in blocked and choices[q.message_id].allowed}
        items = [
            QueueItem(
                q.message_id, q.prospect_id, q.step, q.risky, q.timezone, q.country, inbox=choices[q.message_id].inbox
            )
            for q in by_id.values()
        ]
        plan = plan_tick(items, states, now=now, rules=rules, rng=self.rng, global_remaining=global_left)
        report.planned = len(plan.assignments)
        report.skipped.update(skip.reason for skip in plan.skipped)
        caps = {state.address: state.cap_today for state in states}
        for assignment in plan.assignments:
            if assignment.inbox in report.paused_inboxes:
                report.skipped["inbox_paused_during_tick"] += 1
                continue
            delay = (assignment.at - self.clock()).total_seconds()
            if delay > 0:
                self.sleep(delay)
            item = by_id[assignment.item.message_id]
            if not self._send_one(
                item, self._inboxes[assignment.inbox], (caps[assignment.inbox], rules.global_daily_cap), day, report
            ):
                return

    def _within_new_prospect_caps(
        self, queued: list[ledger.QueuedMessage], day: SendingDay, report: TickReport
    ) -> list[ledger.QueuedMessage]:
        """Leave out first touches over their campaign's ``daily_new_prospects`` for today (the claim re-checks).

        Only first touches that could go now (inside the prospect's business hours) use up the allowance, so
        prospects in a later time zone do not hold back those who are at work.
        """
        capped = {q.campaign_id: q.new_prospects_cap for q in queued if q.step == 1 and q.new_prospects_cap}
        if not capped:
            return queued
        left = {
            campaign: cap - ledger.first_touches_claimed(self.store, campaign, day) for campaign, cap in capped.items()
        }
        kept = []
        for item in queued:
            if item.step == 1 and item.campaign_id in left and self._reachable(item, report.at):
                if left[item.campaign_id] <= 0:
                    report.skipped["campaign_daily_new_prospects"] += 1
                    continue
                left[item.campaign_id] -= 1
            kept.append(item)
        return kept

    def _reachable(self, item: ledger.QueuedMessage, now: datetime) -> bool:
        zone = prospect_zone(item.timezone, item.country, now)
        return zone is not None and in_business_hours(now, zone, self.config.sending)

    def _send_one(
        self,
        item: ledger.QueuedMessage,
        inbox: InboxConfig,
        caps: tuple[int, int | None],
        day: SendingDay,
        report: TickReport,
    ) -> bool:
        """Claim, send, record one message; False when the emergency stop says to end the tick.

        Everything that can fail without the network (secrets, building the message) happens before the claim,
        so a claim is only ever left behind by a conversation with a mail server.
        """
        rfc_id = new_message_id(inbox.address)
        send_id = item.send_id or ledger.new_send_id()
        session = self._session(inbox)
        try:
            raw = self._raw_message(item, inbox, rfc_id, send_id)
        except OutboundEmailError as error:
            log.warning("message %s cannot be built, left queued: %s", item.message_id, error)
            report.skipped["unbuildable_message"] += 1
            return True
        try:
            claim = ledger.claim(
                self.store,
                item,
                send_id=send_id,
                inbox=inbox.address,
                rfc_message_id=rfc_id,
                now=self.clock(),
                caps=caps,
                day=day,
                claimed_by=self.claimed_by,
            )
        except ledger.ClaimRefused as refused:
            report.skipped[refused.reason] += 1
            if refused.reason == "emergency_stop":
                report.stopped = True
                return False
            return True
        result = session.send(inbox.address, item.email, raw)
        status = LEDGER_STATUS[result.outcome]
        ledger.record_outcome(
            self.store, item, claim, ledger.Outcome(status, result.code, result.reply, result.stage), now=self.clock()
        )
        report.outcomes[status] += 1
        if status == "sent":
            report.sent_by_step[item.step] += 1
        self._after(result, inbox, report)
        if status == "bounced":
            self._guard(report, item.campaign_id)
        return True

    def _raw_message(self, item: ledger.QueuedMessage, inbox: InboxConfig, rfc_id: str, send_id: str) -> bytes:
        """The message as ``inbox``'s owner sends it: signed with their name, replies to them, a signed token."""
        rules = self.config.sending
        name = " ".join(part for part in (item.first_name, item.last_name) if part) or None
        body = signed_as(item.body, item.sender, inbox.display_name) if item.sender else item.body
        if body is None:
            raise OutboundEmailError(
                "body_text",
                f"signed by {item.sender.sender_name if item.sender else '?'},"
                f" it cannot go from {inbox.display_name}'s inbox",
            )
        unsubscribe_to = rules.unsubscribe_mailto or inbox.address
        message = build_message(
            OutboundEmail(
                from_address=inbox.address,
                from_name=inbox.display_name,
                to_address=item.email,
                to_name=name,
                reply_to=reply_to_for(item.reply_to, inbox.address, self._inboxes),
                reply_to_name=inbox.display_name,
                subject=item.subject,
                body_text=body,
                body_html=None,
                message_id=rfc_id,
                unsubscribe_mailto=f"mailto:{unsubscribe_to}?subject=unsubscribe%20{send_id}",
                unsubscribe_url=unsubscribe_link(rules.unsubscribe_url or "", self._signer.token(send_id)),
                date=self.clock(),
                headers={"X-Jengu-Send-Id": send_id},
                thread=item.thread,
            )
        )
        raw = message.as_bytes()
        key = _secret(inbox.dkim_key_env, f"inbox {inbox.address} DKIM key")
        if key and inbox.dkim_selector:
            raw = sign_dkim(
                raw, domain=inbox.address.rpartition("@")[2], selector=inbox.dkim_selector, private_key_pem=key.encode()
            )
        return raw

    def _after(self, result: SmtpResult, inbox: InboxConfig, report: TickReport) -> None:
        """Pause the inbox on a sender-side problem or when its bounce rate crosses the line, and alert."""
        reason = None
        if result.outcome in (Outcome.AUTH_FAILED, Outcome.BLOCKED) or (
            result.outcome is Outcome.CONNECTION_FAILED and result.stage in ("connect", "auth")
        ):
            reason = f"SMTP {result.outcome.value} at {result.stage}: {result.reply[:200]}"
        elif result.outcome is Outcome.HARD_BOUNCE:
            rules = self.config.sending
            day = sending_day(report.at, rules)
            seen = ledger.inbox_ledger(self.store, inbox.address, day.start, day.end, rules.bounce_window)
            health = bounce_health(seen.recent_bounces, rules)
            if health.should_pause:
                reason = _bounce_reason(health)
        if reason:
            self._pause(inbox, reason, report)

    def _pause(self, inbox: InboxConfig, reason: str, report: TickReport) -> None:
        if ledger.set_inbox_paused(self.store, inbox.address, True, reason=reason, actor="sender"):
            report.paused_inboxes.append(inbox.address)
            self.alert(
                f"sending: inbox {inbox.address} paused: {reason}. Resume with "
                f"`jengu sending inbox resume {inbox.address}` once fixed."
            )


def _bounce_reason(health: Health) -> str:
    return f"{health.bounces} hard bounces in its last {health.sends} sends ({health.rate:.1%})"


def smtp_endpoint(inbox: InboxConfig, override: tuple[str, int] | None = None) -> SmtpEndpoint:
    """Where the inbox submits mail; the sandbox's ``override`` sends everything to its loopback server."""
    host, port = override or (inbox.smtp.host, inbox.smtp.port)
    return SmtpEndpoint(
        host,
        port,
        "none" if override else inbox.smtp.tls,
        username=inbox.smtp.username,
        password=_secret(inbox.smtp.password_env, f"inbox {inbox.address} SMTP password"),
    )


def preflight(
    store: CrmStore,
    config: InboxFile,
    *,
    resolver: dns.resolver.Resolver | None = None,
) -> dict[str, DomainCheck]:
    """Look up each inbox's sender domain (MX, SPF, DKIM selector, DMARC) and keep the verdict on the inbox.

    A ``failed`` verdict blocks the inbox at the next tick unless it has ``preflight_override``; ``unknown``
    (DNS did not answer) does not.
    """
    ledger.sync_inboxes(store, config.inboxes)
    checks = check_inboxes(config.inboxes, resolver=resolver)
    for address, check in checks.items():
        ledger.record_preflight(store, address, check.status, [asdict(record) for record in check.records])
    return checks


def simulated_clock(at: datetime) -> Callable[[], datetime]:
    """A clock that starts at ``at`` and runs at real speed (the demo's tick inside business hours)."""
    started = time.monotonic()
    return lambda: at + timedelta(seconds=time.monotonic() - started)


class SendingResource(dg.ConfigurableResource):
    """The ``sending`` resource: where the inbox file is; in the SANDBOX every inbox's SMTP goes to loopback."""

    inbox_file: str = Field(default="", description="Path of inboxes.yaml; empty: <project root>/inboxes.yaml.")
    sandbox: bool = Field(default=False, description="JENGU_SANDBOX=1: only .test/.example recipients, loopback SMTP.")
    sandbox_smtp_host: str = Field(default="", description="The sandbox's SMTP host (JENGU_SMTP_HOST).")
    sandbox_smtp_port: int = Field(default=0, description="The sandbox's SMTP port (JENGU_SMTP_PORT).")
    claim_timeout_minutes: int = Field(default=15, ge=1, description="A claim older than this is treated as unknown.")

    def path(self) -> Path:
        from jengu_pipeline.instance import PROJECT_ROOT

        return Path(self.inbox_file) if self.inbox_file else PROJECT_ROOT / "inboxes.yaml"

    def inbox_config(self) -> InboxFile:
        path = self.path()
        if not path.exists():
            raise SendingConfigError(f"{path}: no inbox file (copy inboxes.example.yaml to inboxes.yaml and edit it)")
        return read_inbox_file(path)

    def smtp_override(self) -> tuple[str, int] | None:
        return (self.sandbox_smtp_host, self.sandbox_smtp_port) if self.sandbox and self.sandbox_smtp_host else None

    def smtp_endpoint(self, inbox: InboxConfig) -> SmtpEndpoint:
        return smtp_endpoint(inbox, self.smtp_override())

    def sender(
        self,
        store: CrmStore,
        *,
        alert: Callable[[str], object],
        claimed_by: str,
        at: datetime | None = None,
        rng: random.Random | None = None,
    ) -> Sender:
        return Sender(
            store,
            self.inbox_config(),
            alert=alert,
            claimed_by=claimed_by,
            clock=simulated_clock(at) if at else clock.now,
            rng=rng or random.Random(),
            smtp_override=self.smtp_override(),
            sandbox=self.sandbox,
            claim_timeout=timedelta(minutes=self.claim_timeout_minutes),
        )
