"""The gate every generated message passes before it may be queued; a failure keeps its rule and the reason.

Messages are written by an LLM that has read the hotel's website, so the gate treats the text as hostile: it
looks for what a careless template or an obedient model leaves behind (unfilled slots, markup, links and
addresses nobody approved, a greeting to someone else, sentences lifted from instructions planted on the site)
and for what gets a cold email filtered (spam phrases, a missing unsubscribe line or postal address).

Links and addresses are looked for the way a mail client would find them: ``http(s)://`` and other scheme
URLs, ``www.`` hosts and bare ``name.tld`` domains (any public suffix, so ``Booking.com`` counts: clients turn
it into a link), after NFKC folding, with invisible format characters removed and ideographic full stops read
as dots, so look-alike spellings cannot slip past. A link's host is taken as a browser reads it (user info and
backslash tricks included) and reduced to its registrable domain with the project's offline tldextract.

Every rule reports under a stable slug (:data:`Rule`); :class:`GateResult` keeps one failure per rule, with
up to :data:`DETAIL_ITEMS` examples.
"""

from __future__ import annotations

import html
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from anyascii import anyascii

from jengu_pipeline.domain.normalise import host_registrable_domain

Rule = Literal[
    "template_syntax",  # Jinja/Mustache/ERB tags or their stray delimiters
    "placeholder",  # an unfilled slot: {first_name}, [Hotel], <<name>>, %s, $name, FIRST_NAME, INSERT ..., "Hi ,"
    "subject_empty",
    "subject_multiline",  # a line break in the subject (header injection or a broken draft)
    "subject_length",
    "no_plain_text",
    "body_length",  # words outside the footer, below or above the limits
    "html",  # markup or entities in the plain text; risky elements, remote images or data: URLs in the HTML
    "script",  # <script>, on*= event handlers, javascript: URLs
    "link_not_allowed",  # a link whose registrable domain is not allowed (or a relative / unreadable link)
    "link_shortener",  # a URL shortener, even on an allowed list: it hides where the link goes
    "spam_score",
    "missing_unsubscribe",
    "missing_postal_address",
    "foreign_address",  # an email address other than the sender's, reply-to, recipient's or on an allowed domain
    "wrong_recipient",  # the greeting names someone who is not the recipient
    "injected_instruction",  # prompt-injection language in the message, or text copied from it on the website
    "scraped_link",  # a link or address that the website text carried and the message repeats
]

DETAIL_ITEMS = 5
"""Examples kept per failure: enough to see the problem, short enough for a table cell."""
SUBJECT_SPAM_WEIGHT = 2.0
"""A trigger in the subject counts this many times: filters and readers judge the subject first."""
COPIED_WORDS = 6
"""Consecutive words the message may not share with an instruction-bearing part of the website text."""
INSTRUCTION_SPAN = 3
"""Sentences read as instructions from a marker on: the marker's sentence and the two after it (the payload)."""


@dataclass(frozen=True)
class GateLimits:
    """Length and spam limits; body words are counted without the footer (unsubscribe text, postal address)."""

    max_subject_chars: int = 90
    min_body_words: int = 25
    max_body_words: int = 220
    spam_threshold: float = 5.0


@dataclass(frozen=True)
class GateContext:
    """Who the message is for and from, what its footer must say, and where it may link."""

    recipient_email: str
    recipient_first_name: str | None
    recipient_last_name: str | None
    hotel_name: str | None
    sender_email: str
    sender_name: str
    reply_to: str | None
    postal_address: str
    unsubscribe_text: str
    allowed_link_domains: frozenset[str]
    """Registrable domains a message may link to (subdomains included); addresses on them are allowed too."""
    scraped_text: str = ""
    """The website text the model saw (title, description, excerpt)."""
    limits: GateLimits = GateLimits()


@dataclass(frozen=True)
class GateFailure:
    """A broken rule and what broke it (up to :data:`DETAIL_ITEMS` examples), kept with a rejected message."""

    rule: Rule
    detail: str


@dataclass(frozen=True)
class GateResult:
    """The verdict: one failure per broken rule (in the order the gate checks them), the spam score, its triggers."""

    failures: tuple[GateFailure, ...]
    spam_score: float
    spam_hits: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


Finding = tuple[Rule, str]


# --------------------------------------------------------------------------- text forms

_DOTS = str.maketrans({"\u3002": "."})  # after NFKC, which maps the halfwidth and fullwidth full stops to it or "."


def _scan_form(text: str) -> str:
    """What a renderer shows, folded so look-alikes match: NFKC, format characters dropped, CJK dots as dots."""
    folded = unicodedata.normalize("NFKC", text).translate(_DOTS)
    return "".join(char for char in folded if unicodedata.category(char) != "Cf")


def _ascii_form(text: str) -> str:
    """Lower-case ASCII with single spaces: the form phrases and markers are matched on."""
    return " ".join(anyascii(_scan_form(text)).lower().split())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", anyascii(_scan_form(text)).lower())


def _collapsed(text: str) -> str:
    return " ".join(text.split()).casefold()


# --------------------------------------------------------------------------- placeholders and template syntax

# fmt: off
_HTML_ELEMENTS = frozenset({
    "a", "abbr", "applet", "area", "article", "aside", "audio", "b", "base", "basefont", "bdo", "big", "blink",
    "blockquote", "body", "br", "button", "canvas", "caption", "center", "code", "col", "dd", "del", "details",
    "dialog", "div", "dl", "dt", "em", "embed", "fieldset", "font", "footer", "form", "frame", "frameset", "h1",
    "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html", "i", "iframe", "img", "input", "ins", "kbd",
    "label", "li", "link", "main", "map", "marquee", "math", "meta", "nav", "noscript", "object", "ol",
    "option", "p", "param", "picture", "portal", "pre", "q", "s", "script", "section", "select", "small",
    "source", "span", "strike", "strong", "style", "sub", "summary", "sup", "svg", "table", "tbody", "td",
    "template", "textarea", "tfoot", "th", "thead", "title", "tr", "tt", "u", "ul", "video", "wbr"
})
# fmt: on
# Each pattern's matches are blanked before the next runs, so a {{ tag }} is not also a {tag} placeholder.
_TEMPLATE_PATTERNS = (
    re.compile(r"\{\{.{0,200}?\}\}|\{%.{0,200}?%\}|\{#.{0,200}?#\}|<%.{0,200}?%>", re.DOTALL),
    re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}|<%"),
)
_PLACEHOLDER_PATTERNS = (
    re.compile(r"\$\{[^{}\n]{0,60}\}"),  # ${name}
    re.compile(r"\*\|[^|\n]{1,40}\|\*"),  # *|FNAME|* (Mailchimp merge tags)
    re.compile(r"<<[^<>\n]{1,60}>>"),  # <<name>>
    re.compile(r"\{[^{}\n]{0,60}\}"),  # {first_name}, {0}, {}
    re.compile(r"\[(?=[^\]\n]{0,60}?[^\W\d_])[^\[\]\n]{1,60}\](?!\()"),  # [First Name], [Hotel]; not [text](url)
    # <First Name>; an HTML element's name is left to the html rule
    re.compile(rf"<\s*(?!(?i:{'|'.join(sorted(_HTML_ELEMENTS))})\b)[A-Za-z][\w ]{{0,40}}>"),
    re.compile(r"%\([A-Za-z_]\w*\)[sdirf]|(?<![\w%])%[sdirf](?![A-Za-z])"),  # %(name)s, %s
    re.compile(r"(?<![\w$])\$[A-Za-z_]\w*"),  # $name
    re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b|\b__[A-Za-z]\w*__\b"),  # FIRST_NAME, __name__
    re.compile(r"\b(?:INSERT|TODO|TBD|FIXME|PLACEHOLDER|XXX+)\b|(?i:\blorem ipsum\b|\bplaceholder\b)"),
    re.compile(
        r"(?i)\binsert\s+(?:your|the|a|an|his|her|their|recipient'?s?|hotel|company|name|first|last|link|date"
        r"|here|personal)\b"
    ),
)


def _matches(patterns: Iterable[re.Pattern[str]], text: str) -> tuple[list[str], str]:
    """Every match of the patterns in turn, and the text with each pattern's matches blanked before the next."""
    found: list[str] = []
    for pattern in patterns:
        found += [match.group() for match in pattern.finditer(text)]
        text = pattern.sub(lambda match: " " * len(match.group()), text)
    return found, text


def _template_findings(text: str, markup: str) -> Iterator[Finding]:
    """Template tags anywhere (HTML source included), then unfilled slots in what the reader sees."""
    tags, rest = _matches(_TEMPLATE_PATTERNS, text)
    yield from (("template_syntax", tag) for tag in tags + _matches(_TEMPLATE_PATTERNS, markup)[0])
    yield from (("placeholder", slot) for slot in _matches(_PLACEHOLDER_PATTERNS, rest)[0])


# --------------------------------------------------------------------------- greetings

_GREETING = re.compile(
    r"^[ \t]*(?:hi|hello|hey|dear|greetings|good (?:morning|afternoon|evening|day)|hallo|guten (?:tag|morgen|abend)"
    r"|liebe[rs]?|sehr geehrte[rs]?|bonjour|bonsoir|cher|chere|hola|buenos dias|estimad[oa]s?|ciao|buongiorno"
    r"|gentile|car[oa]|ola|bom dia|prezad[oa]|hej|hei|goddag|beste|geachte|witam)\b(?![ \t]+from\b)(?P<rest>.*)",
    re.IGNORECASE | re.MULTILINE,
)
_HONORIFIC_DOT = re.compile(r"\b(mr|mrs|ms|mx|dr|prof|sr|sra|srta|mme|mlle|m|st)\.", re.IGNORECASE)
_NAME_END = re.compile(r"[,!:;?—–]|\s-\s|\.(?:\s|$)")
_NAME_MAX_WORDS = 8
# fmt: off
_GENERIC_ADDRESSEES = frozenset({
    "there", "again", "to", "team", "all", "everyone", "everybody", "folks", "and", "the", "of", "at", "du", "de",
    "del", "la", "le", "der", "die", "das", "und", "et", "y", "e", "sir", "madam", "or", "mr", "mrs", "ms", "miss",
    "mx", "dr", "prof", "herr", "frau", "monsieur", "madame", "mademoiselle", "m", "mme", "mlle", "senor", "senora",
    "senorita", "sr", "sra", "srta", "signor", "signora", "sig", "dott", "hotel", "management", "manager",
    "general", "gm", "reservations", "sales", "revenue", "marketing", "front", "office", "desk", "staff",
    "owner", "owners", "director", "colleagues", "damen", "herren", "mesdames", "messieurs", "equipe", "equipo",
    "tutti", "todos", "alle"
})
# fmt: on
_EMPTY_NAMES = frozenset({"none", "null", "undefined", "nan", "nil"})


def _greeted(body: str) -> Iterator[tuple[str, str | None]]:
    """(greeting line, the name it greets) per line that opens with a greeting; None for a slot left empty."""
    for match in _GREETING.finditer(anyascii(_scan_form(body))):
        rest = _HONORIFIC_DOT.sub(r"\1", match.group("rest"))
        end = _NAME_END.search(rest)
        head = rest[: end.start()] if end else rest
        if end and head and not head.strip() and end.group() == ",":
            yield match.group().strip(), None  # "Hi ," - the name rendered empty
        elif end and len(head.split()) <= _NAME_MAX_WORDS:
            yield match.group().strip(), head
        else:  # no punctuation after the name: its leading capitalised words
            yield match.group().strip(), " ".join(itertools.takewhile(lambda word: word[:1].isupper(), rest.split()))


def _greeting_findings(body: str, context: GateContext) -> Iterator[Finding]:
    names = (context.recipient_first_name, context.recipient_last_name, context.hotel_name)
    allowed = _GENERIC_ADDRESSEES.union(*(_words(name or "") for name in names))
    for line, name in _greeted(body):
        if name is None:
            yield "placeholder", line
        elif re.search(r"[\[\]{}<>%$|*_]", name):
            continue  # an unfilled slot, reported as a placeholder
        elif (words := set(_words(name))) and words <= _EMPTY_NAMES:
            yield "placeholder", line  # "Hi None," - a missing value rendered as text
        elif not words <= allowed:
            yield "wrong_recipient", line


# --------------------------------------------------------------------------- links and addresses

_LABEL = r"[^\W_](?:[\w-]{0,62})"
_TLD = r"[^\W\d_]{2,63}"
_EMAIL = rf"[\w.+'%-]+@(?:(?:{_LABEL}\.)+{_TLD}|\[[^\]\s]{{1,45}}\])"
_TOKENS = re.compile(
    rf"(?P<url>\b[a-z][a-z0-9+.-]{{0,20}}://[^\s<>\"'`]+)"
    rf"|(?P<email>(?<![\w.+'%-]){_EMAIL})"
    rf"|(?P<www>(?<![\w@.-])www\d{{0,3}}\.[^\s<>\"'`]+)"
    rf"|(?P<bare>(?<![\w@.-])(?P<host>(?:{_LABEL}\.)+{_TLD})(?![\w@-])(?:[/?#:][^\s<>\"'`]*)?)",
    re.IGNORECASE,
)
_OBFUSCATED_EMAIL = re.compile(
    r"(?i)(?<![\w.+-])[\w.+-]+\s*[\[({]\s*at\s*[\])}]\s*[\w-]+(?:\s*(?:[\[({]\s*dot\s*[\])}]|\.)\s*[\w-]+)+"
    r"|(?<![\w.+-])[\w.+-]+\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)+"
)
_TRAILING = ".,;:!?)]}'\"»›"

# Hosts whose links only redirect: the reader, the filters and this gate cannot see where they lead.
# fmt: off
URL_SHORTENERS = frozenset({
    "bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "v.gd", "buff.ly", "rebrand.ly",
    "cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "lnkd.in", "bl.ink", "t.ly", "s.id", "short.io", "shorte.st",
    "adf.ly", "bit.do", "mcaf.ee", "su.pr", "qr.ae", "tr.im", "x.co", "soo.gd", "clck.ru", "u.to", "snip.ly",
    "tiny.one", "1url.com", "qrco.de", "trib.al", "dlvr.it", "ift.tt", "amzn.to", "fb.me", "wp.me", "db.tt",
    "j.mp", "po.st", "ht.ly", "shor.by", "hyperurl.co", "cli.gs", "linktr.ee", "urlz.fr", "me-qr.com",
})
# fmt: on


@dataclass(frozen=True)
class _Link:
    text: str
    domain: str | None  # registrable domain; None for IPs, unknown suffixes and unreadable hosts

    @property
    def origin(self) -> str:
        return self.domain or _host(self.text)


def _host(url: str) -> str:
    """The host a browser would open: after the scheme and any user info, before path and port."""
    rest = url.replace("\\", "/")
    rest = rest.split("://", 1)[1] if "://" in rest else rest
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    host = re.sub(r":\d*$", "", unquote(netloc))
    return host.strip("[]").rstrip(".").lower()


def _email_origin(address: str) -> str:
    return host_registrable_domain(address.rpartition("@")[2]) or address.casefold()


def _bare_link_domain(host: str) -> str | None:
    """The domain a bare host links to; a host that is itself a public suffix (``x0.com``, ``github.io``) is
    a link to exactly that host, not "no link"."""
    domain = host_registrable_domain(host)
    if domain is None and "." in host.strip(".") and host_registrable_domain(f"x.{host}") is not None:
        return host.lower()
    return domain


def _links_and_emails(text: str) -> tuple[list[_Link], list[str]]:
    """Links (with their registrable domains) and email addresses a mail client would find in the text."""
    scanned = _scan_form(text)
    links: list[_Link] = []
    emails = [match.group() for match in _OBFUSCATED_EMAIL.finditer(scanned)]
    for match in _TOKENS.finditer(scanned):
        token = match.group().rstrip(_TRAILING)
        if match.group("email"):
            emails.append(token)
        elif match.group("bare"):
            domain = _bare_link_domain(match.group("host"))
            if domain is not None:  # "e.g." or "file.txt" is no link
                links.append(_Link(token, domain))
        else:
            links.append(_Link(token, host_registrable_domain(_host(token))))
    return links, emails


def _allowed_domains(context: GateContext) -> frozenset[str]:
    return frozenset(filter(None, (host_registrable_domain(_host(domain)) for domain in context.allowed_link_domains)))


def _link_allowed(link: _Link, domains: frozenset[str]) -> bool:
    return link.domain in domains and link.domain not in URL_SHORTENERS


def _email_allowed(address: str, context: GateContext, domains: frozenset[str]) -> bool:
    own = {context.sender_email, context.reply_to or "", context.recipient_email}
    if address.casefold() in {email.casefold() for email in own if email}:
        return True
    return "@" in address and host_registrable_domain(address.rpartition("@")[2]) in domains


def _link_findings(links: Iterable[_Link], domains: frozenset[str]) -> Iterator[Finding]:
    for link in links:
        if link.domain in URL_SHORTENERS:
            yield "link_shortener", link.text
        elif not _link_allowed(link, domains):
            yield "link_not_allowed", link.text


def _address_findings(
    links: list[_Link], emails: list[str], context: GateContext, domains: frozenset[str]
) -> Iterator[Finding]:
    """Foreign addresses, and links or addresses the website text also carried (the trace of an injection)."""
    foreign = [email for email in emails if not _email_allowed(email, context, domains)]
    yield from (("foreign_address", email) for email in foreign)
    scraped_links, scraped_emails = _links_and_emails(context.scraped_text)
    scraped = {link.origin for link in scraped_links} | {_email_origin(email) for email in scraped_emails}
    yield from (
        ("scraped_link", link.text) for link in links if not _link_allowed(link, domains) and link.origin in scraped
    )
    yield from (("scraped_link", email) for email in foreign if _email_origin(email) in scraped)


# --------------------------------------------------------------------------- markup

_TAG = re.compile(r"<\s*/?\s*([a-zA-Z][a-zA-Z0-9]*)(?=[\s/>])")
_PLAIN_SCRIPT = re.compile(r"(?i)\b(?:java|vb)script\s*:|(?<![\w-])on[a-z]{3,}\s*=\s*[\"'\w]")
_PLAIN_HTML = re.compile(
    r"(?i)<!--|<!doctype|<\?xml|\bdata:[\w.+-]+/[\w.+-]+[;,]|&(?:[a-z][a-z0-9]{1,30}|#\d+|#x[0-9a-f]+);"
)
_HTML_SCRIPT = re.compile(r"(?i)<\s*script\b|(?:^|[\s\"'/;])on[a-z]{3,}\s*=")
_HTML_RISKY = re.compile(
    r"(?i)<\s*(iframe|frame|frameset|object|embed|applet|form|input|button|textarea|select|base|link|meta|svg|math"
    r"|video|audio|source|portal)\b"
)
_HTML_REMOTE = re.compile(
    r"(?i)\b(?:src|srcset|background|poster|lowsrc|dynsrc)\s*=\s*[\"']?\s*(?:[a-z]+:)?//|url\(\s*[\"']?\s*(?:[a-z]+:)?//"
    r"|@import"
)
_HTML_URL_ATTRIBUTE = re.compile(
    r"(?i)\b(?:href|src|action|formaction|xlink:href)\s*=\s*(\"[^\"]{0,2000}\"|'[^']{0,2000}'|[^\s>]+)"
)


def _plain_markup_findings(text: str) -> Iterator[Finding]:
    for match in _TAG.finditer(text):
        name = match.group(1).lower()
        if name == "script":
            yield "script", match.group()
        elif name in _HTML_ELEMENTS:
            yield "html", match.group() + ">"
    yield from (("script", match.group()) for match in _PLAIN_SCRIPT.finditer(text))
    yield from (("html", match.group()) for match in _PLAIN_HTML.finditer(text))


def _html_parts(markup: str) -> tuple[str, list[str]]:
    """Visible text of an HTML body (no style or script content) and the values of its URL attributes."""
    urls = [html.unescape(match.group(1).strip("\"'")).strip() for match in _HTML_URL_ATTRIBUTE.finditer(markup)]
    text = re.sub(r"(?is)<(style|script)\b.*?(?:</\1\s*>|\Z)", " ", markup)  # unclosed: the rest is hidden
    return html.unescape(re.sub(r"<[^<>]*>", " ", text)), urls


def _html_findings(markup: str, urls: list[str]) -> Iterator[Finding]:
    yield from (("script", match.group().strip()) for match in _HTML_SCRIPT.finditer(markup))
    if "javascript:" in "".join(html.unescape(markup).split()).lower():  # browsers drop the blanks in a URL
        yield "script", "javascript: URL"
    yield from (("html", f"<{match.group(1).lower()}>") for match in _HTML_RISKY.finditer(markup))
    yield from (("html", "remote image or resource (a tracking pixel)") for _ in _HTML_REMOTE.finditer(markup))
    for url in urls:
        scheme = re.match(r"([A-Za-z][\w+.-]*):", url)
        if scheme and scheme.group(1).lower() == "data":
            yield "html", url[:40]
        elif not scheme and not url.startswith("//"):
            yield "link_not_allowed", url or '""'  # a relative link leads nowhere from a mailbox


# --------------------------------------------------------------------------- prompt injection

# Phrases that only instructions to a model use; in a message they mean the model obeyed (or leaked) them.
_INSTRUCTION_MARKERS = tuple(
    re.compile(pattern)
    for pattern in (
        r"\b(?:ignore|disregard|forget|override|bypass) (?:(?:all|any|every|the|your|my|of|these|those) )*"
        r"(?:(?:previous|prior|above|earlier|preceding|former|original|existing|system|other) )*"
        r"(?:instructions?|prompts?|rules|directions|guidelines|directives|context)\b",
        r"\b(?:ignore|disregard|forget) (?:(?:all|everything|anything|the) )*(?:above|before|previous|prior)\b",
        r"\b(?:system|developer|hidden|secret) (?:prompt|message|instructions?)\b",
        r"\b(?:new|updated|additional|real) instructions?\b",
        r"\b(?:begin|end|start) (?:of )?(?:the )?(?:(?:system|new|secret|hidden) )?(?:instructions?|prompt)\b",
        r"\byou are now (?:(?:a|an|the|in|my) )?(?:\w+ ){0,3}"
        r"(?:assistant|ai|model|bot|chatbot|agent|dan|gpt|llm|mode)\b",
        r"\b(?:jailbreak|jailbroken|dan mode|developer mode|prompt injection)\b",
        r"(?:^|[\n>\]]) ?(?:system|assistant|user|human)\s?:",
        r"<\|?(?:im_start|im_end|system|assistant|user|endoftext)\|?>|\[/?inst\]|<</?sys>>"
        r"|#{2,} ?(?:instruction|system)",
        r"\bas an ai(?: language)? model\b",
        r"\b(?:if|when) you are an? (?:ai|llm|language model|assistant|chatbot|bot|gpt|model)\b",
        r"\b(?:attention|note|message|instructions?) (?:to|for) (?:(?:the|any|all) )?"
        r"(?:ai|llms?|language models?|assistants?|chatbots?|bots|gpt|models?)\b",
        r"\b(?:do not|don't|never) (?:reveal|mention|disclose|tell) (?:these|this|the|your|any) "
        r"(?:instructions?|prompt)\b",
    )
)
# Weaker signs, too common in ordinary mail to fail a message, that mark website text as instruction-bearing.
_WEBSITE_MARKERS = (
    *_INSTRUCTION_MARKERS,
    re.compile(r"\bdisregard\b|\byou are now\b|\b(?:cc|bcc)\s?:"),
    re.compile(
        r"\b(?:send|forward|cc|bcc|copy) (?:this|the|your|a|all|every|each|any) (?:\w+ )?"
        r"(?:emails?|messages?|mails?|repl(?:y|ies)|cop(?:y|ies)|responses?) to\b"
    ),
    re.compile(
        r"\b(?:include|add|insert|put|mention|append) (?:this|the following|these|a|our) (?:\w+ )?"
        r"(?:links?|urls?|address|email address|website|phone number|text|sentence|phrase)\b"
    ),
    re.compile(r"\b(?:tell|inform|instruct|ask) the (?:reader|recipient|user|model|assistant|ai)\b"),
    re.compile(
        r"\b(?:when|while) (?:writing|composing|generating|drafting) (?:(?:an|the|any|this|your) )?"
        r"(?:emails?|messages?|repl(?:y|ies)|responses?)\b"
    ),
)
_INSTRUCTION_BLOCK = re.compile(
    r"\b(?:begin|start) (?:of )?(?:the )?instructions?\b.*?(?:\bend (?:of )?(?:the )?instructions?\b|$)"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _instruction_text(scraped: str) -> list[str]:
    """The parts of the website text that carry instructions: marked sentences and the ones after them."""
    sentences = [_ascii_form(sentence) for sentence in _SENTENCE_END.split(_scan_form(scraped))]
    parts = [match.group() for match in _INSTRUCTION_BLOCK.finditer(" ".join(sentences))]
    for index, sentence in enumerate(sentences):
        if any(marker.search(sentence) for marker in _WEBSITE_MARKERS):
            parts.append(" ".join(sentences[index : index + INSTRUCTION_SPAN]))
    return parts


def _copied_runs(words: list[str], source: list[str]) -> Iterator[str]:
    """Longest runs of ``words`` made of :data:`COPIED_WORDS`-word sequences that also occur in ``source``."""
    shingles = {tuple(source[i : i + COPIED_WORDS]) for i in range(len(source) - COPIED_WORDS + 1)}
    covered = [False] * len(words)
    for start in range(len(words) - COPIED_WORDS + 1):
        if tuple(words[start : start + COPIED_WORDS]) in shingles:
            covered[start : start + COPIED_WORDS] = [True] * COPIED_WORDS
    position = 0
    for is_copied, run in itertools.groupby(covered):
        length = len(list(run))
        if is_copied:
            yield " ".join(words[position : position + length])
        position += length


def _injection_findings(message: str, scraped: str) -> Iterator[Finding]:
    lines = "\n".join(_ascii_form(line) for line in _scan_form(message).splitlines())
    for marker in _INSTRUCTION_MARKERS:
        yield from (("injected_instruction", match.group().strip()) for match in marker.finditer(lines))
    instructions = [word for part in _instruction_text(scraped) for word in _words(part)]
    for run in _copied_runs(_words(message), instructions):
        yield "injected_instruction", f"copied from the website's instructions: {run!r}"


# --------------------------------------------------------------------------- spam score

# A heuristic in the spirit of SpamAssassin's body and subject rules, not SpamAssassin itself: phrases that mark
# bulk and scam mail, with rough weights. Matched case-insensitively on whole words; each counts once per part.
# fmt: off
SPAM_PHRASES: tuple[tuple[str, float], ...] = (
    ("act now", 2.0), ("act fast", 1.5), ("apply now", 1.5), ("buy now", 2.0), ("order now", 2.0),
    ("call now", 1.5), ("click here", 2.0), ("click below", 1.5), ("sign up free", 2.0),
    ("for free", 1.0), ("free gift", 2.0), ("free trial", 1.0), ("free money", 3.0), ("free access", 1.0),
    ("free consultation", 1.0), ("absolutely free", 2.5), ("totally free", 2.0), ("completely free", 2.0),
    ("guarantee", 1.0), ("guaranteed", 1.0), ("money back", 2.0), ("satisfaction guaranteed", 2.0),
    ("risk free", 2.0), ("no risk", 1.5), ("winner", 2.0), ("you have been selected", 2.5),
    ("you've been selected", 2.5), ("you have won", 3.0), ("congratulations", 1.5), ("prize", 1.5),
    ("lottery", 2.5), ("casino", 2.5), ("urgent", 1.5), ("limited time", 2.0), ("expires today", 1.5),
    ("last chance", 1.5), ("don't miss out", 1.0), ("once in a lifetime", 2.0), ("while supplies last", 2.0),
    ("exclusive deal", 1.0), ("special promotion", 1.0), ("offer expires", 1.5), ("no obligation", 2.0),
    ("no strings attached", 2.0), ("no catch", 1.5), ("no credit card", 1.5), ("no hidden fees", 1.0),
    ("dear friend", 2.5), ("dear sir or madam", 1.0), ("to whom it may concern", 1.0), ("cash", 1.0),
    ("make money", 2.0), ("earn money", 2.0), ("extra income", 2.0), ("double your", 1.5),
    ("lowest price", 1.5), ("best price", 1.0), ("cheap", 1.0), ("save big", 1.5), ("incredible deal", 1.5),
    ("miracle", 2.0), ("viagra", 3.0), ("bitcoin", 1.5), ("crypto", 1.5), ("wire transfer", 2.0),
    ("bank account", 1.5), ("credit card", 1.0), ("this is not spam", 3.0), ("not spam", 2.0),
    ("increase sales", 0.5), ("amazing", 0.5), ("unbelievable", 1.0), ("million dollars", 2.0),
    ("100% satisfied", 2.0), ("be your own boss", 2.0), ("work from home", 1.5), ("weight loss", 2.0),
)
# fmt: on
_SPAM_PATTERNS = tuple(
    (label, weight, re.compile(r"(?<!\w)" + r"[\s-]+".join(map(re.escape, label.split())) + r"(?!\w)", re.I))
    for label, weight in SPAM_PHRASES
)
_SHAPE_RULES: tuple[tuple[str, float, re.Pattern[str]], ...] = (
    ("100%", 1.0, re.compile(r"\b100\s?%")),
    ("$$$", 2.0, re.compile(r"[$€£]{2,}")),
    ("!!", 1.5, re.compile(r"!{2,}")),
)
CAPS_WORDS_RATIO = 0.1
"""Share of ALL-CAPS words (four letters or more) from which a part shouts."""


def _spam_hits(text: str) -> Iterator[tuple[str, float]]:
    for label, weight, pattern in (*_SPAM_PATTERNS, *_SHAPE_RULES):
        if pattern.search(text):
            yield label, weight
    if text.count("!") >= 3:
        yield "exclamation marks", 1.0
    if len(re.findall(r"[$€£]", text)) >= 3:
        yield "currency signs", 1.5
    words = re.findall(r"[^\W\d_]+", text)
    shouted = [word for word in words if len(word) >= 4 and word.isupper()]
    if len(shouted) >= 2 and len(shouted) >= CAPS_WORDS_RATIO * len(words):
        yield "ALL-CAPS words", 2.0


def spam_score(subject: str, body: str) -> tuple[float, tuple[str, ...]]:
    """Weighted spam-trigger score and the triggers hit (subject ones prefixed "subject: " and counted double)."""
    hits = [(f"subject: {label}", weight * SUBJECT_SPAM_WEIGHT) for label, weight in _spam_hits(_scan_form(subject))]
    hits += list(_spam_hits(_scan_form(body)))
    return round(sum((weight for _, weight in hits), 0.0), 2), tuple(label for label, _ in hits)


# --------------------------------------------------------------------------- the gate


def _shape_findings(subject: str, body_text: str, context: GateContext) -> Iterator[Finding]:
    limits = context.limits
    if not subject.strip():
        yield "subject_empty", "the subject is empty"
    elif subject.splitlines() != [subject]:
        yield "subject_multiline", repr(subject[:60])
    if len(subject.strip()) > limits.max_subject_chars:
        yield "subject_length", f"{len(subject.strip())} characters (at most {limits.max_subject_chars})"
    if not body_text.strip():
        yield "no_plain_text", "the plain-text body is empty"
        return
    words = len(re.findall(r"[^\W_]+(?:['’.-][^\W_]+)*", _without_footer(body_text, context)))
    if not limits.min_body_words <= words <= limits.max_body_words:
        yield "body_length", f"{words} words (from {limits.min_body_words} to {limits.max_body_words})"


def _without_footer(body: str, context: GateContext) -> str:
    text = _collapsed(body)
    for part in (context.unsubscribe_text, context.postal_address):
        if part.strip():
            text = text.replace(_collapsed(part), " ")
    return text


_FOOTER_PARTS: tuple[tuple[Rule, str], ...] = (
    ("missing_unsubscribe", "unsubscribe text"),
    ("missing_postal_address", "postal address"),
)


def _footer_findings(body_text: str, context: GateContext) -> Iterator[Finding]:
    body = _collapsed(body_text)
    for (rule, name), part in zip(_FOOTER_PARTS, (context.unsubscribe_text, context.postal_address), strict=True):
        if not part.strip():
            yield rule, f"no {name} configured"
        elif _collapsed(part) not in body:
            yield rule, f"the body lacks the {name}"


def _detail(items: list[str]) -> str:
    distinct = list(dict.fromkeys(item.strip()[:120] for item in items))
    more = f" (+{len(distinct) - DETAIL_ITEMS} more)" if len(distinct) > DETAIL_ITEMS else ""
    return ", ".join(distinct[:DETAIL_ITEMS]) + more


def check_message(subject: str, body_text: str, body_html: str | None, context: GateContext) -> GateResult:
    """Judge a final message (footer included); it may be queued only if the result has no failures."""
    markup = body_html or ""
    html_text, html_urls = _html_parts(markup)
    message = "\n".join((subject, body_text, html_text, *html_urls))
    links, emails = _links_and_emails(message)
    domains = _allowed_domains(context)
    score, hits = spam_score(subject, body_text)
    findings: list[Finding] = [
        *_template_findings(message, markup),
        *_shape_findings(subject, body_text, context),
        *_plain_markup_findings(f"{subject}\n{body_text}"),
        *_html_findings(markup, html_urls),
        *_link_findings(links, domains),
        *_footer_findings(body_text, context),
        *_address_findings(links, emails, context, domains),
        *_greeting_findings(body_text, context),
        *_injection_findings(message, context.scraped_text),
    ]
    if score >= context.limits.spam_threshold:
        findings.append(("spam_score", f"{score} (threshold {context.limits.spam_threshold}): {', '.join(hits)}"))
    grouped: dict[Rule, list[str]] = {}
    for rule, item in findings:
        grouped.setdefault(rule, []).append(item)
    return GateResult(tuple(GateFailure(rule, _detail(items)) for rule, items in grouped.items()), score, hits)
