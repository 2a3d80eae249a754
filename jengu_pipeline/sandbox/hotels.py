"""The sandbox world's things: hotels, their staff and the truth about each mailbox, with the name helpers
that spell them. The world (``world``) generates them; the prospect export (``prospects``) and every emulated
provider read them. Every domain is under a reserved TLD (``.test``, ``.example``).
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from dataclasses import dataclass
from enum import StrEnum

RESERVED_TLDS = (".test", ".example")
LINKEDIN_HOST = "linkedin.com"
IDENTIFIER_HOSTS = ("linkedin.com",)
"""Real hosts that may appear in URLs only as identifiers of a person or company, never fetched or mailed."""
ROLE_LOCAL_PARTS = ("info", "reservations", "sales")


class Behaviour(StrEnum):
    """What a person's mailbox does with a cold email."""

    POSITIVE = "reply_positive"
    NEGATIVE = "reply_negative"
    QUESTION = "reply_question"
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    UNSUBSCRIBE = "unsubscribe"
    SILENT = "silent"


class Mailbox(StrEnum):
    """The truth about one address, as an all-knowing verifier would report it."""

    EXISTS = "exists"
    CATCH_ALL = "catch_all"
    MISSING = "missing"
    DEAD_DOMAIN = "dead_domain"
    FOREIGN = "foreign"


_STRIP = str.maketrans({"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "þ": "th", "ð": "d"})
_EXPAND = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})


def fold(text: str, *, expand_umlauts: bool = False) -> str:
    """Lower-case ASCII form of a name (Ørsted -> orsted; Müller -> muller, or mueller if expanded)."""
    text = text.lower()
    if expand_umlauts:
        text = text.translate(_EXPAND)
    decomposed = unicodedata.normalize("NFKD", text.translate(_STRIP))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def slug(text: str) -> str:
    """Hyphenated ASCII slug for domains and URLs."""
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")


def is_reserved(host: str) -> bool:
    """True when a host name is under a reserved TLD, the sandbox's only allowed kind."""
    return host.lower().rstrip(".").endswith(RESERVED_TLDS)


def is_identifier_host(host: str) -> bool:
    """True for LinkedIn's hosts (any locale subdomain), which profile URLs name but nothing contacts."""
    name = host.lower().rstrip(".")
    return any(name == h or name.endswith("." + h) for h in IDENTIFIER_HOSTS)


def render_pattern(pattern: str, first: str, last: str, *, expand_umlauts: bool = False) -> str:
    """The local part a pattern gives for a name, e.g. ``{f}{last}`` + Zoë Ørsted -> ``zorsted``."""
    f_token = re.sub(r"[^a-z0-9]", "", fold(first, expand_umlauts=expand_umlauts))
    l_token = re.sub(r"[^a-z0-9]", "", fold(last, expand_umlauts=expand_umlauts))
    return pattern.format(first=f_token, last=l_token, f=f_token[:1], l=l_token[:1])


@dataclass(frozen=True)
class Person:
    """One staff member, with the address their mailbox really has and how it behaves."""

    first: str
    last: str
    title: str
    linkedin_slug: str
    email: str
    behaviour: Behaviour
    public: bool
    objected: bool

    @property
    def full_name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def linkedin_url(self) -> str:
        return f"https://www.{LINKEDIN_HOST}/in/{self.linkedin_slug}"

    @property
    def mailbox_exists(self) -> bool:
        """A person who bounces has left: the address no longer has a mailbox."""
        return self.behaviour is not Behaviour.BOUNCE


@dataclass(frozen=True)
class Hotel:
    """One hotel: name, place, domain, mail set-up, search visibility and staff."""

    name: str
    city: str
    city_aliases: tuple[str, ...]
    region: str
    country: str
    country_name: str
    language: str
    domain: str
    pattern: str
    expands_umlauts: bool
    catch_all: bool
    has_mx: bool
    greylisting: bool
    indexed: bool
    search_rank: int
    mail_provider: str
    lookalike: str | None
    staff: tuple[Person, ...]

    @property
    def website(self) -> str:
        return f"https://www.{self.domain}/"

    @property
    def hostile_site(self) -> bool:
        """About one homepage in ten carries a prompt-injection payload, to prove the message gate holds."""
        return self.has_mx and zlib.crc32(self.domain.encode()) % 10 == 0

    @property
    def role_addresses(self) -> tuple[str, ...]:
        return tuple(f"{local}@{self.domain}" for local in ROLE_LOCAL_PARTS)

    @property
    def mx(self) -> tuple[str, ...]:
        """MX hosts by preference; empty for a dead domain. Hosts are reserved names too."""
        if not self.has_mx:
            return ()
        if self.mail_provider == "google":
            return ("aspmx.l.google.example", "alt1.aspmx.l.google.example")
        if self.mail_provider == "microsoft":
            return (f"{self.domain.replace('.', '-')}.mail.protection.outlook.example",)
        return (f"mx1.{self.domain}", f"mx2.{self.domain}")

    def address_for(self, first: str, last: str) -> str:
        """The address this domain's pattern gives a name (whether or not a mailbox exists)."""
        local = render_pattern(self.pattern, first, last, expand_umlauts=self.expands_umlauts)
        return f"{local}@{self.domain}"
