"""The sandbox's reply source: what the world's people send back, written to a Maildir.

``deliver_replies`` reads the messages the SMTP server stored and, per recipient's behaviour,
writes a human reply (positive, negative, question, unsubscribe) quoting the original with
In-Reply-To/References, an out-of-office auto-reply (``Auto-Submitted: auto-replied``), or an
RFC 3464 delivery status notification (a late bounce from a catch-all domain). Silent people,
role addresses and guessed addresses at catch-all domains answer nothing. Each stored message
is answered once (a ledger in the spool remembers which); reply Message-IDs are derived from
the original's, so the same run gives the same replies.
"""

from __future__ import annotations

import hashlib
import mailbox
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage, Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses
from pathlib import Path

from jengu_pipeline.sandbox.world import Behaviour, Hotel, Person, World

LEDGER = "replied.log"

REPLY_TEXTS = {
    Behaviour.POSITIVE: "Thanks for reaching out, this sounds interesting. Could we set up a call next week? "
    "Tuesday or Wednesday afternoon works for me.",
    Behaviour.NEGATIVE: "Thank you, but we are not interested at the moment. We already work with a provider "
    "we are happy with.",
    Behaviour.QUESTION: "Thanks for your email. How much does this cost for a hotel of our size, and does it "
    "integrate with our PMS?",
    Behaviour.UNSUBSCRIBE: "Please remove me from your mailing list and do not contact me again. Unsubscribe.",
}
DELAYS = {
    Behaviour.AUTO_REPLY: timedelta(minutes=1),
    Behaviour.BOUNCE: timedelta(minutes=3),
}


def deliver_replies(world: World, spool: Path, maildir: Path) -> list[Path]:
    """Answer every stored message not answered yet; return the new Maildir files."""
    box = mailbox.Maildir(maildir, create=True)
    ledger = spool / LEDGER
    done = set(ledger.read_text(encoding="utf-8").split()) if ledger.exists() else set()
    written: list[Path] = []
    with ledger.open("a", encoding="utf-8") as log:
        for path in sorted(spool.glob("*.eml")):
            if path.name in done:
                continue
            reply = reply_for(world, path.read_bytes())
            if reply is not None:
                written.append(maildir / "new" / box.add(reply))
            log.write(path.name + "\n")
    return written


def reply_for(world: World, raw: bytes) -> Message | None:
    """The message the recipient of one stored .eml sends back, or None if they stay silent."""
    original = BytesParser(policy=policy.default).parsebytes(raw)
    recipient = str(original.get("X-Original-To") or original.get("To") or "")
    found = world.person(getaddresses([recipient])[0][1])
    if found is None:
        return None
    hotel, person = found
    if person.behaviour is Behaviour.SILENT:
        return None
    if person.behaviour is Behaviour.BOUNCE:
        return _bounce(original, raw, hotel, person)
    return _answer(original, hotel, person)


def _when(original: EmailMessage, behaviour: Behaviour) -> datetime:
    header = original.get("Date")
    sent = getattr(header, "datetime", None) or datetime.now(UTC)
    digest = int(hashlib.sha256(str(original.get("Message-ID", "")).encode()).hexdigest(), 16)
    return sent + DELAYS.get(behaviour, timedelta(hours=1 + digest % 20))


def _message_id(original: EmailMessage, person: Person, domain: str) -> str:
    seed = f"{original.get('Message-ID', '')}|{person.email}|{person.behaviour}"
    return f"<{hashlib.sha256(seed.encode()).hexdigest()[:24]}@{domain}>"


def _answer(original: EmailMessage, hotel: Hotel, person: Person) -> EmailMessage:
    """A person's reply (or their auto-reply), threaded on the original."""
    sender = original.get("Reply-To") or original.get("From") or original.get("Return-Path") or ""
    sender_name = getaddresses([str(sender)])[0][0].split(" ")[0] or "there"
    subject = str(original.get("Subject", ""))
    msg = EmailMessage()
    msg["From"] = f"{person.full_name} <{person.email}>"
    msg["To"] = str(sender)
    msg["Date"] = format_datetime(_when(original, person.behaviour))
    msg["Message-ID"] = _message_id(original, person, hotel.domain)
    original_id = str(original.get("Message-ID", "")).strip()
    if original_id:
        msg["In-Reply-To"] = original_id
        msg["References"] = f"{original.get('References', '')} {original_id}".strip()
    if person.behaviour is Behaviour.AUTO_REPLY:
        back = _when(original, person.behaviour) + timedelta(days=7)
        msg["Subject"] = f"Automatic reply: {subject}"
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Autoreply"] = "yes"
        msg.set_content(
            f"Thank you for your email. I am out of the office until {back:%d %B %Y} with limited access to "
            f"email. For urgent matters please contact info@{hotel.domain}.\n\n"
            f"{person.full_name}\n{person.title}, {hotel.name}\n"
        )
        return msg
    msg["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    body = original.get_body(("plain",))
    quoted = "\n".join(f"> {line}" for line in (body.get_content() if body else "").splitlines())
    msg.set_content(
        f"Hi {sender_name},\n\n{REPLY_TEXTS[person.behaviour]}\n\n{person.first}\n\n"
        f"On {original.get('Date', '')}, {sender} wrote:\n{quoted}\n"
    )
    return msg


def _bounce(original: EmailMessage, raw: bytes, hotel: Hotel, person: Person) -> Message:
    """An RFC 3464 DSN from the domain's MX: the address was accepted (catch-all) but has no mailbox."""
    mx = hotel.mx[0] if hotel.mx else hotel.domain
    return_path = getaddresses([str(original.get("Return-Path") or original.get("From") or "")])[0][1]
    diagnostic = f"550 5.1.1 <{person.email}>: Recipient address rejected: User unknown"
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = f"Mail Delivery System <MAILER-DAEMON@{mx}>"
    report["To"] = return_path
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Date"] = format_datetime(_when(original, Behaviour.BOUNCE))
    report["Message-ID"] = _message_id(original, person, mx)
    report["Auto-Submitted"] = "auto-replied"
    report.attach(
        MIMEText(
            f"This is the mail system at host {mx}.\n\nI'm sorry to have to inform you that your message could "
            f"not be delivered to one or more recipients.\n\n<{person.email}>: host {mx} said: {diagnostic}\n",
            "plain",
            "us-ascii",
        )
    )
    per_message, per_recipient = Message(), Message()
    per_message["Reporting-MTA"] = f"dns; {mx}"
    per_message["Arrival-Date"] = str(original.get("Date", "")) or format_datetime(datetime.now(UTC))
    per_recipient["Final-Recipient"] = f"rfc822; {person.email}"
    per_recipient["Original-Recipient"] = f"rfc822; {person.email}"
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = "5.1.1"
    per_recipient["Remote-MTA"] = f"dns; {mx}"
    per_recipient["Diagnostic-Code"] = f"smtp; {diagnostic}"
    status = Message()
    status["Content-Type"] = "message/delivery-status"
    status.set_payload([per_message, per_recipient])
    report.attach(status)
    headers = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("ascii", "replace")
    report.attach(MIMEText(headers + "\n", "rfc822-headers", "us-ascii"))
    return report
