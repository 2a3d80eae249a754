"""The reply's own words: quoted originals, attribution lines, forwarded blocks and signatures taken away.

Only this text decides intent, so that our own footer ("Not interested? Reply stop...") in the quote never
does. mail-parser-reply knows the clients' separators and signatures in many languages; before it runs, the
``>``-quoted lines and the attribution line above them go, which also finds the words of a bottom-poster.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from typing import Final

from mailparser_reply import EmailReplyParser

from jengu_pipeline.domain.replies.model import NEW_TEXT_LIMIT

LANGUAGES: Final = ("en", "de", "fr", "es", "it", "nl", "pt")

_QUOTED: Final = re.compile(r"^\s*>")
_ATTRIBUTION_END: Final = re.compile(
    r"(wrote|schrieb|a écrit|escribió|ha scritto|schreef|escreveu|geschreven|écrit)\s*:?\s*$|:\s*$", re.IGNORECASE
)
_SEPARATOR: Final = re.compile(
    r"^\s*(?:_{10,}|-{3,}\s*(?:original message|ursprüngliche nachricht|message d'origine|mensaje original|"
    r"messaggio originale|oorspronkelijk bericht|mensagem original|forwarded message|weitergeleitete nachricht)"
    r"\s*-{3,})\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_BLOCK: Final = re.compile(
    r"^\s*\*?(?:from|von|de|da|van|от)\s*:\*?\s.*\n(?:.*\n){0,2}?\s*\*?"
    r"(?:sent|date|gesendet|datum|envoyé|enviado|enviado el|inviato|data|verzonden|verstuurd|envoyé le)\s*:",
    re.IGNORECASE | re.MULTILINE,
)
_STOPWORDS: Final[dict[str, frozenset[str]]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "you",
            "your",
            "we",
            "our",
            "for",
            "with",
            "thank",
            "thanks",
            "please",
            "not",
            "this",
            "is",
            "are",
            "would",
            "be",
        ]
    ),
    "de": frozenset(
        [
            "und",
            "der",
            "die",
            "das",
            "ich",
            "wir",
            "sie",
            "ihr",
            "nicht",
            "mit",
            "für",
            "bitte",
            "danke",
            "ist",
            "sind",
            "gerne",
            "uns",
        ]
    ),
    "fr": frozenset(
        [
            "et",
            "le",
            "la",
            "les",
            "je",
            "nous",
            "vous",
            "pour",
            "avec",
            "merci",
            "pas",
            "est",
            "une",
            "des",
            "du",
            "bonjour",
            "notre",
        ]
    ),
    "es": frozenset(
        [
            "y",
            "el",
            "la",
            "los",
            "las",
            "que",
            "no",
            "con",
            "para",
            "gracias",
            "por",
            "una",
            "del",
            "estamos",
            "nos",
            "su",
            "hola",
        ]
    ),
    "it": frozenset(
        [
            "e",
            "il",
            "la",
            "che",
            "non",
            "con",
            "per",
            "grazie",
            "una",
            "del",
            "sono",
            "siamo",
            "ci",
            "gli",
            "della",
            "buongiorno",
        ]
    ),
    "nl": frozenset(
        [
            "en",
            "de",
            "het",
            "een",
            "ik",
            "wij",
            "we",
            "niet",
            "met",
            "voor",
            "bedankt",
            "graag",
            "is",
            "zijn",
            "uw",
            "ons",
        ]
    ),
    "pt": frozenset(
        [
            "e",
            "o",
            "a",
            "os",
            "que",
            "não",
            "com",
            "para",
            "obrigado",
            "obrigada",
            "uma",
            "do",
            "da",
            "estamos",
            "nos",
            "seu",
            "olá",
        ]
    ),
}
_WORD: Final = re.compile(r"[^\W\d_]+", re.UNICODE)


@cache
def _parser() -> EmailReplyParser:
    return EmailReplyParser(languages=list(LANGUAGES))


def _without_quotes(text: str) -> str:
    """Drop ``>`` lines and the attribution line (one or two lines ending in "wrote:") above each quote."""
    lines = text.split("\n")
    keep = [True] * len(lines)
    for index, line in enumerate(lines):
        if not _QUOTED.match(line):
            continue
        keep[index] = False
        above = index - 1
        while above >= 0 and not lines[above].strip() and keep[above]:
            above -= 1
        if above >= 0 and keep[above] and _ATTRIBUTION_END.search(lines[above]):
            keep[above] = False
            if above >= 1 and lines[above - 1].strip() and "@" in lines[above] + lines[above - 1]:
                keep[above - 1] = not _looks_like_attribution_start(lines[above - 1])
    return "\n".join(line for line, kept in zip(lines, keep, strict=True) if kept)


def _looks_like_attribution_start(line: str) -> bool:
    """The first half of an attribution a client wrapped ("On Mon, 2 Mar 2026 at 09:00, Mia from Jengu <")."""
    return bool(re.match(r"^\s*(on|am|le|el|il|op|em|den)\b.*\d", line, re.IGNORECASE))


def _cut_forwarded(text: str) -> str:
    """Cut at the first Outlook-style separator or "From: ... Sent:" header block of a quoted original."""
    ends = [m.start() for m in (_SEPARATOR.search(text), _HEADER_BLOCK.search(text)) if m]
    return text[: min(ends)] if ends else text


def new_text(body: str) -> str:
    """What the sender wrote in this message, without what it quotes and (mostly) without the signature."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    unquoted = _cut_forwarded(_without_quotes(text))
    try:
        latest = _parser().parse_reply(unquoted) or ""
    except Exception:
        latest = unquoted
    chosen = latest if latest.strip() else unquoted
    return re.sub(r"\n{3,}", "\n\n", chosen).strip()[:NEW_TEXT_LIMIT]


def language_of(text: str) -> str | None:
    """The most likely of our seven languages by common words, or None when too little text says."""
    words = [w.lower() for w in _WORD.findall(text[:4000])]
    scores = Counter({code: sum(w in stop for w in words) for code, stop in _STOPWORDS.items()})
    (best, score), *rest = scores.most_common()
    return best if score >= 2 and (not rest or score > rest[0][1]) else None
