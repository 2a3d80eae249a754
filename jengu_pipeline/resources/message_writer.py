"""The writing chain for one campaign step: primary LLM, secondary LLM, then the step's Jinja2 template.

A tier's answer is used only when it passes the gate; an outage, a timeout, an unusable answer or a draft that
fails the gate (one that obeyed injected website text, say) hands the message to the next tier. Every tier
tried is recorded, so the operator sees why a message came from the template. The template is last and always
answers; if even its text fails the gate (a campaign whose footer or links break the rules), the message is kept
as rejected with the reasons, never queued.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from jengu_pipeline.domain.campaigns import Step
from jengu_pipeline.domain.compose import (
    PROMPTS,
    Draft,
    DraftError,
    build_prompt,
    parse_draft,
    render_template,
    with_footer,
)
from jengu_pipeline.domain.message_gate import GateResult, check_message
from jengu_pipeline.domain.messages import Attempt, MessageRequest, WrittenMessage
from jengu_pipeline.resources.calls import ProviderError
from jengu_pipeline.resources.llm import ChatModel, Prompt

TEMPLATE_WRITER = "template"
MAX_TOKENS = 700
TEMPERATURE = 0.7


def _fallback_template(step: Step) -> str:
    if step.template is not None:
        return step.template
    assert step.prompt is not None  # a Step has exactly one of the two
    return PROMPTS[step.prompt].fallback_template


def _judge(draft: Draft, request: MessageRequest) -> tuple[Draft, GateResult]:
    final = with_footer(Draft(request.subject or draft.subject, draft.body), request.campaign.sender)
    return final, check_message(final.subject, final.body, None, request.gate)


async def write_message(
    models: Sequence[ChatModel], request: MessageRequest, *, batch_id: str | None = None
) -> WrittenMessage:
    """Walk the chain for one message; never raises for a provider's failure."""
    attempts: list[Attempt] = []
    if request.step.prompt is not None:
        spec = PROMPTS[request.step.prompt]
        system, user = build_prompt(spec, request.facts, request.campaign.sender)
        prompt = Prompt(system, user, max_tokens=MAX_TOKENS, temperature=TEMPERATURE, json_mode=True)
        for model in models:
            try:
                completion = await model.complete(prompt, batch_id=batch_id)
            except ProviderError as error:
                attempts.append(Attempt(model.provider, None, "provider_error", str(error)[:300]))
                continue
            try:
                if completion.truncated:
                    raise DraftError(f"the answer stopped at the token limit ({completion.finish_reason})")
                final, verdict = _judge(parse_draft(completion.text), request)
            except DraftError as error:
                attempts.append(Attempt(completion.provider, completion.model, "unusable_answer", str(error)))
                continue
            if verdict.passed:
                attempts.append(Attempt(completion.provider, completion.model, "written"))
                return WrittenMessage(
                    request, final, completion.provider, completion.model, spec.version, None, verdict, tuple(attempts)
                )
            rules = tuple(failure.rule for failure in verdict.failures)
            attempts.append(Attempt(completion.provider, completion.model, "gate_failed", "; ".join(rules), rules))
    template = _fallback_template(request.step)
    final, verdict = _judge(render_template(template, request.facts, request.campaign.sender), request)
    rules = tuple(failure.rule for failure in verdict.failures)
    attempts.append(
        Attempt(TEMPLATE_WRITER, None, "written" if verdict.passed else "gate_failed", "; ".join(rules), rules)
    )
    return WrittenMessage(request, final, TEMPLATE_WRITER, None, None, template, verdict, tuple(attempts))


async def write_messages(
    models: Sequence[ChatModel],
    requests: Sequence[MessageRequest],
    *,
    batch_id: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[WrittenMessage]:
    """All messages concurrently (each provider's own limits pace the calls), in the order asked."""
    done = 0

    async def one(request: MessageRequest) -> WrittenMessage:
        nonlocal done
        written = await write_message(models, request, batch_id=batch_id)
        done += 1
        if progress is not None:
            progress(done, len(requests))
        return written

    return list(await asyncio.gather(*(one(request) for request in requests)))
