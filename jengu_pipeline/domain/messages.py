"""A written message as the writing chain hands it to the store: what was asked, each tier's try, the result.

Pure data, so that the store can keep a message's provenance without knowing the writers that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from jengu_pipeline.domain.campaigns import Campaign, Step
from jengu_pipeline.domain.compose import Draft, MessageFacts
from jengu_pipeline.domain.message_gate import GateContext, GateResult

AttemptOutcome = Literal["written", "provider_error", "unusable_answer", "gate_failed"]


@dataclass(frozen=True)
class MessageRequest:
    """One message to write: the facts, the campaign and its step, and what the gate needs to judge it."""

    facts: MessageFacts
    campaign: Campaign
    step: Step
    gate: GateContext
    subject: str | None = None  # a follow-up's subject ("Re: ..." or the step's own): the writer's is replaced


@dataclass(frozen=True)
class Attempt:
    """One tier's try: who, and what came of it (gate failure rules, or the error in a line)."""

    writer: str
    model: str | None
    outcome: AttemptOutcome
    detail: str = ""
    failed_rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class WrittenMessage:
    """The final text, who wrote it with which prompt version or template, the gate's verdict and the path."""

    request: MessageRequest
    draft: Draft
    writer: str
    model: str | None
    prompt_version: str | None
    template: str | None
    gate: GateResult
    attempts: tuple[Attempt, ...] = field(default=())
