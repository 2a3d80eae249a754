"""Delivery status notifications as five real MTAs write them: Postfix, Exim, Exchange/Office 365, Gmail, qmail.

A catch-all domain accepts mail for a person who has left and fails it later, inside the hotel's own mail
system; the DSN then comes back in the format of whichever MTA the domain runs. Postfix, Exchange and Gmail
send RFC 3464 ``multipart/report`` messages; Exim and qmail send plain text only (Exim with
``X-Failed-Recipients``, qmail in its QSBMF layout). Soft failures (mailbox full, a host that does not answer)
produce a delay warning first where the MTA sends one, and a final expiry later.

Hosts are reserved names (``.test``/``.example``) like every host of the world: Gmail's daemon writes from
``mailer-daemon@googlemail.example``, Microsoft's servers are ``*.prod.outlook.example``.
"""

from __future__ import annotations

import html
import random
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from email.message import EmailMessage, Message
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from jengu_pipeline.sandbox.world import Hotel

MTAS = ("postfix", "exim", "exchange", "gmail", "qmail")
KINDS = ("user_unknown", "mailbox_disabled", "no_such_domain", "mailbox_full", "delayed")


@dataclass(frozen=True)
class Failure:
    """One notification: what happened (``detail``), the DSN's Action and Status, and its category."""

    detail: str
    action: str
    status: str
    category: str
    after: tuple[int, int]
    """Seconds after the original arrived, as a range the notification's time is drawn from."""


MINUTES = (20, 900)
PACIFIC = ZoneInfo("America/Los_Angeles")  # Gmail's daemon dates its notices in Mountain View's time
_HARD = {
    "user_unknown": "5.1.1",
    "mailbox_disabled": "5.2.1",
    "no_such_domain": "5.4.4",
}
_EXCHANGE_UNKNOWN = ("5.1.10", "5.4.1")
_RETRY_WARNING = {"postfix": 4 * 3600, "exim": 24 * 3600, "exchange": 6 * 3600, "gmail": 4 * 3600}
_TEMPORARY_QUOTA = ("postfix", "gmail")
"""MTAs whose mailbox store may answer a full mailbox with 452 4.2.2: retried, warned about, then expired."""
_GIVE_UP = {"postfix": 5 * 86400, "exim": 4 * 86400, "exchange": 2 * 86400, "gmail": 2 * 86400, "qmail": 7 * 86400}


def schedule(mta: str, kind: str, rng: random.Random) -> list[Failure]:
    """The notifications one message produces, in order: a hard failure, a full mailbox, or a delay then expiry."""
    if kind in _HARD:
        status = _HARD[kind]
        if mta == "exchange" and kind == "user_unknown":
            status = rng.choice(_EXCHANGE_UNKNOWN)
        if mta == "qmail" and kind == "no_such_domain":
            status = "5.1.2"
        return [Failure(kind, "failed", status, "bounce_hard", MINUTES)]
    if kind == "mailbox_full" and mta in _TEMPORARY_QUOTA and rng.random() < 0.5:
        warn, give_up = _RETRY_WARNING[mta], _GIVE_UP[mta]
        return [
            Failure(kind, "delayed", "4.2.2", "bounce_soft", (warn, warn + 300)),
            Failure(kind, "failed", "4.2.2", "bounce_soft", (give_up, give_up + 600)),
        ]
    if kind == "mailbox_full":
        return [Failure(kind, "failed", "5.2.2", "bounce_soft", MINUTES)]
    notices = []
    if mta in _RETRY_WARNING:
        warn = _RETRY_WARNING[mta]
        status = "4.4.7" if mta == "exchange" else "4.4.1"
        notices.append(Failure("delayed", "delayed", status, "bounce_soft", (warn, warn + 300)))
    give_up = _GIVE_UP[mta]
    status = {"exchange": "4.4.7", "qmail": "4.4.2"}.get(mta, "4.4.1")
    notices.append(Failure("delivery_expired", "failed", status, "bounce_soft", (give_up, give_up + 600)))
    return notices


@dataclass(frozen=True)
class Bounce:
    """Everything a notification names: the original, who it failed for, and where and when."""

    original: EmailMessage
    original_text: str
    original_headers: str
    recipient: str
    envelope_sender: str
    hotel: Hotel
    zone: tzinfo
    arrived: datetime
    at: datetime
    failure: Failure
    rng: random.Random

    @property
    def mx(self) -> str:
        return self.hotel.mx[0] if self.hotel.mx else f"mx1.{self.hotel.domain}"

    @property
    def store(self) -> str:
        """The hotel's internal mailbox server, behind the MX, where the failure really happens."""
        return f"mailstore.{self.hotel.domain}"

    @property
    def subject(self) -> str:
        return str(self.original.get("Subject", ""))

    @property
    def original_id(self) -> str:
        return str(self.original.get("Message-ID", "")).strip()

    def hex(self, length: int) -> str:
        return "".join(self.rng.choice("0123456789ABCDEF") for _ in range(length))

    def alnum(self, length: int) -> str:
        return "".join(
            self.rng.choice("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(length)
        )


def build(mta: str, bounce: Bounce) -> EmailMessage:
    """The notification ``mta`` sends for ``bounce``."""
    builders: dict[str, Callable[[Bounce], EmailMessage]] = {
        "postfix": _postfix,
        "exim": _exim,
        "exchange": _exchange,
        "gmail": _gmail,
        "qmail": _qmail,
    }
    return builders[mta](bounce)


# RFC 3464 parts -----------------------------------------------------------------------------------------------


def _report(boundary: str) -> EmailMessage:
    report = EmailMessage()
    report.make_mixed()
    report.replace_header("Content-Type", "multipart/report")
    report.set_param("report-type", "delivery-status")
    report.set_boundary(boundary)
    del report["MIME-Version"]
    return report


def _status_part(per_message: dict[str, str], per_recipient: dict[str, str]) -> EmailMessage:
    """The message/delivery-status part: one per-message block, one per-recipient block (RFC 3464 2.1)."""
    blocks: list[Message | str] = []
    for fields in (per_message, per_recipient):
        block = Message()
        for name, value in fields.items():
            block[name] = value
        blocks.append(block)
    part = EmailMessage()
    part["Content-Type"] = "message/delivery-status"
    part.set_payload(blocks)
    return part


def _text(text: str, subtype: str = "plain", charset: str = "us-ascii", **headers: str) -> EmailMessage:
    part = EmailMessage()
    short = all(len(line) <= 998 for line in text.splitlines())
    cte = "7bit" if text.isascii() and short and subtype == "plain" else "quoted-printable"
    part.set_content(text, subtype=subtype, charset=charset, cte=cte)
    for name, value in headers.items():
        part[name.replace("_", "-")] = value
    del part["MIME-Version"]
    return part


def _returned(bounce: Bounce, *, headers_only: bool, description: str | None = None) -> EmailMessage:
    part = EmailMessage()
    if headers_only:
        part.set_content(bounce.original_headers, subtype="rfc822-headers", charset="us-ascii", cte="7bit")
    else:
        part.set_content(bounce.original)
    if description:
        part["Content-Description"] = description
    del part["MIME-Version"]
    return part


def _wrapped(text: str, indent: str = "    ", width: int = 72) -> str:
    return textwrap.fill(text, width=width, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)


def _local(bounce: Bounce, moment: datetime) -> str:
    return format_datetime(moment.astimezone(bounce.zone))


# Postfix ----------------------------------------------------------------------------------------------------


def _postfix_diagnostic(bounce: Bounce) -> tuple[str, str, str]:
    """(the human sentence, the Diagnostic-Code, the remote MTA) for Postfix."""
    rcpt, store = bounce.recipient, bounce.store
    detail = bounce.failure.detail
    if detail == "user_unknown":
        reply = f"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table"
        return f"host {store}[192.0.2.25] said: {reply} (in reply to RCPT TO command)", f"smtp; {reply}", store
    if detail == "mailbox_disabled":
        reply = f"550 5.2.1 <{rcpt}>: Recipient address rejected: Account disabled"
        return f"host {store}[192.0.2.25] said: {reply} (in reply to RCPT TO command)", f"smtp; {reply}", store
    if detail == "mailbox_full" and bounce.failure.status == "4.2.2":
        reply = f"452 4.2.2 <{rcpt}>: Recipient address rejected: Mailbox full"
        return f"host {store}[192.0.2.25] said: {reply} (in reply to RCPT TO command)", f"smtp; {reply}", store
    if detail == "mailbox_full":
        reply = f"552 5.2.2 <{rcpt}> Quota exceeded (mailbox for user is full)"
        return f"host {store}[192.0.2.25] said: {reply} (in reply to end of DATA command)", f"smtp; {reply}", store
    if detail == "no_such_domain":
        old = f"exchange-old.{bounce.hotel.domain}"
        text = f"Host or domain name not found. Name service error for name={old} type=AAAA: Host not found"
        return text, f"X-Postfix; {text}", ""
    text = f"connect to {store}[192.0.2.25]:25: Connection timed out"
    return f"delivery temporarily suspended: {text}", f"X-Postfix; {text}", store


def _postfix(bounce: Bounce) -> EmailMessage:
    mx, failure = bounce.mx, bounce.failure
    queue_id = bounce.hex(10)
    sentence, diagnostic, remote = _postfix_diagnostic(bounce)
    boundary = f"{queue_id}.{int(bounce.at.timestamp())}/{mx}"
    report = _report(boundary)
    if failure.action == "delayed":
        report["Subject"] = "Delayed Mail (still being retried)"
        lead = (
            "####################################################################\n"
            "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
            "####################################################################\n\n"
            "Your message could not be delivered for 4.0 hours.\nIt will be retried until it is 5.0 days old.\n"
        )
    else:
        report["Subject"] = "Undelivered Mail Returned to Sender"
        lead = (
            "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients. "
            "It's attached below.\n"
        )
    report["From"] = f"MAILER-DAEMON@{mx} (Mail Delivery System)"
    report["To"] = bounce.envelope_sender
    report["Auto-Submitted"] = "auto-replied"
    report["Date"] = _local(bounce, bounce.at)
    report.set_raw("Message-Id", f"<{bounce.at:%Y%m%d%H%M%S}.{queue_id}@{mx}>")
    report.preamble = "This is a MIME-encapsulated message."
    text = (
        f"This is the mail system at host {mx}.\n\n{lead}\nFor further assistance, please send mail to "
        "postmaster.\n\nIf you do so, please include this problem report. You can\ndelete your own text from "
        f"the attached returned message.\n\n                   The mail system\n\n"
        f"{_wrapped(f'<{bounce.recipient}>: {sentence}')}\n"
    )
    report.attach(_text(text, Content_Description="Notification"))
    alias = bounce.rng.random() < 0.15
    final = f"{bounce.recipient.partition('@')[0]}@{bounce.store}" if alias else bounce.recipient
    per_message = {
        "Reporting-MTA": f"dns; {mx}",
        "X-Postfix-Queue-ID": queue_id,
        "X-Postfix-Sender": f"rfc822; {bounce.envelope_sender}",
        "Arrival-Date": _local(bounce, bounce.arrived),
    }
    per_recipient = {
        "Final-Recipient": f"rfc822; {final}",
        "Original-Recipient": f"rfc822;{bounce.recipient}",
        "Action": failure.action,
        "Status": failure.status,
    }
    if remote:
        per_recipient["Remote-MTA"] = f"dns; {remote}"
    per_recipient["Diagnostic-Code"] = diagnostic
    if failure.action == "delayed":
        per_recipient["Will-Retry-Until"] = _local(bounce, bounce.arrived + timedelta(days=5))
    status = _status_part(per_message, per_recipient)
    status["Content-Description"] = "Delivery report"
    report.attach(status)
    headers_only = bounce.rng.random() < 0.4
    description = "Undelivered Message Headers" if headers_only else "Undelivered Message"
    if failure.action == "delayed":
        description = "Delayed Message Headers" if headers_only else "Delayed Message"
    report.attach(_returned(bounce, headers_only=headers_only, description=description))
    return report


# Exim -------------------------------------------------------------------------------------------------------


def _exim_reason(bounce: Bounce) -> str:
    rcpt, store, detail = bounce.recipient, bounce.store, bounce.failure.detail
    host = f"host {store} [192.0.2.25]"
    if detail == "user_unknown":
        return (
            f"    {host}\n    SMTP error from remote mail server after RCPT TO:<{rcpt}>:\n"
            f"    550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"
        )
    if detail == "mailbox_disabled":
        return (
            f"    {host}\n    SMTP error from remote mail server after RCPT TO:<{rcpt}>:\n"
            "    550 5.2.1 Mailbox disabled for this recipient"
        )
    if detail == "no_such_domain":
        return "    all relevant MX records point to non-existent hosts"
    if detail == "mailbox_full":
        local = rcpt.partition("@")[0]
        return f"    mailbox is full (MTA-imposed quota exceeded while writing to /var/mail/{local})"
    if detail == "delayed":
        return f"    {host}\n    Delay reason: Connection timed out"
    return f"    {host}: Connection timed out\n    retry timeout exceeded"


def _exim(bounce: Bounce) -> EmailMessage:
    mx = bounce.mx
    exim_id = f"1{bounce.alnum(5)}-{bounce.alnum(6)}-{bounce.alnum(2)}"
    message = EmailMessage()
    message["From"] = f"Mail Delivery System <Mailer-Daemon@{mx}>"
    message["To"] = bounce.envelope_sender
    message["Auto-Submitted"] = "auto-replied"
    message.set_raw("Message-Id", f"<E{exim_id}@{mx}>")
    message["Date"] = _local(bounce, bounce.at)
    reason = _exim_reason(bounce)
    if bounce.failure.action == "delayed":
        message["Subject"] = f"Warning: message {exim_id} delayed 24 hours"
        body = (
            "This message was created automatically by mail delivery software.\n"
            "A message that you sent has not yet been delivered to one or more of its\n"
            f"recipients after more than 24 hours on the queue on {mx}.\n\n"
            f"The message identifier is:     {exim_id}\n"
            f"The subject of the message is: {bounce.subject}\n"
            f"The date of the message is:    {bounce.original.get('Date', '')}\n\n"
            "The address to which the message has not yet been delivered is:\n\n"
            f"  {bounce.recipient}\n{reason}\n\n"
            "No action is required on your part. Delivery attempts will continue for\n"
            "some time, and this warning may be repeated at intervals if the message\n"
            "remains undelivered. Eventually the mail delivery software will give up,\n"
            "and when that happens, the message will be returned to you.\n"
        )
    else:
        message["Subject"] = "Mail delivery failed: returning message to sender"
        message["X-Failed-Recipients"] = bounce.recipient
        body = (
            "This message was created automatically by mail delivery software.\n\n"
            "A message that you sent could not be delivered to one or more of its\n"
            "recipients. This is a permanent error. The following address(es) failed:\n\n"
            f"  {bounce.recipient}\n{reason}\n\n"
            "------ This is a copy of the message, including all the headers. ------\n\n"
            f"{bounce.original_text}"
        )
    message.set_content(body, charset="us-ascii" if body.isascii() else "utf-8", cte="8bit")
    return message


# Exchange / Office 365 --------------------------------------------------------------------------------------


_EXCHANGE_DIAGNOSTICS = {
    "5.1.10": (
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
        "wasn't found at",
    ),
    "5.4.1": ("550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "wasn't found at"),
    "mailbox_disabled": (
        "550 5.2.1 STOREDRV.Deliver.Exception:AccountDisabledException; mailbox disabled",
        "is disabled at",
    ),
    "no_such_domain": ("550 5.4.4 SMTPSEND.DNS.NonExistentDomain; nonexistent domain", "couldn't be reached at"),
    "mailbox_full": (
        "554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
        "has a full mailbox at",
    ),
    "delayed": ("400 4.4.7 Message delayed", "hasn't received it yet at"),
    "delivery_expired": ("550 4.4.7 QUEUE.Expired; message expired", "couldn't be reached at"),
}
"""(the Remote Server line, what the recipient sees), by status for unknown users, else by detail."""
_EXCHANGE_ADVICE = {
    "user_unknown": (
        "Unknown To address",
        "The email address you entered couldn't be found. Please check the recipient's email address and try to "
        "send the message again. If the problem continues, please contact your helpdesk.",
    ),
    "mailbox_disabled": (
        "Recipient's mailbox is disabled",
        "The recipient's mailbox has been disabled and can't receive messages. Contact the recipient by some "
        "other means.",
    ),
    "no_such_domain": (
        "Recipient's domain couldn't be reached",
        "The recipient's email system couldn't be found. Check the address, or ask the recipient's email admin "
        "to check the domain's DNS records.",
    ),
    "mailbox_full": (
        "Recipient's mailbox is full",
        "The recipient's mailbox is full and can't accept messages now. Please try resending your message later, "
        "or contact the recipient directly.",
    ),
    "delivery_expired": (
        "Message expired",
        "The recipient's email server didn't respond for two days, so the message was not delivered. Please try "
        "again later.",
    ),
}


def _exchange(bounce: Bounce) -> EmailMessage:
    failure, rcpt = bounce.failure, bounce.recipient
    server = f"AM{bounce.rng.randint(0, 9)}PR0{bounce.rng.randint(1, 9)}MB{bounce.rng.randint(1000, 9999)}"
    host = f"{server}.eurprd0{bounce.rng.randint(1, 9)}.prod.outlook.example"
    remote, seen = _EXCHANGE_DIAGNOSTICS.get(failure.status) or _EXCHANGE_DIAGNOSTICS[failure.detail]
    delayed = failure.action == "delayed"
    report = _report(f"_000_{bounce.hex(32)}_")
    report["From"] = f"Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@{bounce.hotel.domain}>"
    report["To"] = bounce.envelope_sender
    report["Date"] = format_datetime(bounce.at)
    report["Subject"] = f"{'Delivery delayed:' if delayed else 'Undeliverable:'} {bounce.subject}"
    report["Thread-Topic"] = bounce.subject
    report.set_raw(
        "Message-ID", f"<{bounce.hex(8)}-{bounce.hex(4)}-{bounce.hex(4)}-{bounce.hex(4)}-{bounce.hex(12)}@{host}>"
    )
    if bounce.original_id:
        report.set_raw("In-Reply-To", bounce.original_id)
        report["References"] = bounce.original_id
    report["Content-Language"] = "en-US"
    report["X-MS-Exchange-Message-Is-Ndr"] = ""
    report["X-MS-Has-Attach"] = "yes"
    local, _, domain = rcpt.partition("@")
    title, advice = _EXCHANGE_ADVICE.get(failure.detail, _EXCHANGE_ADVICE["user_unknown"])
    if delayed:
        text = (
            "Delivery is delayed to these recipients or groups:\n\n"
            f"{rcpt} ({rcpt})\n\nSubject: {bounce.subject}\n\n"
            "This message hasn't been delivered yet. Delivery will continue to be attempted.\n\n"
            "The server will keep trying to deliver this message for the next 1 days, 19 hours and 53 minutes. "
            "You'll be notified if the message can't be delivered by that time.\n"
        )
    elif bounce.rng.random() < 0.6:
        text = (
            f"Your message to {rcpt} couldn't be delivered.\n\n{local} {seen} {domain}.\n\n"
            f"{bounce.envelope_sender.partition('@')[0]}    Office 365    {local}\n"
            f"Action Required                 Recipient\n\n{title}\n\nHow to Fix It\n{advice}\n"
        )
    else:
        text = f"Delivery has failed to these recipients or groups:\n\n{rcpt} ({rcpt})\n{advice}\n"
    text += (
        f"\n\nDiagnostic information for administrators:\n\nGenerating server: {host}\n\n"
        f"{rcpt}\nRemote Server returned '{remote}'\n\nOriginal message headers:\n\n{bounce.original_headers}"
    )
    alternative = EmailMessage()
    alternative.make_alternative()
    alternative.set_boundary(f"_002_{bounce.hex(32)}_")
    del alternative["MIME-Version"]
    alternative.attach(_text(text, charset="us-ascii" if text.isascii() else "utf-8"))
    alternative.attach(_text(_exchange_html(text), subtype="html", charset="utf-8"))
    report.attach(alternative)
    per_message = {
        "Reporting-MTA": f"dns;{host}",
        "Received-From-MTA": f"dns;{bounce.mx}",
        "Arrival-Date": format_datetime(bounce.arrived),
    }
    per_recipient = {
        "Final-Recipient": f"rfc822;{rcpt}",
        "Action": failure.action,
        "Status": failure.status,
        "Diagnostic-Code": f"smtp;{remote}",
        "Remote-MTA": f"dns;{bounce.store}",
        "X-Display-Name": local,
    }
    report.attach(_status_part(per_message, per_recipient))
    report.attach(_returned(bounce, headers_only=delayed or bounce.rng.random() < 0.5))
    return report


def _exchange_html(text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(block).replace(chr(10), '<br>')}</p>" for block in text.split("\n\n"))
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>'
        f'<body><div style="font-family:Segoe UI,Frutiger,Arial,sans-serif;font-size:14px">{paragraphs}</div>'
        "</body></html>"
    )


# Gmail ------------------------------------------------------------------------------------------------------


def _gmail_texts(bounce: Bounce) -> tuple[str, str, str]:
    """(heading, explanation, the server's response) as Gmail words them."""
    rcpt, failure = bounce.recipient, bounce.failure
    ref = f"{bounce.alnum(20)}.{bounce.rng.randint(100, 999)} - gsmtp"
    if failure.detail == "user_unknown":
        return (
            "Address not found",
            f"Your message wasn't delivered to {rcpt} because the address couldn't be found, or is unable to "
            "receive mail.\n\nLearn more here: https://support.google.example/mail/?p=NoSuchUser",
            "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the "
            "recipient's email address for typos or unnecessary spaces. For more information, go to "
            f"https://support.google.example/mail/?p=NoSuchUser {ref}",
        )
    if failure.detail == "mailbox_disabled":
        return (
            "Message not delivered",
            f"Your message couldn't be delivered to {rcpt} because the account is disabled.",
            "550 5.2.1 The email account that you tried to reach is disabled. Learn more at "
            f"https://support.google.example/mail/?p=DisabledUser {ref}",
        )
    if failure.detail == "no_such_domain":
        host = f"exchange-old.{bounce.hotel.domain}"
        return (
            "Address not found",
            f"Your message wasn't delivered to {rcpt} because the domain {host} couldn't be found. Check for "
            "typos or unnecessary spaces and try again.",
            f"DNS Error: DNS type 'a' lookup of {host} responded with code NXDOMAIN Domain name not found: {host}",
        )
    if failure.detail == "mailbox_full":
        temporary, delayed = failure.status == "4.2.2", failure.action == "delayed"
        explanation = (
            f"Your message couldn't be delivered to {rcpt}. Their inbox is full, or it's getting too much mail "
            "right now."
        )
        if temporary:
            retry = "will retry for 44 more hours." if delayed else "has stopped trying."
            explanation = (
                f"There was a temporary problem delivering your message to {rcpt}: their inbox is full. Gmail {retry}"
            )
        quota = "over quota." if temporary else "over quota and inactive."
        page = "OverQuotaTemp" if temporary else "OverQuotaPerm"
        return (
            "Message delayed" if delayed else "Recipient inbox full",
            explanation,
            f"{'452 4.2.2' if temporary else '552 5.2.2'} The email account that you tried to reach is {quota} "
            f"Please direct the recipient to https://support.google.example/mail/?p={page} {ref}",
        )
    if failure.action == "delayed":
        return (
            "Message delayed",
            f"There was a temporary problem delivering your message to {rcpt}. Gmail will retry for 44 more "
            "hours. You'll be notified if the delivery fails permanently.",
            "The recipient server did not accept our requests to connect. Learn more at "
            f"https://support.google.example/mail/answer/7720 [{bounce.store} 192.0.2.25: timed out]",
        )
    return (
        "Message not delivered",
        f"There was a problem delivering your message to {rcpt}. See the technical details below.",
        "The recipient server did not accept our requests to connect. Learn more at "
        f"https://support.google.example/mail/answer/7720 [{bounce.store} 192.0.2.25: timed out]",
    )


def _gmail(bounce: Bounce) -> EmailMessage:
    failure = bounce.failure
    heading, explanation, response = _gmail_texts(bounce)
    delayed = failure.action == "delayed"
    report = _report(f"0000000000{bounce.hex(16).lower()}")
    report["From"] = "Mail Delivery Subsystem <mailer-daemon@googlemail.example>"
    report["To"] = bounce.envelope_sender
    if not delayed:
        report["X-Failed-Recipients"] = bounce.recipient
    report["Auto-Submitted"] = "auto-replied"
    report["Subject"] = f"Delivery Status Notification ({'Delay' if delayed else 'Failure'})"
    if bounce.original_id:
        report["References"] = bounce.original_id
        report.set_raw("In-Reply-To", bounce.original_id)
    report.set_raw(
        "Message-ID",
        f"<{bounce.hex(8).lower()}.{bounce.hex(6).lower()}.{bounce.rng.randint(1000, 9999)}@mx.google.example>",
    )
    report["Date"] = format_datetime(bounce.at.astimezone(PACIFIC))
    text = f"\n** {heading} **\n\n{explanation}\n\nThe response was:\n\n{response}\n"
    alternative = EmailMessage()
    alternative.make_alternative()
    alternative.set_boundary(f"0000000000{bounce.hex(16).lower()}")
    del alternative["MIME-Version"]
    alternative.attach(_text(text))
    html_text = (
        "<html><head></head><body><table><tr><td>"
        f'<h3 style="font-family:Google Sans,Roboto,sans-serif">{heading}</h3>'
        f"<p>{explanation.replace(chr(10) * 2, '</p><p>')}</p><p>The response was:</p>"
        f'<p style="font-family:monospace">{response}</p></td></tr></table></body></html>'
    )
    alternative.attach(_text(html_text, subtype="html", charset="utf-8"))
    report.attach(alternative)
    per_message = {
        "Reporting-MTA": "dns; googlemail.example",
        "Received-From-MTA": f"dns; {bounce.envelope_sender}",
        "Arrival-Date": format_datetime(bounce.arrived.astimezone(PACIFIC)),
        "X-Original-Message-ID": bounce.original_id,
    }
    diagnostic = response.replace(" ", "-", 1) if response[:3].isdigit() else response
    per_recipient = {
        "Final-Recipient": f"rfc822; {bounce.recipient}",
        "Action": failure.action,
        "Status": failure.status,
        "Remote-MTA": f"dns; {bounce.mx}. (192.0.2.10, the server for the domain {bounce.hotel.domain}.)",
        "Diagnostic-Code": f"smtp; {diagnostic}",
        "Last-Attempt-Date": format_datetime(bounce.at.astimezone(PACIFIC)),
    }
    if delayed:
        per_recipient["Will-Retry-Until"] = format_datetime((bounce.arrived + timedelta(days=2)).astimezone(PACIFIC))
    report.attach(_status_part(per_message, per_recipient))
    report.attach(_returned(bounce, headers_only=True))
    return report


# qmail ------------------------------------------------------------------------------------------------------


def _qmail_reason(bounce: Bounce) -> str:
    detail = bounce.failure.detail
    if detail == "user_unknown":
        return "Sorry, no mailbox here by that name. (#5.1.1)"
    if detail == "mailbox_disabled":
        return "Sorry, this account has been deactivated. (#5.2.1)"
    if detail == "no_such_domain":
        return f"Sorry, I couldn't find any host named exchange-old.{bounce.hotel.domain}. (#5.1.2)"
    if detail == "mailbox_full":
        return "The users mailfolder is over the allowed quota (size). (#5.2.2)"
    return (
        "Connected to 192.0.2.25 but connection died. (#4.4.2)\n"
        "I'm not going to try again; this message has been in the queue too long."
    )


def _qmail(bounce: Bounce) -> EmailMessage:
    host = f"mail.{bounce.hotel.domain}"
    message = EmailMessage()
    message["Date"] = _local(bounce, bounce.at)
    message["From"] = f"MAILER-DAEMON@{host}"
    message["To"] = bounce.envelope_sender
    message["Subject"] = "failure notice"
    message.set_raw("Message-ID", f"<{int(bounce.at.timestamp())}.{bounce.rng.randint(1000, 99999)}.qmail@{host}>")
    body = (
        f"Hi. This is the qmail-send program at {host}.\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\n"
        "This is a permanent error; I've given up. Sorry it didn't work out.\n\n"
        f"<{bounce.recipient}>:\n{_qmail_reason(bounce)}\n\n"
        "--- Below this line is a copy of the message.\n\n"
        f"{bounce.original_text}"
    )
    message.set_content(body, charset="us-ascii" if body.isascii() else "utf-8", cte="8bit")
    del message["MIME-Version"]
    return message
