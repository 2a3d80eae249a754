"""The sandbox's stand-in for a language model: a plausible personal cold email built from the prompt.

It looks for a world person ("Zoë Ørsted") and hotel named in the prompt, falls back to
``first_name: ...`` / ``company: ...`` style fields, and answers deterministically (the same
prompt gives the same text), so that caching and idempotence can be tested. It honours
``max_tokens`` by truncating, as a real model does.

Asked for a reply's intent (the classifier's ``reply-intent`` prompt), it answers what the world's person
meant, except that one answer in seven names a category that does not exist and one in eleven is prose, as
real models sometimes do: the caller must check every answer.
"""

from __future__ import annotations

import itertools
import json
import re
import zlib
from dataclasses import dataclass

from jengu_pipeline.domain.replies.llm_intent import PROMPT_VERSION
from jengu_pipeline.sandbox.world import Behaviour, Hotel, Person, World, fold

_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_FIELD = r"[\"']?\s*[:=]\s*[\"']?([^\n\"',;]+)"
_FIRST_NAME = re.compile(r"(?i)\bfirst[ _-]?name" + _FIELD)
_COMPANY = re.compile(r"(?i)\b(?:hotel|company)(?:[ _-]?name)?" + _FIELD)
_SENDER = re.compile(r"(?i)\b(?:sender|signature|sign[ _-]?off)(?:[ _-]?name)?" + _FIELD)
_INJECTION = re.compile(r"(?i)ignore (?:all )?(?:previous|prior) instructions")
_INJECTED_LINK = re.compile(r"(?:https?://|[\w.+-]+@)[\w.-]+\.[a-z]{2,}(?:/[\w/-]*)?")

SUBJECTS = (
    "A quick idea for {hotel}",
    "{hotel}: more direct bookings this season?",
    "Question about guest messaging at {hotel}",
)
OPENERS = (
    "I came across {hotel}{where} and loved how personal your guest experience looks.",
    "I was reading about {hotel}{where} and had a thought I wanted to share.",
    "Congratulations on the great reviews {hotel} has been getting{where}.",
)
PITCH = (
    "We help independent hotels answer guest enquiries instantly, around the clock, so your team "
    "spends less time on repetitive emails and more on the guests in front of them."
)
FOLLOW_UP_OPENERS = (
    "I wrote to you a few days ago about {hotel} and wanted to follow up briefly.",
    "A short follow-up on my note about {hotel}{where}, in case it got buried.",
    "Following up on my last email: one more thought for {hotel}.",
)
"""How a follow-up opens: the prompt holds a THREAD block (the earlier messages of the conversation)."""
CALLS_TO_ACTION = (
    "Would a 15-minute call next week be useful?",
    "Open to a short chat to see if this fits {hotel}?",
    "Shall I send over a two-minute video showing how it works?",
)


@dataclass(frozen=True)
class Draft:
    """A completion: its text, whether max_tokens cut it, and token counts for ``usage``."""

    text: str
    truncated: bool
    prompt_tokens: int
    completion_tokens: int


INTENT_PROMPT = f"[{PROMPT_VERSION}]"
_FROM_LINE = re.compile(r"^From: (\S+@\S+)$", re.MULTILINE)
_MEANT = {
    Behaviour.POSITIVE: "interested",
    Behaviour.QUESTION: "question",
    Behaviour.NEGATIVE: "not_interested",
}


def count_tokens(text: str) -> int:
    """Rough token count (about 3 words = 4 tokens), enough for usage fields and max_tokens."""
    return len(text.split()) * 4 // 3 + 1


class Writer:
    """Composes messages for the OpenAI- and Anthropic-shaped endpoints from one world."""

    def __init__(self, world: World) -> None:
        self._world = world
        self._hotels = world.hotels
        self._by_name: dict[tuple[str, str], list[tuple[Hotel, Person]]] = {}
        for hotel, person in world.people():
            key = (fold(person.first), fold(person.last.split()[0]))
            self._by_name.setdefault(key, []).append((hotel, person))

    def _find(self, prompt: str) -> tuple[Hotel | None, Person | None]:
        folded = fold(prompt)
        words = [fold(word) for word in _WORD.findall(prompt)]
        for pair in itertools.pairwise(words):
            found = self._by_name.get(pair)
            if found:
                named = [item for item in found if fold(item[0].name) in folded]
                return (named or found)[0]
        return next((h for h in self._hotels if fold(h.name) in folded), None), None

    def _intent(self, prompt: str) -> Draft:
        pick = zlib.crc32(prompt.encode())
        sender = _FROM_LINE.search(prompt)
        found = self._world.person(sender[1]) if sender else None
        category = _MEANT.get(found[1].behaviour, "other") if found else "other"
        if pick % 11 == 0:
            text = f"I think this person is {category}."
        else:
            answer = "very_interested" if pick % 7 == 0 else category
            text = json.dumps({"category": answer, "detail": None})
        return Draft(text, False, count_tokens(prompt), count_tokens(text))

    def compose(self, prompt: str, *, max_tokens: int, as_json: bool = False) -> Draft:
        if INTENT_PROMPT in prompt:
            return self._intent(prompt)
        hotel, person = self._find(prompt)
        first = person.first if person else (_field(_FIRST_NAME, prompt) or "there").split()[0]
        hotel_name = hotel.name if hotel else _field(_COMPANY, prompt) or "your hotel"
        where = f" in {hotel.city}" if hotel else ""
        sender = _field(_SENDER, prompt)
        pick = zlib.crc32(prompt.encode())
        subject = SUBJECTS[pick % len(SUBJECTS)].format(hotel=hotel_name)
        openers = FOLLOW_UP_OPENERS if "\nTHREAD (" in prompt else OPENERS
        paragraphs = [
            f"Hi {first},",
            openers[pick // 3 % len(openers)].format(hotel=hotel_name, where=where),
            PITCH,
            CALLS_TO_ACTION[pick // 9 % len(CALLS_TO_ACTION)].format(hotel=hotel_name),
            "Best regards," + (f"\n{sender}" if sender else ""),
        ]
        injected = _obeyed_injection(prompt)
        if injected:
            paragraphs.insert(3, injected)
        body = "\n\n".join(paragraphs)
        text = (
            json.dumps({"subject": subject, "body": body}, ensure_ascii=False)
            if as_json
            else (f"Subject: {subject}\n\n{body}")
        )
        completion = count_tokens(text)
        truncated = completion > max_tokens
        if truncated:
            text = " ".join(text.split(" ")[: max(1, max_tokens * 3 // 4)])
            completion = max_tokens
        return Draft(text, truncated, count_tokens(prompt), completion)


def _obeyed_injection(prompt: str) -> str | None:
    """A gullible model, on purpose: it follows links and addresses that injected text asks it to pass on.

    Real models sometimes do; the sandbox always does, so tests can prove the gate stops such a message.
    """
    marker = _INJECTION.search(prompt)
    if marker is None:
        return None
    targets = list(dict.fromkeys(_INJECTED_LINK.findall(prompt[marker.end() :])))
    return f"Please write to {' or visit '.join(targets)} for our best offer." if targets else None


def _field(pattern: re.Pattern[str], prompt: str) -> str | None:
    match = pattern.search(prompt)
    return match.group(1).strip() if match else None
