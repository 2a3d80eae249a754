"""Out-of-office notices, left-the-company notices and ticket acknowledgements, and the return date they give.

Headers first (RFC 3834 ``Auto-Submitted``, ``X-Autoreply``, ``X-Autorespond``, ``Precedence``), then the
subject and the text in seven languages: many out-of-office rules set in a mail client send no header at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from jengu_pipeline.domain.replies.model import ParsedReply

RETURN_HORIZON: Final = timedelta(days=400)
"""A "return date" further out than this is a typo or another date in the text, not a return."""

RECENT_PAST: Final = timedelta(days=7)
"""A notice answering a message sent a few days ago may name a return date just passed."""

_SUBJECT: Final = re.compile(
    r"^\s*(automatic reply|auto(matic)?[- ]?(reply|response|antwort)|autoreply|out of (the )?office|"
    r"away from (the )?office|abwesenheitsnotiz|abwesend|réponse automatique|absence du bureau|absent\s?:|"
    r"respuesta automática|fuera de la oficina|ausente\s?:|risposta automatica|fuori sede|assente\s?:|"
    r"automatisch antwoord|afwezig|niet aanwezig|resposta automática|ausente do escritório|ausência\s?:)",
    re.IGNORECASE,
)
_KINDS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = (
    (
        "left_company",
        re.compile(
            r"no longer (works?|working|employed|with)|has left (the company|us|\w)|is no longer with|"
            r"mailbox is (not|no longer) (monitored|in use)|"
            r"nicht mehr (bei|im|für|in unserem)|hat (das|unser) (unternehmen|haus|hotel) verlassen|"
            r"ne (travaille|fait) plus|a quitté|"
            r"ya no (trabaja|forma parte)|ha dejado (el|la|nuestr[oa]) |"
            r"non (lavora|fa) più|ha lasciato|"
            r"(is|werkt) niet (meer|langer) (werkzaam|bij)|heeft .{0,40} verlaten|"
            r"já não (trabalha|faz parte)|deixou (a empresa|o hotel)",
            re.IGNORECASE,
        ),
    ),
    (
        "acknowledgement",
        re.compile(
            r"(we|i) (have )?received your (message|e-?mail|request|enquiry|inquiry)|ticket (number|no\.?|#|id)|"
            r"this is an automated (message|response)|do not reply to this|"
            r"(wir haben|haben wir) ihre (nachricht|anfrage|e-mail) erhalten|ihre (nachricht|"
            r"anfrage) ist (bei uns )?eingegangen|"
            r"nous avons (bien )?reçu votre|"
            r"hemos recibido su|"
            r"abbiamo ricevuto (il suo|la sua|la vostra)|"
            r"(wij hebben|we hebben) uw (bericht|e-mail|aanvraag) ontvangen|"
            r"recebemos (a sua|o seu)",
            re.IGNORECASE,
        ),
    ),
    (
        "out_of_office",
        re.compile(
            r"out of (the )?office|on (annual |parental |maternity )?(leave|holiday|vacation)|away from (the |my )?"
            r"(office|desk|hotel)|limited access to (my )?e-?mail|(i will|i'll) be back|back in the office|"
            r"(automatic|auto-?) ?reply|return(ing)? (to the office )?on|currently (away|absent|travelling)|"
            r"nicht im (büro|haus)|abwesend|abwesenheit|im urlaub|wieder (für sie )?(erreichbar|im (büro|haus))|"
            r"eingeschränkt(en)? zugriff|nach meiner rückkehr|automatische antwort|"
            r"absent(e|\(e\))?s? (du bureau|jusqu)|en congés?|de retour (le|au bureau)|réponse automatique|"
            r"accès limité|"
            r"à mon retour|dès mon retour|actuellement absente?|je reprendrai|"
            r"fuera de la oficina|de vacaciones|ausente|respuesta automática|estaré de vuelta|regresaré|"
            r"a mi regreso|de regreso|"
            r"fuori (sede|ufficio)|in ferie|assente|risposta automatica|rientrerò|di ritorno|al mio rientro|"
            r"sarò (di nuovo )?(in ufficio|in hotel|in sede|disponibile)|"
            r"afwezig|niet (aanwezig|op kantoor)|(op|met) vakantie|lees mijn e-?mail niet|automatisch antwoord|"
            r"weer (aanwezig|bereikbaar|op kantoor)|"
            r"na mijn terugkeer|"
            r"fora do escritório|de férias|ausente|resposta automática|estarei de volta|regresso|no meu regresso|"
            r"após o meu regresso",
            re.IGNORECASE,
        ),
    ),
)

MONTHS: Final[dict[str, int]] = {}
for _names in (
    "january february march april may june july august september october november december",
    "januar februar märz april mai juni juli august september oktober november dezember",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "januari februari maart april mei juni juli augustus september oktober november december",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
    "jan feb mar apr may jun jul aug sep oct nov dec",
    "jan feb mär apr mai jun jul aug sep okt nov dez",
    "janv févr mars avr mai juin juil août sept oct nov déc",
    "ene feb mar abr may jun jul ago sept oct nov dic",
    "gen feb mar apr mag giu lug ago set ott nov dic",
    "jan feb mrt apr mei jun jul aug sep okt nov dec",
    "jan fev mar abr mai jun jul ago set out nov dez",
):
    for _number, _name in enumerate(_names.split(), start=1):
        MONTHS.setdefault(_name, _number)
_MONTH: Final = "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True))
_DAY_MONTH: Final = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th|er|º|°)?\.?\s*(?:de\s+)?({_MONTH})\.?(?:\s*(?:de\s+)?(\d{{4}}))?(?![\w])",
    re.IGNORECASE,
)
_MONTH_DAY: Final = re.compile(
    rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?!\d)(?:,?\s*(\d{{4}}))?", re.IGNORECASE
)
_NUMERIC: Final = re.compile(r"(?<![\d.:/+-])(\d{1,2})([./-])(\d{1,2})(?:\2(\d{4}|\d{2})(?![\d])|\.(?![\d]))(?![\d/:])")
_RETURN_WORDS: Final = re.compile(
    r"until|till|through|back|return|up to|bis|zurück|wieder|jusqu|retour|reprendr|hasta|vuelta|regres|fino|"
    r"rientr|ritorno|nuovo|tot|terug|weer|até|volta|regresso|\bab\b|à partir|dès|partir del|vanaf|a partir",
    re.IGNORECASE,
)
_FROM_WORDS: Final = re.compile(r"\bfrom\b|\bdal\b", re.IGNORECASE)
"""Words before the start of an absence, which may also start a return: a date after them is the second choice."""
_ISO: Final = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


@dataclass(frozen=True)
class AutoReplyFinding:
    """An automatic answer: which kind, what said so, and the return date when the text gives one."""

    detail: str
    signals: tuple[str, ...]


def header_signals(parsed: ParsedReply) -> list[str]:
    """The RFC 3834 and vendor headers that mark a message as sent by a machine on a person's behalf."""
    headers = parsed.headers
    found = []
    submitted = headers.get("auto-submitted", "").lower()
    if submitted and not submitted.startswith("no"):
        found.append(f"auto-submitted:{submitted.split(';')[0]}")
    for name in ("x-autoreply", "x-autorespond"):
        if name in headers:
            found.append(name)
    precedence = (headers.get("precedence") or headers.get("x-precedence") or "").lower()
    if precedence in ("auto_reply", "bulk", "junk"):
        found.append(f"precedence:{precedence}")
    return found


def find_auto_reply(parsed: ParsedReply, new_text: str) -> AutoReplyFinding | None:
    """An automatic answer by its headers, its subject or its text (the text says which kind it is)."""
    signals = header_signals(parsed)
    if _SUBJECT.search(parsed.subject):
        signals.append("subject")
    head = new_text[:1500]
    kind = next((name for name, pattern in _KINDS if pattern.search(head)), None)
    if kind is not None:
        signals.append(f"text:{kind}")
    if not signals:
        return None
    if kind is None and signals == ["precedence:bulk"]:
        return None  # a list or a newsletter platform's human reply keeps its Precedence: bulk
    return AutoReplyFinding(kind or "out_of_office", tuple(signals))


def _valid(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _candidates(day: int, month: int, year: int | None, received_on: date) -> list[date]:
    if year is not None:
        year = year + 2000 if year < 100 else year
        found = _valid(year, month, day)
        return [found] if found else []
    for candidate_year in (received_on.year, received_on.year + 1):
        found = _valid(candidate_year, month, day)
        if found and found >= received_on - timedelta(days=7):
            return [found]
    return []


def dates_in(text: str, received_on: date) -> list[tuple[int, date]]:
    """Every calendar date the text writes, with its position, in the languages' own formats, placed in time by
    ``received_on``."""
    found: list[tuple[int, date]] = []
    for match in _ISO.finditer(text):
        found += [(match.start(), d) for d in [_valid(int(match[1]), int(match[2]), int(match[3]))] if d]
    for match in _DAY_MONTH.finditer(text):
        year = int(match[3]) if match[3] else None
        found += [(match.start(), d) for d in _candidates(int(match[1]), MONTHS[match[2].lower()], year, received_on)]
    for match in _MONTH_DAY.finditer(text):
        year = int(match[3]) if match[3] else None
        found += [(match.start(), d) for d in _candidates(int(match[2]), MONTHS[match[1].lower()], year, received_on)]
    for match in _NUMERIC.finditer(text):
        first, second = int(match[1]), int(match[3])
        year = int(match[4]) if match[4] else None
        readings = _candidates(first, second, year, received_on)  # day first: Europe, and most of the world
        if not readings or (first <= 12 < second):
            readings = _candidates(second, first, year, received_on) or readings  # the US month first
        found += [(match.start(), d) for d in readings]
    return sorted(found)


def return_date(new_text: str, received_on: date) -> date | None:
    """The return date an out-of-office gives: the first date after a word like "until" or "back on" (in the
    first language of a bilingual notice), else the latest date it writes between today and the horizon."""
    earliest, latest = received_on - RECENT_PAST, received_on + RETURN_HORIZON
    upcoming = [(at, d) for at, d in dates_in(new_text, received_on) if earliest <= d <= latest]
    if not upcoming:
        return None
    for words in (_RETURN_WORDS, _FROM_WORDS):  # "away from A until B": B; "back from B on": B
        keyed = [d for at, d in upcoming if words.search(new_text[max(0, at - 45) : at])]
        if keyed:
            return keyed[0]
    return max(d for _, d in upcoming)
