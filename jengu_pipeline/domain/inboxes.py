"""The inbox configuration file: which mailboxes send, how to reach their servers, and the sending rules.

``inboxes.yaml`` at the project root (``inboxes.example.yaml`` shows every field). Secrets never live in it:
passwords and DKIM keys are named by environment variable and read only when a message goes out. Caps are
checked against the mailbox providers' tolerance here, so a file that would burn an inbox does not load.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import re
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from jengu_pipeline.domain.yaml_files import ConfigFileError, StrictModel, Text, email_address, validate_yaml

INBOX_FILE_NAME = "inboxes.yaml"

TlsMode = Literal["none", "starttls", "ssl"]
HostProvider = Literal["google", "microsoft", "other"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
WORKING_DAYS: tuple[Weekday, ...] = WEEKDAYS[:5]

EnvVarName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")]
HostName = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z0-9._:-]+$")]
Port = Annotated[int, Field(ge=1, le=65535)]
DkimSelector = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$")]

ABSOLUTE_DAILY_CEILING = 50
DailyCap = Annotated[int, Field(ge=1, le=ABSOLUTE_DAILY_CEILING)]
MAX_INBOXES = 500
"""Every number in the file has a range: a typo of a few zeros is an error, not a setting."""
# What Google- and Microsoft-hosted inboxes tolerate from cold outreach once warmed up (DESIGN.md).
PROVIDER_CEILINGS: dict[HostProvider, int] = {"google": 30, "microsoft": 15, "other": ABSOLUTE_DAILY_CEILING}


class InboxFileError(ConfigFileError):
    """The inbox file is missing or invalid; each line names the file and the line or field path."""


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine: the one place a password or link may travel without TLS."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Server(StrictModel):
    """A mail server login; the password is read from the environment variable ``password_env`` names."""

    host: HostName
    port: Port
    tls: TlsMode
    username: Text | None = None
    password_env: EnvVarName | None = None

    @model_validator(mode="after")
    def _login_safe(self) -> _Server:
        if (self.username is None) != (self.password_env is None):
            raise ValueError("give username and password_env together (or neither, for a server without login)")
        if self.password_env is not None and self.tls == "none" and not is_loopback_host(self.host):
            raise ValueError("a password is only sent over TLS: set tls to starttls or ssl (none is for loopback)")
        return self


class SmtpConfig(_Server):
    """Where the inbox sends: usually port 587 with STARTTLS, or 465 with implicit TLS (ssl)."""

    tls: TlsMode = "starttls"


class ImapConfig(_Server):
    """Optional: where replies arrive, and where to look for a message's copy in the Sent folder when a crash
    left its send unknown.
    """

    tls: TlsMode = "ssl"
    sent_folder: Text = "Sent"
    reply_folders: list[Text] = Field(default_factory=lambda: ["INBOX"], min_length=1, max_length=20)


class ReplyMailbox(StrictModel):
    """A mailbox that receives replies without sending: a campaign's ``reply_to`` that is not a sending inbox."""

    address: str
    imap: ImapConfig

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        return email_address(value)


class InboxConfig(StrictModel):
    """One sending mailbox."""

    address: str
    display_name: Text
    host_provider: HostProvider = "other"
    smtp: SmtpConfig
    imap: ImapConfig | None = None
    warmup_start: date
    daily_cap: DailyCap | None = None
    dkim_selector: DkimSelector | None = None
    dkim_key_env: EnvVarName | None = Field(default=None, description="env var holding the PEM private key")
    preflight_override: bool = Field(default=False, description="send although the sender-domain checks fail")

    @field_validator("address")
    @classmethod
    def _valid_address(cls, value: str) -> str:
        return email_address(value)

    @field_validator("daily_cap")
    @classmethod
    def _within_provider_ceiling(cls, cap: int | None, info: ValidationInfo) -> int | None:
        provider: HostProvider = info.data.get("host_provider", "other")  # "other" when it is itself invalid
        ceiling = PROVIDER_CEILINGS[provider]
        if cap is not None and cap > ceiling:
            raise ValueError(f"at most {ceiling} a day from a {provider}-hosted inbox, got {cap}")
        return cap

    @model_validator(mode="after")
    def _key_needs_selector(self) -> InboxConfig:
        if self.dkim_key_env is not None and self.dkim_selector is None:
            raise ValueError("dkim_key_env needs dkim_selector (the DNS name the signature points receivers to)")
        return self

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1]

    @property
    def ceiling(self) -> int:
        """The daily cap once warmed up: the configured cap, else what the inbox's host tolerates."""
        return self.daily_cap or PROVIDER_CEILINGS[self.host_provider]


class BusinessHours(StrictModel):
    """The prospect's local hours in which mail may arrive: ``start`` <= hour < ``end``."""

    start: int = Field(default=9, ge=0, le=23)
    end: int = Field(default=17, ge=1, le=24)

    @model_validator(mode="after")
    def _in_order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


@dataclass(frozen=True)
class Cron:
    """A five-field cron expression (numbers, ``*``, ranges, steps, lists), read the way Dagster schedules are."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    days_restricted: bool
    weekdays_restricted: bool

    def times_on(self, day: date) -> list[time]:
        """When it fires on ``day``, in the schedule's wall-clock time."""
        on_day_of_month, on_weekday = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        # cron's rule: with both day fields restricted either may match, otherwise both must
        if self.days_restricted and self.weekdays_restricted:
            fires = on_day_of_month or on_weekday
        else:
            fires = on_day_of_month and on_weekday
        if not fires or day.month not in self.months:
            return []
        return [time(hour, minute) for hour in sorted(self.hours) for minute in sorted(self.minutes)]

    @property
    def interval_seconds(self) -> int:
        """A lower bound of the time between two firings: how long one tick may spread its sends."""
        minutes = sorted(self.minutes)
        gaps = [later - earlier for earlier, later in itertools.pairwise(minutes)]
        return 60 * min([*gaps, 60 - minutes[-1] + minutes[0]])


_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_ITEM = re.compile(r"(?:(\*)|(\d+)(?:-(\d+))?)(?:/(\d+))?")


def _cron_field(text: str, name: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        match = _CRON_ITEM.fullmatch(item)
        if match is None:
            raise ValueError(f"{name} field {text!r}: use numbers, *, ranges a-b, steps /n and lists a,b")
        star, first, last, step = match.groups()
        start = low if star else int(first)
        end = high if star or (last is None and step) else int(last or first)
        if not low <= start <= end <= high or (step is not None and int(step) < 1):
            raise ValueError(f"{name} field {text!r}: values must be within {low}-{high}, ranges ascending")
        values.update(range(start, end + 1, int(step or 1)))
    return frozenset(values)


def parse_cron(text: str) -> Cron:
    """Parse ``minute hour day-of-month month day-of-week``; raises ValueError saying which field is wrong."""
    parts = text.split()
    if len(parts) != len(_CRON_FIELDS):
        raise ValueError(f"{text!r}: a cron expression has five fields: minute hour day-of-month month day-of-week")
    minutes, hours, days, months, weekdays = (
        _cron_field(part, *field) for part, field in zip(parts, _CRON_FIELDS, strict=True)
    )
    return Cron(minutes, hours, days, months, frozenset(day % 7 for day in weekdays), parts[2] != "*", parts[4] != "*")


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def is_zone_name(name: str) -> bool:
    """Whether ``name`` is an IANA zone; ZoneInfo alone would also open folders such as ``America``."""
    return name in _zone_names()


class SendingRules(StrictModel):
    """How fast, when and to whom the inboxes send (defaults: DESIGN.md's deliverability rules)."""

    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WORKING_DAYS), min_length=1)
    schedule: str = Field(default="*/5 8-18 * * 1-6", description="cron of the sending ticks")
    schedule_timezone: str = Field(default="UTC", description="the schedule's zone; its date is the sending day")
    pace_over_day: bool = Field(default=True, description="spread each inbox's day over the day's ticks")
    global_daily_cap: int | None = Field(
        default=None, ge=1, le=MAX_INBOXES * ABSOLUTE_DAILY_CEILING, description="all inboxes together; none: their sum"
    )
    warmup_stages: list[DailyCap] = Field(default_factory=lambda: [5, 10, 15, 20, 25], min_length=1, max_length=52)
    warmup_stage_days: int = Field(default=7, ge=1, le=90)
    min_gap_seconds: int = Field(default=60, ge=0, le=3600, description="between two sends from one inbox")
    gap_jitter_seconds: int = Field(default=30, ge=0, le=3600, description="random extra on top of min_gap_seconds")
    skip_probability: float = Field(default=0.0, ge=0, lt=1, description="chance an eligible message waits a tick")
    risky_share: float = Field(default=0.2, ge=0, le=1, description="of an inbox's day for catch-all addresses")
    bounce_pause_rate: float = Field(default=0.02, gt=0, le=1)
    bounce_window: int = Field(default=100, ge=1, le=10_000, description="the inbox's last sends judged")
    bounce_min_sends: int = Field(default=20, ge=1, le=10_000, description="sends before the rate is judged")
    unsubscribe_url: str | None = Field(default=None, description="https base of the one-click unsubscribe link")
    unsubscribe_mailto: str | None = Field(default=None, description="none: the sending inbox's own address")

    @field_validator("weekdays")
    @classmethod
    def _unique_days(cls, days: list[Weekday]) -> list[Weekday]:
        if len(set(days)) != len(days):
            raise ValueError(f"each day once: {', '.join(days)}")
        return days

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        parse_cron(value)
        return value

    @field_validator("schedule_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if not is_zone_name(value):
            raise ValueError(f"{value!r} is not an IANA time zone name (such as Europe/Berlin or UTC)")
        return value

    @field_validator("warmup_stages")
    @classmethod
    def _rising(cls, stages: list[int]) -> list[int]:
        if any(later <= earlier for earlier, later in itertools.pairwise(stages)) or stages[0] < 1:
            raise ValueError(f"stages must rise from at least 1: {stages}")
        if stages[-1] > ABSOLUTE_DAILY_CEILING:
            raise ValueError(f"stages above {ABSOLUTE_DAILY_CEILING} a day: {stages}")
        return stages

    @field_validator("unsubscribe_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback_host(parts.hostname or ""))
        if not parts.hostname or not secure:
            raise ValueError(f"{value!r}: an https URL (http only on loopback) is required for one-click unsubscribe")
        return value

    @field_validator("unsubscribe_mailto")
    @classmethod
    def _mailto(cls, value: str | None) -> str | None:
        return None if value is None else email_address(value)

    @model_validator(mode="after")
    def _judged_within_window(self) -> SendingRules:
        if self.bounce_min_sends > self.bounce_window:
            raise ValueError(f"bounce_min_sends ({self.bounce_min_sends}) exceeds bounce_window ({self.bounce_window})")
        return self

    @property
    def cron(self) -> Cron:
        return parse_cron(self.schedule)


class InboxFile(StrictModel):
    """The whole file: the inboxes and the rules they send by."""

    inboxes: list[InboxConfig] = Field(min_length=1, max_length=MAX_INBOXES)
    sending: SendingRules = Field(default_factory=SendingRules)
    reply_mailboxes: list[ReplyMailbox] = Field(default_factory=list, max_length=MAX_INBOXES)

    @field_validator("inboxes")
    @classmethod
    def _unique_addresses(cls, inboxes: list[InboxConfig]) -> list[InboxConfig]:
        addresses = [inbox.address for inbox in inboxes]
        twice = sorted({address for address in addresses if addresses.count(address) > 1})
        if twice:
            raise ValueError(f"each address once: {', '.join(twice)} given more than once")
        return inboxes


def parse_inbox_file(text: str, source: str) -> InboxFile:
    """Validate the file's text; ``source`` is the name used in error messages."""
    try:
        return validate_yaml(InboxFile, text, source, "(inbox file)")
    except ConfigFileError as error:
        raise InboxFileError(error.problems) from error


def read_inbox_file(path: Path) -> InboxFile:
    """The inbox file at ``path``, valid, or an :class:`InboxFileError` listing every problem."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as error:
        raise InboxFileError([f"{path}: no such file (copy inboxes.example.yaml and edit it)"]) from error
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InboxFileError([f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"]) from error
    return parse_inbox_file(text, str(path))
