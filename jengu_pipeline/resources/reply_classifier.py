"""Classifying stored replies: the rules always, and with an LLM configured its second opinion on intent.

The model's calls go through the one call mechanism (quota, retries, ledger); a model that fails or answers
out of bounds leaves the rules' answer in place, with a signal saying so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date

from jengu_pipeline import clock
from jengu_pipeline.domain.replies import ParsedReply, ReplyClassification, classify_reply, parse_reply
from jengu_pipeline.domain.replies.llm_intent import intent_prompt, refined, wants_a_second_opinion
from jengu_pipeline.resources.calls import ProviderError
from jengu_pipeline.resources.llm import FallbackChat, Prompt
from jengu_pipeline.resources.redaction import redacting_logger

log = redacting_logger(__name__)

Classified = tuple[ParsedReply, ReplyClassification]
ANSWER_TOKENS = 120


class ReplyClassifier:
    """Classifies raw messages; ``chat`` (a factory, since clients belong to one event loop) adds the LLM."""

    def __init__(self, unsubscribe: frozenset[str], chat: Callable[[], FallbackChat] | None = None) -> None:
        self.unsubscribe = unsubscribe
        self.chat = chat

    def classify(self, messages: Sequence[tuple[bytes, date | None]]) -> list[Classified]:
        """(parsed, classification) per (raw bytes, day received), in order; an unknown day is the message's
        Date, else today."""
        results: list[Classified] = []
        for raw, received_on in messages:
            parsed = parse_reply(raw)
            day = received_on or (parsed.date.date() if parsed.date else clock.now().date())
            results.append((parsed, classify_reply(parsed, received_on=day, unsubscribe_addresses=self.unsubscribe)))
        if self.chat is None or not any(wants_a_second_opinion(c) for _, c in results):
            return results
        return asyncio.run(self._second_opinions(self.chat(), results))

    async def _second_opinions(self, chat: FallbackChat, results: list[Classified]) -> list[Classified]:
        try:
            return list(await asyncio.gather(*(self._second_opinion(chat, p, c) for p, c in results)))
        finally:
            await chat.aclose()

    @staticmethod
    async def _second_opinion(chat: FallbackChat, parsed: ParsedReply, rules: ReplyClassification) -> Classified:
        if not wants_a_second_opinion(rules):
            return parsed, rules
        system, user = intent_prompt(rules, parsed.subject, parsed.from_address)
        try:
            completion = await chat.complete(
                Prompt(system, user, max_tokens=ANSWER_TOKENS, temperature=0.0, json_mode=True)
            )
        except ProviderError as error:
            log.warning("no LLM second opinion on a reply, the rules' answer stands: %s", error)
            return parsed, replace(rules, signals=(*rules.signals, "llm:unavailable"))
        return parsed, refined(rules, completion.text, completion.provider)
