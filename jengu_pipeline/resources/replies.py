"""The ``replies`` resource: where replies are read from, and one pass that reads, classifies and acts.

Sources: every inbox of ``inboxes.yaml`` with an ``imap`` block (its ``reply_folders``), the file's
``reply_mailboxes`` (a campaign's ``reply_to`` that is not a sending inbox), and a Maildir (the sandbox's, by
default under ``$JENGU_HOME/sandbox/maildir``). Passwords are read from the environment variables the file
names, only when a pass runs.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from jengu_pipeline import clock
from jengu_pipeline.domain.inboxes import ImapConfig, InboxFile, read_inbox_file
from jengu_pipeline.domain.replies import ParsedReply, ReplyClassification
from jengu_pipeline.domain.reply_effects import NOTIFY
from jengu_pipeline.domain.reply_forward import ForwardedReply, forward_message
from jengu_pipeline.resources.imap import ImapEndpoint
from jengu_pipeline.resources.llm import LlmResource
from jengu_pipeline.resources.mailbox import ImapSource, MaildirSource, Reader, SourceReport, fingerprint
from jengu_pipeline.resources.redaction import redacting_logger
from jengu_pipeline.resources.reply_classifier import ReplyClassifier
from jengu_pipeline.resources.sending import SANDBOX_TLDS, SendingResource
from jengu_pipeline.resources.smtp import Outcome as SmtpOutcome
from jengu_pipeline.resources.smtp import SmtpSession
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.replies import (
    FailedAddress,
    Outcome,
    Verdict,
    claim_handoff,
    pending_handoffs,
    process_reply,
    raw_of,
    record_reclassification,
    release_handoff,
    unprocessed,
)

log = redacting_logger(__name__)

PROCESS_BATCH = 200
NOTIFY_EXCERPT = 200


class ReplySourceError(ValueError):
    """A reply source is misconfigured (a password variable unset, an unreadable inbox file)."""


def verdict_of(parsed: ParsedReply, classification: ReplyClassification) -> Verdict:
    """The classifier's answer in the store's terms, with the ids matching needs."""
    thread = [parsed.in_reply_to, *reversed(parsed.references)]
    thread_ids = tuple(dict.fromkeys(mid for mid in thread if mid))
    return Verdict(
        category=classification.category,
        detail=classification.detail,
        return_date=classification.return_date,
        new_text=classification.new_text,
        classifier=classification.classifier,
        failed=tuple(
            FailedAddress(f.email, f.hard, f.status, f.action, f.diagnostic) for f in classification.failed_recipients
        ),
        thread_ids=thread_ids,
        in_reply_to=parsed.in_reply_to,
        original_message_id=parsed.original_message_id,
        to_addresses=parsed.to_addresses,
    )


@dataclass
class PassReport:
    """One pass: what each source read, what was processed, and what it caused."""

    sources: list[SourceReport] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    notified: int = 0
    forwarded: int = 0

    @property
    def categories(self) -> dict[str, int]:
        return dict(Counter(outcome.category for outcome in self.outcomes))

    @property
    def suppressed(self) -> list[str]:
        return sorted({email for outcome in self.outcomes for email in outcome.suppressed})

    def as_dict(self) -> dict[str, Any]:
        return {
            "read": sum(s.read for s in self.sources),
            "stored": sum(s.stored for s in self.sources),
            "duplicates": sum(s.duplicates for s in self.sources),
            "processed": len(self.outcomes),
            "categories": self.categories,
            "suppressed": len(self.suppressed),
            "stopped": sum(outcome.stopped for outcome in self.outcomes),
            "paused": sum(outcome.paused_until is not None for outcome in self.outcomes),
            "unmatched": sum(outcome.matched_by == "none" for outcome in self.outcomes),
            "notified": self.notified,
            "forwarded": self.forwarded,
            "sources": [source.as_dict() for source in self.sources],
        }


def _password(variable: str | None, what: str) -> str:
    value = os.environ.get(variable or "")
    if variable and not value:
        raise ReplySourceError(f"{what}: environment variable {variable} is not set")
    return value or ""


def _imap_sources(address: str, imap: ImapConfig) -> list[ImapSource]:
    if imap.username is None:
        return []
    endpoint = ImapEndpoint(
        imap.host,
        imap.port,
        imap.tls,
        imap.username,
        _password(imap.password_env, f"reply mailbox {address} IMAP password"),
        sent_folder=imap.sent_folder,
    )
    return [ImapSource(f"imap:{address}", endpoint, folder) for folder in imap.reply_folders]


def sources_of(config: InboxFile | None, maildir: Path | None) -> list[ImapSource | MaildirSource]:
    """Every mailbox a pass reads, each under a stable name (its reading position is kept by that name)."""
    found: list[ImapSource | MaildirSource] = []
    if config is not None:
        for inbox in config.inboxes:
            if inbox.imap is not None:
                found += _imap_sources(inbox.address, inbox.imap)
        for mailbox in config.reply_mailboxes:
            found += _imap_sources(mailbox.address, mailbox.imap)
    if maildir is not None:
        found.append(MaildirSource("maildir:default", maildir))
    return found


def unsubscribe_addresses(config: InboxFile | None) -> frozenset[str]:
    """A dedicated unsubscribe mailbox: mail to it is an unsubscribe whatever it says."""
    mailto = config.sending.unsubscribe_mailto if config is not None else None
    return frozenset({mailto.lower()} if mailto else set())


def process_pending(
    store: CrmStore, *, now: Callable[[], datetime], classifier: ReplyClassifier, limit: int = 10_000
) -> list[Outcome]:
    """Classify and act on every stored reply not processed yet, one transaction each."""
    outcomes: list[Outcome] = []
    while len(outcomes) < limit:
        pending = store.run(lambda tx: unprocessed(tx, PROCESS_BATCH))
        if not pending:
            break
        classified = classifier.classify([(raw, received_at.date()) for _, raw, received_at in pending])
        for (reply_id, _, _), (parsed, classification) in zip(pending, classified, strict=True):
            work = partial(
                process_reply,
                reply_id=reply_id,
                verdict=verdict_of(parsed, classification),
                now=now(),
                unsubscribe_addresses=classifier.unsubscribe,
            )
            if (outcome := store.run(work)) is not None:
                outcomes.append(outcome)
        if len(pending) < PROCESS_BATCH:
            break
    return outcomes


def reclassify(
    store: CrmStore, reply_ids: Sequence[str], *, now: Callable[[], datetime], classifier: ReplyClassifier
) -> list[tuple[str, str | None, str]]:
    """Classify stored replies again from their raw bytes; returns (reply id, old category, new category).

    A changed category is recorded with an activity; effects already applied (a suppression) stay, since undoing
    an unsubscribe by reclassifying would mail someone who asked not to be.
    """
    changes: list[tuple[str, str | None, str]] = []
    stored = store.run(lambda tx: raw_of(tx, reply_ids))
    classified = classifier.classify([(raw, received_at.date()) for _, raw, received_at in stored])
    for (reply_id, _, _), (parsed, classification) in zip(stored, classified, strict=True):
        work = partial(
            record_reclassification,
            reply_id=reply_id,
            verdict=verdict_of(parsed, classification),
            now=now(),
            unsubscribe_addresses=classifier.unsubscribe,
        )
        changes.append((reply_id, store.run(work), classification.category))
    return changes


DEFAULT_FORWARD_CATEGORIES = "interested,question,not_interested,other"


class ReplyMailboxResource(dg.ConfigurableResource):
    """The ``mailboxes`` resource: the inbox file's IMAP folders and reply mailboxes, a Maildir, and hand-offs.

    Interested replies and questions notify the operator (the alert webhook) once each; with ``forward_to`` set,
    every human reply of ``forward_categories`` is forwarded once over the SMTP of the inbox it answered.
    """

    sending: SendingResource
    llm: LlmResource = Field(default_factory=LlmResource, description="The models asked for a second opinion.")
    llm_intent: bool = Field(
        default=False, description="JENGU_REPLY_LLM=1: the LLM gives a second opinion on a person's intent."
    )
    maildir: str = Field(default="", description="A Maildir to read replies from (the sandbox's); empty: none.")
    max_messages: int = Field(default=5000, ge=1, description="Messages one pass reads per source.")
    console_url: str = Field(default="http://127.0.0.1:8030", description="Base of the links in notifications.")
    forward_to: str = Field(default="", description="JENGU_FORWARD_TO: a person's inbox for human replies.")
    forward_categories: str = Field(
        default=DEFAULT_FORWARD_CATEGORIES, description="Comma-separated reply categories that are forwarded."
    )

    def inbox_config(self) -> InboxFile | None:
        path = self.sending.path()
        return read_inbox_file(path) if path.exists() else None

    def sources(self) -> list[ImapSource | MaildirSource]:
        return sources_of(self.inbox_config(), Path(self.maildir) if self.maildir else None)

    def fingerprints(self) -> dict[str, str]:
        """Per source and folder, a summary that changes with new mail (for the sensor's cursor)."""
        return {
            f"{source.name}/{getattr(source, 'folder', 'maildir')}": fingerprint(source) for source in self.sources()
        }

    def classifier(self, store: CrmStore, config: InboxFile | None, *, llm: bool | None = None) -> ReplyClassifier:
        """The rules, with the LLM's second opinion when ``llm`` (default: the resource's setting) and configured."""
        wanted = self.llm_intent if llm is None else llm
        chat = partial(self.llm.build_chat, store) if wanted and self.llm.configured else None
        return ReplyClassifier(unsubscribe_addresses(config), chat)

    def run_pass(self, store: CrmStore, *, alert: Callable[[str], object]) -> PassReport:
        """Read what is new, classify and act on every unprocessed reply, then notify and forward."""
        config = self.inbox_config()
        report = PassReport()
        report.sources = Reader(store, clock.now, max_messages=self.max_messages).read(
            sources_of(config, Path(self.maildir) if self.maildir else None)
        )
        report.outcomes = process_pending(store, now=clock.now, classifier=self.classifier(store, config))
        report.notified = self._notify(store, alert)
        report.forwarded = self._forward(store, config)
        return report

    def prospect_url(self, prospect_id: str | None) -> str | None:
        return f"{self.console_url.rstrip('/')}/prospects/{prospect_id}" if prospect_id else None

    def _notify(self, store: CrmStore, alert: Callable[[str], object]) -> int:
        notified = 0
        for handoff in store.run(lambda tx: pending_handoffs(tx, "notified_at", sorted(NOTIFY))):
            if not store.run(partial(claim_handoff, column="notified_at", reply_id=handoff.reply_id, now=clock.now())):
                continue
            excerpt = " ".join((handoff.new_text or "").split())[:NOTIFY_EXCERPT]
            alert(
                f"reply {handoff.category} from {handoff.from_address or 'unknown'}: {excerpt}"
                f" {self.prospect_url(handoff.prospect_id) or ''}".rstrip()
            )
            notified += 1
        return notified

    def _forward(self, store: CrmStore, config: InboxFile | None) -> int:
        if not self.forward_to:
            return 0
        if config is None or not config.inboxes:
            raise ReplySourceError("JENGU_FORWARD_TO is set but there is no inbox file to forward from")
        if self.sending.sandbox and not self.forward_to.lower().endswith(SANDBOX_TLDS):
            raise ReplySourceError(f"sandbox: refusing to forward replies to {self.forward_to} (not .test/.example)")
        categories = [c.strip() for c in self.forward_categories.split(",") if c.strip()]
        inboxes = {inbox.address: inbox for inbox in config.inboxes}
        forwarded = 0
        sessions: dict[str, SmtpSession] = {}
        try:
            for handoff in store.run(lambda tx: pending_handoffs(tx, "forwarded_at", categories)):
                inbox = inboxes.get(handoff.inbox or "") or config.inboxes[0]
                if not store.run(
                    partial(claim_handoff, column="forwarded_at", reply_id=handoff.reply_id, now=clock.now())
                ):
                    continue
                session = sessions.get(inbox.address) or sessions.setdefault(
                    inbox.address, SmtpSession(self.sending.smtp_endpoint(inbox))
                )
                raw = store.run(partial(raw_of, reply_ids=[handoff.reply_id]))[0][1]
                message = forward_message(
                    ForwardedReply(
                        handoff.reply_id,
                        handoff.category,
                        handoff.detail,
                        handoff.from_address,
                        handoff.subject,
                        handoff.new_text,
                        handoff.prospect_id,
                        self.prospect_url(handoff.prospect_id),
                        handoff.sent_subject,
                        handoff.sent_body,
                        raw,
                    ),
                    sender=inbox.address,
                    to=self.forward_to,
                    at=clock.now(),
                )
                result = session.send(inbox.address, self.forward_to, message)
                if result.outcome == SmtpOutcome.SENT:
                    forwarded += 1
                elif result.outcome != SmtpOutcome.UNKNOWN:
                    store.run(partial(release_handoff, column="forwarded_at", reply_id=handoff.reply_id))
                    log.error("forward of %s refused: %s", handoff.reply_id, result.reply)
        finally:
            for session in sessions.values():
                session.close()
        return forwarded
