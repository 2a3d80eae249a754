"""The sandbox's reply source: what the world's people send back, written to a Maildir with its ground truth.

``deliver_replies`` reads the messages the SMTP server stored and, per recipient's behaviour, answers the way
real hotel staff and real mail systems do, so that a classifier has something worth classifying:

- human replies (interested, not interested, a question, unsubscribe, a referral to a colleague, "contact me
  after the season") in the person's language (English, German, French, Spanish, Italian, Dutch, Portuguese,
  chosen by the hotel's country and city, some staff from elsewhere), written in one of several mail clients'
  styles: Gmail, Apple Mail and iPhone, Outlook (its "-----Original Message-----" or "From:/Sent:" block),
  Outlook for iOS, Thunderbird (some bottom-posting), an HTML-only webmail; quoting the original with our
  footer, signed with name, title, hotel, phone, "Sent from my iPhone", disclaimers; non-ASCII names as
  RFC 2047 words in each client's charset; threaded by In-Reply-To and References (some only References);
  some unsubscribes by mail to the ``List-Unsubscribe`` mailto address;
- out-of-office notices with ``Auto-Submitted`` (Exchange, Gmail, Sieve), ``X-Autoreply``, ``Precedence:
  auto_reply``, or no header at all (a client-side rule), with a return date in the language's own formats
  or none, some bilingual; "no longer works here" notices and ticket acknowledgements;
- delivery status notifications from Postfix, Exim, Exchange/Office 365, Gmail and qmail (see ``dsn``);
- and, as in real outreach, some of the people who ignore a first email answer a follow-up: a share of the
  silent ones reply (interested, not interested, a question, unsubscribe) to their second or third message.

Time comes from the clock (``now``, else ``jengu_pipeline.clock.now``): a reply is due at the moment the
original arrived (its ``Received`` stamp, or its ``Date`` when that stamp is in the clock's future) plus the
behaviour's delay, and is only written once the clock has reached it, so no Date is ever in the future and none
precedes the original. Out-of-office return dates count from the first message's arrival; an absent person
answers once per absence (some autoresponders every time) and nothing once back.

Everything is derived from the world's seed and the original message, so the same run writes the same bytes.
Beside the Maildir, ``replies_truth.jsonl`` gets one JSON line per file written (see ``TRUTH_FIELDS``). The
spool keeps two small ledgers: which outputs were written (``replied.log``) and when each message arrived
(``arrivals.log``); a lock file serialises concurrent deliveries.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import html
import json
import os
import random
import re
import textwrap
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, formataddr, getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from jengu_pipeline import clock
from jengu_pipeline.sandbox import dsn
from jengu_pipeline.sandbox.reply_texts import EN, LANGUAGES, Language, language, render_date
from jengu_pipeline.sandbox.smtp import SMTP_HOSTNAME
from jengu_pipeline.sandbox.world import Behaviour, Hotel, Person, World

LEDGER = "replied.log"
ARRIVALS = "arrivals.log"
LOCK = ".replies.lock"
TRUTH_FILE = "replies_truth.jsonl"
TRUTH_FIELDS = (
    "file",
    "message_id",
    "original_message_id",
    "original_file",
    "recipient",
    "category",
    "detail",
    "return_date",
    "failed_recipients",
    "language",
    "format",
    "auto_reply_headers",
    "date",
    "delivered_at",
    "behaviour",
)
"""One truth line: ``file`` is the Maildir file's unique name (``new/<file>``, or ``cur/<file>:2,...`` once a
reader moved it); ``category`` one of bounce_hard, bounce_soft, auto_reply, unsubscribe, interested,
not_interested, question, other; ``return_date`` the date an out-of-office text writes (ISO, or null);
``format`` the mail client, autoresponder or MTA that wrote it; ``auto_reply_headers`` which of
Auto-Submitted / X-Autoreply / X-Autorespond / Precedence it carries."""

ZONES = {
    "CH": "Europe/Zurich",
    "FR": "Europe/Paris",
    "DE": "Europe/Berlin",
    "IT": "Europe/Rome",
    "ES": "Europe/Madrid",
    "DK": "Europe/Copenhagen",
    "SE": "Europe/Stockholm",
    "GB": "Europe/London",
    "US": "America/New_York",
}
CITY_ZONES = {"San Francisco": "America/Los_Angeles", "Chicago": "America/Chicago", "Austin": "America/Chicago"}
PHONE_PREFIXES = {
    "CH": "+41",
    "FR": "+33",
    "DE": "+49",
    "IT": "+39",
    "ES": "+34",
    "DK": "+45",
    "SE": "+46",
    "GB": "+44",
    "US": "+1",
}
FRENCH_SWISS_CITIES = ("Genève", "Lausanne")
ITALIAN_SWISS_CITIES = ("Lugano",)

GENERATOR = policy.default.clone(refold_source="none")
"""Headers set raw (RFC 2047 names in a client's own charset) are written as set, never re-encoded."""

T = TypeVar("T")
Weighted = tuple[tuple[T, int], ...]

CLIENTS: dict[str, Weighted[str]] = {
    "google": (("gmail", 55), ("iphone", 30), ("webmail", 8), ("thunderbird", 7)),
    "microsoft": (("outlook", 55), ("outlook_ios", 20), ("iphone", 15), ("webmail", 10)),
    "self": (("thunderbird", 30), ("apple_mail", 25), ("iphone", 20), ("webmail", 25)),
}
AUTORESPONDERS: dict[str, Weighted[str]] = {
    "google": (("gmail_vacation", 75), ("client_rule", 25)),
    "microsoft": (("exchange_oof", 65), ("client_rule", 35)),
    "self": (("sieve_vacation", 30), ("cpanel", 30), ("precedence", 20), ("client_rule", 20)),
}
ANSWERS_ONCE = frozenset({"gmail_vacation", "exchange_oof", "sieve_vacation"})
"""Autoresponders that answer a sender once per absence (RFC 3834); the others answer every message."""
MTAS: dict[str, Weighted[str]] = {
    "google": (("gmail", 75), ("postfix", 25)),
    "microsoft": (("exchange", 80), ("postfix", 20)),
    "self": (("postfix", 40), ("exim", 35), ("qmail", 25)),
}
BOUNCE_KINDS: Weighted[str] = (
    ("user_unknown", 50),
    ("mailbox_disabled", 12),
    ("no_such_domain", 8),
    ("mailbox_full", 20),
    ("delayed", 10),
)
AUTO_REPLY_HEADERS = ("Auto-Submitted", "X-Autoreply", "X-Autorespond", "Precedence")
LATE_ANSWER_SHARE = 0.35
"""Of the people silent to a first email, those who answer a later one (most replies come after a follow-up)."""
LATE_ANSWERS: Weighted[Behaviour] = (
    (Behaviour.POSITIVE, 30),
    (Behaviour.NEGATIVE, 30),
    (Behaviour.QUESTION, 20),
    (Behaviour.UNSUBSCRIBE, 20),
)
LATE_MESSAGE: Weighted[int] = ((2, 60), (3, 40))


def _weighted(rng: random.Random, choices: Weighted[T]) -> T:
    return rng.choices([value for value, _ in choices], weights=[weight for _, weight in choices])[0]


def late_answer(world: World, person: Person) -> tuple[int, Behaviour] | None:
    """For a silent person who answers a follow-up: which of the messages to them (2 or 3) and how."""
    if person.behaviour is not Behaviour.SILENT:
        return None
    rng = random.Random(f"{world.seed}|late|{person.email}")
    if rng.random() >= LATE_ANSWER_SHARE:
        return None
    return _weighted(rng, LATE_MESSAGE), _weighted(rng, LATE_ANSWERS)


def zone_of(hotel: Hotel) -> tzinfo:
    """The hotel's time zone: its staff write dates and send mail in local time."""
    return ZoneInfo(CITY_ZONES.get(hotel.city) or ZONES.get(hotel.country, "UTC"))


# Who writes: one stable profile per person ------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How one person writes mail, the same on every reply: language, client, signature, autoresponder."""

    language: Language
    client: str
    zone: tzinfo
    phone: str
    mobile: str
    signature: int
    disclaimer: bool
    bottom_post: bool
    references_only: bool
    autoresponder: str
    notice: str
    dated: bool
    bilingual: bool
    absence_days: int
    bounce: str
    mta: str


def _language_code(rng: random.Random, hotel: Hotel) -> str:
    if rng.random() < 0.12:
        return rng.choice(LANGUAGES)  # staff from elsewhere
    local = hotel.language
    if hotel.country == "CH":
        local = "fr" if hotel.city in FRENCH_SWISS_CITIES else "it" if hotel.city in ITALIAN_SWISS_CITIES else "de"
    if local in LANGUAGES:
        return local if rng.random() < 0.88 else "en"
    return _weighted(rng, (("en", 70), ("de", 15), ("nl", 15)))


def _phone(rng: random.Random, country: str) -> str:
    if country == "US":
        return f"+1 ({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}"
    digits = "".join(str(rng.randint(0, 9)) for _ in range(8))
    return f"{PHONE_PREFIXES.get(country, '+44')} {rng.randint(20, 89)} {digits[:3]} {digits[3:5]} {digits[5:]}"


def profile(world: World, hotel: Hotel, person: Person) -> Profile:
    """The person's stable habits, from the world's seed and their address."""
    rng = random.Random(f"{world.seed}|person|{person.email}")
    provider = hotel.mail_provider if hotel.mail_provider in CLIENTS else "self"
    client = _weighted(rng, CLIENTS[provider])
    code = _language_code(rng, hotel)
    return Profile(
        language=language(code, hotel.country),
        client=client,
        zone=zone_of(hotel),
        phone=_phone(rng, hotel.country),
        mobile=_phone(rng, hotel.country),
        signature=rng.randrange(4),
        disclaimer=rng.random() < 0.3,
        bottom_post=client == "thunderbird" and rng.random() < 0.5,
        references_only=client == "webmail" and rng.random() < 0.6,
        autoresponder=_weighted(rng, AUTORESPONDERS[provider]),
        notice=_weighted(rng, (("out_of_office", 82), ("left_company", 10), ("acknowledgement", 8))),
        dated=rng.random() < 0.8,
        bilingual=code != "en" and rng.random() < 0.4,
        absence_days=rng.randint(3, 21),
        bounce=_weighted(rng, BOUNCE_KINDS),
        mta=_weighted(random.Random(f"{world.seed}|mta|{hotel.domain}"), MTAS[provider]),
    )


# Delivery: ledgers, the clock, the Maildir -------------------------------------------------------------------


Now = datetime | Callable[[], datetime] | None


def _instant(now: Now) -> datetime:
    if now is None:
        return clock.now()
    moment = now() if callable(now) else now
    if moment.tzinfo is None:
        raise ValueError("the sandbox clock needs an aware datetime")
    return moment.astimezone(UTC)


@dataclass
class _Ledgers:
    """What the spool remembers between deliveries: finished messages, written outputs, arrival times."""

    spool: Path
    done: set[str] = field(default_factory=set)
    arrivals: dict[str, tuple[str, datetime]] = field(default_factory=dict)

    @classmethod
    def load(cls, spool: Path) -> _Ledgers:
        ledgers = cls(spool)
        if (spool / LEDGER).exists():
            ledgers.done = set((spool / LEDGER).read_text(encoding="utf-8").split())
        if (spool / ARRIVALS).exists():
            for line in (spool / ARRIVALS).read_text(encoding="utf-8").splitlines():
                name, recipient, stamp = line.split("\t")
                ledgers.arrivals[name] = (recipient, datetime.fromisoformat(stamp))
        return ledgers

    def mark(self, key: str) -> None:
        self.done.add(key)
        with (self.spool / LEDGER).open("a", encoding="utf-8") as ledger:
            ledger.write(key + "\n")

    def arrived(self, name: str, recipient: str, at: datetime) -> None:
        self.arrivals[name] = (recipient, at)
        with (self.spool / ARRIVALS).open("a", encoding="utf-8") as log:
            log.write(f"{name}\t{recipient}\t{at.isoformat()}\n")

    def history(self, recipient: str) -> list[tuple[datetime, str]]:
        """Every arrival to one address, oldest first."""
        return sorted((at, name) for name, (rcpt, at) in self.arrivals.items() if rcpt == recipient)


@contextmanager
def _locked(spool: Path) -> Iterator[None]:
    with (spool / LOCK).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def truth_path(maildir: Path) -> Path:
    """Where the replies' ground truth lives: beside the Maildir (``$JENGU_HOME/sandbox/replies_truth.jsonl``)."""
    return maildir.parent / TRUTH_FILE


def read_truth(maildir: Path) -> list[dict[str, Any]]:
    """The truth lines written so far, one per Maildir file (a line repeated after a crash counts once)."""
    path = truth_path(maildir)
    if not path.exists():
        return []
    lines = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        lines[record["file"]] = record
    return list(lines.values())


def deliver_replies(world: World, spool: Path, maildir: Path, now: Now = None) -> list[Path]:
    """Write every reply that is due by ``now`` (default: the product clock) and not written yet.

    Returns the new Maildir files, oldest reply first. Replies that are not due yet wait for a later call.
    """
    instant = _instant(now)
    for folder in ("new", "cur", "tmp"):
        (maildir / folder).mkdir(parents=True, exist_ok=True)
    spool.mkdir(parents=True, exist_ok=True)
    written: list[tuple[datetime, Path]] = []
    with _locked(spool):
        ledgers = _Ledgers.load(spool)
        for path in sorted(spool.glob("*.eml")):
            if path.name not in ledgers.done:
                written += _answer(world, path, maildir, ledgers, instant)
    return [file for _, file in sorted(written)]


def _answer(
    world: World, path: Path, maildir: Path, ledgers: _Ledgers, instant: datetime
) -> list[tuple[datetime, Path]]:
    head = BytesHeaderParser(policy=policy.default).parsebytes(_head(path))
    recipient = getaddresses([str(head.get("X-Original-To") or head.get("To") or "")])[0][1].lower()
    found = world.person(recipient)
    if found is None or (found[1].behaviour is Behaviour.SILENT and late_answer(world, found[1]) is None):
        ledgers.mark(path.name)
        return []
    if path.name in ledgers.arrivals:
        arrival = ledgers.arrivals[path.name][1]
    else:
        stamp = _arrival(head, instant)
        if stamp is None:
            return []
        arrival = stamp
        ledgers.arrived(path.name, recipient, arrival)
    hotel, person = found
    seed = f"{world.seed}|reply|{str(head.get('Message-ID', '')).strip() or path.name}|{person.email}"
    late = late_answer(world, person)
    writer = _Writer(
        world, hotel, person, profile(world, hotel, person), arrival, random.Random(seed), late[1] if late else None
    )
    plan = _plan(writer, random.Random(seed), path.name, ledgers.history(recipient))
    written = []
    pending = False
    for index, (at, build) in enumerate(plan):
        key = f"{path.name}#{index}"
        if key in ledgers.done:
            continue
        if at > instant:
            pending = True
            continue
        writer.rng = random.Random(f"{seed}|text|{index}")  # the same bytes whichever call writes it
        message, truth = build(_Original.parse(path.read_bytes()), at)
        file = _store(
            maildir, _trace(message, truth["format"], hotel, at) + message.as_bytes(policy=GENERATOR), at, key
        )
        truth = {
            "file": file.name,
            "message_id": str(message.get("Message-ID", "")),
            "original_message_id": str(head.get("Message-ID", "")).strip(),
            "original_file": path.name,
            "recipient": recipient,
            **truth,
            "auto_reply_headers": [name for name in AUTO_REPLY_HEADERS if name in message],
            "date": _header_date(message).isoformat(),
            "delivered_at": at.isoformat(),
            "behaviour": str(person.behaviour),
        }
        with truth_path(maildir).open("a", encoding="utf-8") as log:
            log.write(json.dumps({name: truth.get(name) for name in TRUTH_FIELDS}, ensure_ascii=False) + "\n")
        ledgers.mark(key)
        written.append((at, file))
    if not pending:
        ledgers.mark(path.name)
    return written


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(65536).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]


def _stamp(value: object) -> datetime | None:
    try:
        moment = parsedate_to_datetime(str(value).rpartition(";")[2].strip())
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo is not None else None


def _arrival(head: EmailMessage, instant: datetime) -> datetime | None:
    """When the original arrived: its first Received stamp, or its Date if that stamp is in the clock's future
    (a server stamping real time under a simulated clock); None while both are still ahead of the clock."""
    received = head.get_all("Received") or []
    stamps = [_stamp(received[0]) if received else None, _stamp(head.get("Date"))]
    past = [stamp.astimezone(UTC).replace(microsecond=0) for stamp in stamps if stamp and stamp <= instant]
    return max(past) if past else None


def _header_date(message: EmailMessage) -> datetime:
    value = message.get("Date")
    moment = getattr(value, "datetime", None)
    return moment if isinstance(moment, datetime) else parsedate_to_datetime(str(value))


def _trace(message: EmailMessage, writer: str, hotel: Hotel, at: datetime) -> bytes:
    """The lines the receiving MTA and the delivery agent put on top: envelope sender, recipient, Received."""
    null_sender = writer.startswith("dsn_") or writer == "sieve_vacation"
    sender = "" if null_sender else getaddresses([str(message.get("From", ""))])[0][1]
    recipient = getaddresses([str(message.get("To", ""))])[0][1]
    relay = {
        "google": "mail-sor-f41.google.example",
        "microsoft": f"{hotel.domain.replace('.', '-')}.outbound.protection.outlook.example",
    }.get(hotel.mail_provider, hotel.mx[0] if hotel.mx else f"mail.{hotel.domain}")
    address = f"192.0.2.{zlib.crc32(relay.encode()) % 250 + 2}"
    queue = hashlib.sha256(f"{message.get('Message-ID')}|{at.isoformat()}".encode()).hexdigest()[:12].upper()
    return (
        f"Return-Path: <{sender}>\nDelivered-To: {recipient}\nReceived: from {relay} ({relay} [{address}])\n"
        f"\tby {SMTP_HOSTNAME} (Jengu SANDBOX) with ESMTPS id {queue}\n\tfor <{recipient}>; {format_datetime(at)}\n"
    ).encode()


def _store(maildir: Path, data: bytes, at: datetime, key: str) -> Path:
    """Deliver like a local delivery agent (LF line ends, tmp/ then new/) under a name derived from the content."""
    unique = f"{int(at.timestamp())}.J{hashlib.sha256(key.encode() + data).hexdigest()[:20]}.sandbox"
    staging = maildir / "tmp" / unique
    staging.write_bytes(data)
    target = maildir / "new" / unique
    os.replace(staging, target)
    return target


# The original, as a reply needs it ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Original:
    raw: bytes
    message: EmailMessage

    @classmethod
    def parse(cls, raw: bytes) -> _Original:
        return cls(raw, BytesParser(policy=policy.default).parsebytes(raw))

    def header(self, name: str) -> str:
        return str(self.message.get(name, "") or "").strip()

    @property
    def message_id(self) -> str:
        return self.header("Message-ID")

    @property
    def subject(self) -> str:
        return self.header("Subject")

    @property
    def reply_to(self) -> str:
        return self.header("Reply-To") or self.header("From")

    @property
    def envelope_sender(self) -> str:
        return getaddresses([self.header("Return-Path") or self.header("From")])[0][1]

    @property
    def sender_name(self) -> str:
        name = getaddresses([self.header("From")])[0][0]
        return name.split(" ")[0] if name else ""

    @property
    def references(self) -> str:
        return f"{self.header('References')} {self.message_id}".strip()

    @property
    def text(self) -> str:
        """The original's text as a client shows it: the plain part, or the HTML part without tags."""
        body = self.message.get_body(("plain", "html"))
        if body is None:
            return ""
        content = str(body.get_content()).replace("\r\n", "\n").strip("\n")
        if body.get_content_type() == "text/html":
            content = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>|</p>", "\n", content)))
        return content

    @property
    def headers_text(self) -> str:
        return self.raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii", "replace") + "\n"

    @property
    def text_with_headers(self) -> str:
        return self.raw.replace(b"\r\n", b"\n").decode("utf-8", "replace")

    @property
    def unsubscribe_mailto(self) -> str | None:
        found = re.search(r"<mailto:([^>?]+)", self.header("List-Unsubscribe"))
        return found.group(1) if found else None

    def sent(self, fallback: datetime) -> datetime:
        moment = getattr(self.message.get("Date"), "datetime", None)
        return moment if isinstance(moment, datetime) and moment.tzinfo else fallback


Builder = Callable[[_Original, datetime], tuple[EmailMessage, dict[str, Any]]]


# Planning: what answers, when ---------------------------------------------------------------------------------


def _plan(
    writer: _Writer, rng: random.Random, name: str, history: list[tuple[datetime, str]]
) -> list[tuple[datetime, Builder]]:
    """The replies one stored message gets, each with the instant it is delivered, oldest first."""
    person, habits, arrival = writer.person, writer.habits, writer.arrival
    if person.behaviour is Behaviour.SILENT:
        late = late_answer(writer.world, person)
        names = [entry[1] for entry in history]
        number = (names.index(name) if name in names else len(names)) + 1
        return [(_human_time(rng, arrival, habits.zone), writer.human)] if late and late[0] == number else []
    if person.behaviour is Behaviour.BOUNCE:
        plan = []
        for failure in dsn.schedule(habits.mta, habits.bounce, rng):
            at = arrival + timedelta(seconds=rng.randint(*failure.after))
            plan.append((at, writer.bounce_builder(failure)))
        return plan
    if person.behaviour is Behaviour.AUTO_REPLY:
        back = writer.back_on(history[0][0] if history else arrival)
        names = [entry[1] for entry in history]
        position = names.index(name) if name in names else len(names)
        answers = habits.notice != "out_of_office" or (
            arrival.astimezone(habits.zone).date() < back
            and (position == 0 or habits.autoresponder not in ANSWERS_ONCE)
        )
        if not answers:
            return []
        quick = habits.autoresponder != "client_rule"
        delay = rng.randint(3, 180) if quick else rng.randint(60, 36000)
        return [(arrival + timedelta(seconds=delay), writer.auto_reply_builder(back))]
    return [(_human_time(rng, arrival, habits.zone), writer.human)]


def _human_time(rng: random.Random, arrival: datetime, zone: tzinfo) -> datetime:
    """Most people answer within hours, some after days, and hardly anyone between 22:00 and 07:00."""
    draw = rng.random()
    low, high = (300, 5400) if draw < 0.35 else (5400, 28800) if draw < 0.7 else (28800, 108000)
    if draw >= 0.9:
        low, high = 108000, 345600
    at = (arrival + timedelta(seconds=rng.randint(low, high))).astimezone(zone)
    if at.hour < 7 or at.hour >= 22:
        morning = at.date() if at.hour < 7 else at.date() + timedelta(days=1)
        at = datetime.combine(morning, time(7), zone) + timedelta(seconds=rng.randint(0, 9000))
    return at.astimezone(UTC)


# Writing ---------------------------------------------------------------------------------------------------


QUOTE_RULE = "_" * 32
HTML_PAGE = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>{body}</body></html>'
)
OUTLOOK_QUOTE = (
    '<div id="divRplyFwdMsg" dir="ltr"><hr style="display:inline-block;width:98%">'
    '<font face="Calibri, sans-serif" color="#000000" style="font-size:11pt">{head}</font><div>&nbsp;</div></div>'
    "<div>{quoted}</div>"
)
GMAIL_QUOTE = (
    '<div dir="ltr">{new}</div><br><div class="gmail_quote gmail_quote_container">'
    '<div dir="ltr" class="gmail_attr">{attribution}<br></div><blockquote class="gmail_quote" '
    'style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">{quoted}</blockquote>'
    "</div>"
)
CITE_QUOTE = (
    '<div dir="ltr">{new}</div><div class="moz-cite-prefix">{attribution}<br></div>'
    '<blockquote type="cite" style="padding: 0 0.4em; border-left: #1010ff 2px solid; margin: 0">{quoted}</blockquote>'
)


@dataclass
class _Writer:
    """Writes one person's messages: texts, quotes, signatures and headers in their client's style."""

    world: World
    hotel: Hotel
    person: Person
    habits: Profile
    arrival: datetime
    rng: random.Random
    acts_as: Behaviour | None = None  # a silent person's answer to a follow-up

    @property
    def lang(self) -> Language:
        return self.habits.language

    # Pieces ------------------------------------------------------------------------------------------------

    def colleague(self) -> tuple[str, str, str]:
        """(name, title, address) of someone else at the hotel, or its sales desk."""
        others = [p for p in self.hotel.staff if p.email != self.person.email]
        if not others:
            return ("Sales", "Sales Office", f"sales@{self.hotel.domain}")
        other = self.rng.choice(others)
        return (other.full_name, other.title, other.email)

    def signature(self) -> str:
        person, hotel, habits, lang = self.person, self.hotel, self.habits, self.lang
        blocks = {
            0: f"{person.full_name}\n{person.title}\n{hotel.name}\n{lang.phone_label} {habits.phone}\n"
            f"www.{hotel.domain}",
            1: f"{person.full_name} | {person.title}\n{hotel.name} | {hotel.city}, {hotel.country_name}\n"
            f"{lang.phone_label} {habits.phone} | {lang.mobile_label} {habits.mobile}\n{person.email}",
            2: "",
            3: f"-- \n{person.full_name}\n{person.title}, {hotel.name}\n{habits.phone}",
        }
        block = blocks[habits.signature]
        if habits.disclaimer and habits.client in ("outlook", "webmail", "thunderbird"):
            block = f"{block}\n\n{lang.disclaimer}".strip()
        return block

    def device_line(self) -> str:
        if self.habits.client == "iphone":
            return self.lang.iphone
        if self.habits.client == "outlook_ios":
            return self.lang.outlook_mobile
        return ""

    def sender(self, charset_style: str) -> str:
        """The From header value with the name as the client encodes it (RFC 2047 when not ASCII), folded
        before the address when the line would pass 78 characters."""
        value = self._sender(charset_style)
        return value.replace(" <", "\n <", 1) if len(value) > 72 else value

    def _sender(self, charset_style: str) -> str:
        name, address = self.person.full_name, self.person.email
        if name.isascii():
            return formataddr((name, address))
        if charset_style == "latin1-q":
            try:
                return f"=?iso-8859-1?Q?{_q_word(name.encode('iso-8859-1'))}?= <{address}>"
            except UnicodeEncodeError:
                charset_style = "utf8-b"
        if charset_style == "utf8-q":
            return f"=?utf-8?Q?{_q_word(name.encode())}?= <{address}>"
        return f"=?UTF-8?B?{base64.b64encode(name.encode()).decode()}?= <{address}>"

    def message_id(self) -> str:
        rng, client, domain = self.rng, self.habits.client, self.hotel.domain
        if client == "gmail":
            token = base64.b64encode(rng.randbytes(30)).decode().replace("/", "_").rstrip("=")
            return f"<CA{token}@mail.gmail.example>"
        if client in ("outlook", "outlook_ios"):
            server = f"DB{rng.randint(3, 9)}PR0{rng.randint(1, 9)}MB{rng.randint(1000, 9999)}"
            return (
                f"<{server}{rng.randbytes(16).hex().upper()}@{server}.eurprd0{rng.randint(1, 9)}.prod.outlook.example>"
            )
        if client in ("iphone", "apple_mail"):
            return f"<{str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()}@{domain}>"
        if client == "webmail":
            return f"<{rng.randbytes(16).hex()}@webmail.{domain}>"
        return f"<{uuid.UUID(int=rng.getrandbits(128), version=4)}@{domain}>"

    def written_at(self, at: datetime) -> datetime:
        """The Date a client writes: a little before delivery, in local time (Exchange writes UTC)."""
        sent = at - timedelta(seconds=self.rng.randint(1, 90))
        return sent.astimezone(UTC if self.habits.client in ("outlook", "outlook_ios") else self.habits.zone)

    def fill(self, text: str, original: _Original, colleague: tuple[str, str, str]) -> str:
        days = self.rng.sample(self.lang.weekdays[:5], 2)
        return text.format(
            name=original.sender_name or "",
            day=days[0],
            day2=days[1],
            phone=self.habits.phone,
            hotel=self.hotel.name,
            city=self.hotel.city,
            colleague=colleague[0],
            colleague_title=colleague[1],
            colleague_email=colleague[2],
            month=self.rng.choice(self.lang.seasons or EN.seasons),
        )

    # Human replies -------------------------------------------------------------------------------------------

    def intent(self, original: _Original) -> tuple[str, str, str]:
        """(category, detail, text template) for this person's behaviour."""
        behaviour, rng = self.acts_as or self.person.behaviour, self.rng
        category = {
            Behaviour.POSITIVE: "interested",
            Behaviour.QUESTION: "question",
            Behaviour.UNSUBSCRIBE: "unsubscribe",
            Behaviour.NEGATIVE: "not_interested",
        }[behaviour]
        if behaviour is Behaviour.NEGATIVE and rng.random() < 0.4:
            category = "other"
            wanted = "referral" if rng.random() < 0.5 else "deferral"
            detail, text = rng.choice([entry for entry in self.lang.intents["other"] if entry[0] == wanted])
            return category, detail, text
        if behaviour is Behaviour.UNSUBSCRIBE and original.unsubscribe_mailto and rng.random() < 0.2:
            return category, "mailto", ""
        detail, text = rng.choice(self.lang.intents[category])
        return category, detail, text

    def human(self, original: _Original, at: datetime) -> tuple[EmailMessage, dict[str, Any]]:
        category, detail, template = self.intent(original)
        if detail == "mailto":
            return self.mailto_unsubscribe(original, at)
        colleague = self.colleague()
        text = self.fill(template, original, colleague)
        parts = []
        short = detail == "stop"
        if not short and self.rng.random() < 0.8:
            parts.append(self.fill(self.rng.choice(self.lang.greetings), original, colleague))
        parts.append(text)
        if not short:
            sign = self.person.first if self.rng.random() < 0.7 else self.person.full_name
            parts.append(f"{self.rng.choice(self.lang.closings)}\n{sign}")
            if signature := self.signature():
                parts.append(signature)
        if device := self.device_line():
            parts.append(device)
        new_text = "\n\n".join(parts)
        cc = colleague[2] if detail == "referral" and self.rng.random() < 0.5 else None
        message = self.reply(original, at, new_text, quote=True, cc=cc)
        return message, self.truth(category, detail)

    def truth(self, category: str, detail: str, **extra: Any) -> dict[str, Any]:
        return {
            "category": category,
            "detail": detail,
            "return_date": None,
            "failed_recipients": [],
            "language": self.lang.code,
            "format": self.habits.client,
            **extra,
        }

    def mailto_unsubscribe(self, original: _Original, at: datetime) -> tuple[EmailMessage, dict[str, Any]]:
        """What a mail client's "Unsubscribe" button sends to the List-Unsubscribe mailto address."""
        message = EmailMessage()
        message.set_raw("From", self.sender("utf8-b"))
        message["To"] = original.unsubscribe_mailto or original.reply_to
        message["Subject"] = "unsubscribe"
        message["Date"] = format_datetime(self.written_at(at))
        message.set_raw("Message-ID", self.message_id())
        if self.habits.client == "gmail":
            body = "This message was automatically generated by Gmail.\n"
        elif self.habits.client in ("iphone", "apple_mail"):
            body = "This message was sent by Mail to unsubscribe from a mailing list.\n"
        else:
            body = "unsubscribe\n"
        message.set_content(body, charset="utf-8", cte="7bit")
        return message, {**self.truth("unsubscribe", "mailto"), "language": None}

    # Quoting and MIME per client ------------------------------------------------------------------------------

    def attribution(self, original: _Original, style: str) -> str:
        sent = original.sent(self.arrival).astimezone(self.habits.zone)
        sender = original.header("From")
        if style == "thunderbird":
            sender = getaddresses([sender])[0][0] or sender
        template = {
            "gmail": self.lang.gmail_attribution,
            "apple": self.lang.apple_attribution,
            "thunderbird": self.lang.thunderbird_attribution,
        }[style]
        return render_date(template, sent, self.lang).replace("{sender}", sender)

    def outlook_block(self, original: _Original, classic: bool) -> list[str]:
        labels, sent = self.lang.labels, original.sent(self.arrival).astimezone(self.habits.zone)
        return [
            self.lang.original_message if classic else QUOTE_RULE,
            f"{labels[0]} {original.header('From')}",
            f"{labels[1]} {render_date(self.lang.outlook_sent, sent, self.lang)}",
            f"{labels[2]} {original.header('To')}",
            f"{labels[3]} {original.subject}",
        ]

    def quoted(self, original: _Original, new_text: str) -> tuple[str, str]:
        """(plain text, HTML body) of a reply quoting the original the way this person's client does."""
        client, quoted = self.habits.client, original.text
        if client in ("outlook", "outlook_ios"):
            block = self.outlook_block(original, classic=client == "outlook" and self.rng.random() < 0.5)
            head = "<br>".join(html.escape(line, quote=False) for line in block[1:])
            plain = f"{new_text}\n\n" + "\n".join(block) + f"\n\n{quoted}\n"
            return plain, _paragraphs(new_text) + OUTLOOK_QUOTE.format(head=head, quoted=_paragraphs(quoted))
        style = {"gmail": "gmail", "iphone": "apple", "apple_mail": "apple"}.get(client, "thunderbird")
        line = self.attribution(original, style)
        prefixed = "\n".join(f"> {row}" if row else ">" for row in quoted.splitlines())
        if style == "apple":
            plain = f"{new_text}\n\n> {line}\n> \n{prefixed}\n"
        elif style == "gmail":
            plain = f"{new_text}\n\n{line}\n\n{prefixed}\n"
        elif self.habits.bottom_post:
            plain = f"{line}\n{prefixed}\n\n{_wrap(new_text)}\n"
        else:
            plain = f"{_wrap(new_text)}\n\n{line}\n{prefixed}\n"
        markup = (GMAIL_QUOTE if style == "gmail" else CITE_QUOTE).format(
            new=_paragraphs(new_text), attribution=html.escape(line, quote=False), quoted=_paragraphs(quoted)
        )
        return plain, markup

    def reply(self, original: _Original, at: datetime, new_text: str, *, quote: bool, cc: str | None) -> EmailMessage:
        """A reply in this person's client: its headers, quoting and MIME structure."""
        client = self.habits.client
        plain, markup = self.quoted(original, new_text) if quote else (new_text, _paragraphs(new_text))
        message = self.headers(original, at, cc)
        document = HTML_PAGE.format(body=markup)
        if client == "webmail":
            _set_text(message, document, "html", "quoted-printable")
        elif client == "thunderbird":
            _set_text(message, plain, "plain", "8bit")
        else:
            _set_text(message, plain, "plain", "quoted-printable")
            _add_html(message, document, "base64" if client == "outlook" else "quoted-printable", self.boundary())
        return message

    def boundary(self) -> str:
        if self.habits.client == "gmail":
            return f"000000000000{self.rng.randbytes(7).hex()}"
        if self.habits.client in ("outlook", "outlook_ios"):
            return f"_000_{self.rng.randbytes(16).hex().upper()}_"
        return f"Apple-Mail={str(uuid.UUID(int=self.rng.getrandbits(128), version=4)).upper()}"

    def headers(self, original: _Original, at: datetime, cc: str | None) -> EmailMessage:
        client, lang = self.habits.client, self.lang
        message = EmailMessage()
        prefix = lang.outlook_prefix if client in ("outlook", "outlook_ios") else "Re:"
        subject = original.subject
        if not subject.lower().startswith(prefix.lower()) and not (
            prefix == "Re:" and subject.lower().startswith("re:")
        ):
            subject = f"{prefix} {subject}"
        charset = {"outlook": "latin1-q", "iphone": "utf8-q", "apple_mail": "utf8-q", "thunderbird": "utf8-q"}
        message.set_raw("From", self.sender(charset.get(client, "utf8-b")))
        message["To"] = original.reply_to
        if cc:
            message["Cc"] = cc
        message["Subject"] = subject
        message["Date"] = format_datetime(self.written_at(at))
        message.set_raw("Message-ID", self.message_id())
        if original.message_id:
            if not self.habits.references_only:
                message.set_raw("In-Reply-To", original.message_id)
            message["References"] = original.references
        if client in ("outlook", "outlook_ios"):
            message["Thread-Topic"] = original.subject
            message["Thread-Index"] = base64.b64encode(self.rng.randbytes(22)).decode()
            message["Accept-Language"] = f"{lang.code}-{self.hotel.country}, en-US"
            message["Content-Language"] = f"{lang.code}-{self.hotel.country}"
            message["X-MS-Has-Attach"] = ""
        elif client == "thunderbird":
            message["User-Agent"] = "Mozilla Thunderbird"
        elif client == "webmail":
            message["User-Agent"] = "Roundcube Webmail/1.6.9"
        elif client in ("iphone", "apple_mail"):
            message["X-Mailer"] = "iPhone Mail (22B91)" if client == "iphone" else "Apple Mail (2.3826.300.87.4.3)"
        return message

    # Auto-replies ---------------------------------------------------------------------------------------------

    def back_on(self, first: datetime) -> date:
        """The first working day back: the absence counts from the first message that found the person away."""
        back = first.astimezone(self.habits.zone).date() + timedelta(days=self.habits.absence_days)
        while back.weekday() >= 5:
            back += timedelta(days=1)
        return back

    def notice_text(self, lang: Language, back: date, urgent_to: str, choices: random.Random) -> tuple[str, str | None]:
        """(the notice's text, the date it writes) in one language."""
        fill = {"hotel": self.hotel.name, "full_name": self.person.full_name, "email": urgent_to}
        notice = self.habits.notice
        if notice == "left_company":
            return choices.choice(lang.left_company).format(**fill), None
        if notice == "acknowledgement":
            return choices.choice(lang.acknowledgement).format(**fill), None
        urgent = choices.choice(lang.urgent).format(**fill)
        if not self.habits.dated:
            return _tidy(choices.choice(lang.ooo_nodate).format(urgent=urgent, **fill)), None
        kind, phrase = choices.choice(lang.return_phrases)
        written = back if kind == "back_on" else _previous_working_day(back)
        moment = datetime.combine(written, time(12))
        when = phrase.format(date=render_date(choices.choice(lang.date_formats), moment, lang))
        body = choices.choice(lang.ooo_bodies).format(when=when, urgent=urgent, **fill)
        return _tidy(body), written.isoformat()

    def auto_reply_builder(self, back: date) -> Builder:
        def build(original: _Original, at: datetime) -> tuple[EmailMessage, dict[str, Any]]:
            return self.auto_reply(original, at, back)

        return build

    def auto_reply(self, original: _Original, at: datetime, back: date) -> tuple[EmailMessage, dict[str, Any]]:
        style, lang = self.habits.autoresponder, self.lang
        choice = random.Random(f"{self.world.seed}|notice|{self.person.email}")  # the same notice every time
        hotel = self.hotel.domain
        urgent_to = choice.choice([f"reservations@{hotel}", f"info@{hotel}", self.colleague()[2]])
        text, written = self.notice_text(lang, back, urgent_to, choice)
        if self.habits.bilingual and self.habits.notice == "out_of_office":
            english = language("en", self.hotel.country)
            text += f"\n\n--- English version ---\n\n{self.notice_text(english, back, urgent_to, choice)[0]}"
        if self.habits.signature != 2 and choice.random() < 0.7:
            text = f"{text}\n\n{self.signature() or self.person.full_name}"
        truth = self.truth("auto_reply", self.habits.notice, return_date=written, format=style)
        if style == "client_rule":
            return self.reply(original, at, text, quote=choice.random() < 0.4, cc=None), truth
        message = EmailMessage()
        message.set_raw("From", self.sender("latin1-q" if style == "exchange_oof" else "utf8-b"))
        message["To"] = original.envelope_sender
        message["Subject"] = self.notice_subject(original, style, choice)
        message["Date"] = format_datetime((at - timedelta(seconds=1)).astimezone(self.habits.zone))
        message.set_raw("Message-ID", self.message_id())
        if original.message_id and style not in ("cpanel", "precedence"):
            message.set_raw("In-Reply-To", original.message_id)
            message["References"] = original.references
        for name, value in _AUTORESPONDER_HEADERS[style]:
            message[name] = value.format(email=self.person.email, subject=original.subject)
        if style == "exchange_oof":
            message["Thread-Topic"] = original.subject
            message["Content-Language"] = f"{lang.code}-{self.hotel.country}"
        if style in ("exchange_oof", "gmail_vacation"):
            _set_text(message, text, "plain", "quoted-printable")
            page = f"<html><body><div>{_paragraphs(text)}</div></body></html>"
            _add_html(message, page, "quoted-printable", f"_000_{self.rng.randbytes(12).hex()}_")
        else:
            _set_text(message, text, "plain", "8bit" if style == "cpanel" else "quoted-printable")
        return message, truth

    def notice_subject(self, original: _Original, style: str, choice: random.Random) -> str:
        lang = self.lang
        if style == "exchange_oof":
            return lang.auto_reply_subject.format(subject=original.subject)
        if style == "sieve_vacation":
            return f"Auto: {original.subject}"
        return choice.choice(lang.plain_ooo_subjects).format(subject=original.subject)

    # Bounces ---------------------------------------------------------------------------------------------------

    def bounce_builder(self, failure: dsn.Failure) -> Builder:
        def build(original: _Original, at: datetime) -> tuple[EmailMessage, dict[str, Any]]:
            bounce = dsn.Bounce(
                original=original.message,
                original_text=original.text_with_headers,
                original_headers=original.headers_text,
                recipient=self.person.email,
                envelope_sender=original.envelope_sender,
                hotel=self.hotel,
                zone=self.habits.zone,
                arrived=self.arrival,
                at=at,
                failure=failure,
                rng=self.rng,
            )
            message = dsn.build(self.habits.mta, bounce)
            return message, {
                "category": failure.category,
                "detail": failure.detail,
                "return_date": None,
                "failed_recipients": [self.person.email],
                "language": None,
                "format": f"dsn_{self.habits.mta}",
            }

        return build


_AUTORESPONDER_HEADERS: dict[str, tuple[tuple[str, str], ...]] = {
    "exchange_oof": (
        ("Auto-Submitted", "auto-generated"),
        ("X-Auto-Response-Suppress", "All"),
        ("X-MS-Exchange-Inbox-Rules-Loop", "{email}"),
    ),
    "gmail_vacation": (("Auto-Submitted", "auto-replied"),),
    "sieve_vacation": (("Auto-Submitted", "auto-replied (vacation)"),),
    "cpanel": (("X-Autoreply", "yes"), ("X-Autorespond", "{subject}")),
    "precedence": (("Precedence", "auto_reply"), ("X-Mailer", "Hotel PMS Mailer 4.2")),
}


def _q_word(data: bytes) -> str:
    """RFC 2047 Q encoding of a display name (space as underscore)."""
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!*+-/"
    return "".join("_" if byte == 0x20 else chr(byte) if byte in safe else f"={byte:02X}" for byte in data)


def _paragraphs(text: str) -> str:
    blocks = [html.escape(block, quote=False).replace("\n", "<br>") for block in text.split("\n\n")]
    return "".join(f"<div>{block}</div><div><br></div>" for block in blocks)


def _wrap(text: str) -> str:
    return "\n".join(
        textwrap.fill(line, 76, break_long_words=False, break_on_hyphens=False) if len(line) > 76 else line
        for line in text.split("\n")
    )


def _tidy(text: str) -> str:
    return re.sub(r"[ \t]+\n", "\n", re.sub(r" {2,}", " ", text)).strip()


def _previous_working_day(day: date) -> date:
    day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _add_html(message: EmailMessage, document: str, cte: str, boundary: str) -> None:
    """Make the message multipart/alternative with an HTML part; subparts carry no MIME-Version of their own."""
    message.add_alternative(document, subtype="html", cte=cte)
    message.set_boundary(boundary)
    for part in message.iter_parts():
        del part["MIME-Version"]


def _set_text(message: EmailMessage, text: str, subtype: str, cte: str) -> None:
    if cte == "7bit" and not text.isascii():
        cte = "quoted-printable"
    message.set_content(text, subtype=subtype, charset="utf-8", cte=cte)
