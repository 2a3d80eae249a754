"""Mail as the pipeline sends it, written straight into the sandbox's SMTP spool: a corpus without the pipeline.

``send_campaign`` writes a first touch to everyone of the world whose mail is accepted, and a follow-up in its
thread some days later, each built by the pipeline's own message builder (footer, List-Unsubscribe) and stored
the way the sandbox's SMTP server stores it. ``deliver_replies`` then answers them; the reply tests and
``benchmarks/replies.py`` use this to get thousands of realistic replies in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from jengu_pipeline.domain.outbound import OutboundEmail, build_message
from jengu_pipeline.sandbox.world import Hotel, Mailbox, Person, World

FOOTER = 'Not interested? Reply "stop" and we will not write again.'


@dataclass(frozen=True)
class Sent:
    file: str
    recipient: str
    message_id: str
    at: datetime


def first_touch(hotel: Hotel, person: Person, number: int, at: datetime, previous: str | None = None) -> EmailMessage:
    """A first touch (or, with ``previous``, a follow-up in its thread) exactly as the pipeline builds it."""
    body = (
        f"Hi {person.first},\n\nA short note about guest messaging at {hotel.name}: Jengu answers direct-booking "
        "enquiries within minutes, in the guest's language.\n\nWould a short call be useful?\n\nMia\n\n"
        f"--\n{FOOTER}\nMia from Jengu · Jengu Demo Ltd, 1 Example Street, 0000 Nowhere, Exampleland"
    )
    subject = f"A quick idea for {hotel.name}"
    message = build_message(
        OutboundEmail(
            from_address="mia@jengu.example",
            from_name="Mia from Jengu",
            to_address=person.email,
            to_name=person.full_name,
            reply_to="replies@jengu.example",
            subject=f"Re: {subject}" if previous else subject,
            body_text=body,
            body_html=None,
            message_id=f"<step{number:06d}@jengu.example>",
            unsubscribe_mailto="mailto:unsubscribe@jengu.example?subject=unsubscribe",
            unsubscribe_url=f"https://unsubscribe.jengu.example/u/{number}",
            date=at,
        )
    )
    if previous:
        message["In-Reply-To"] = previous
        message["References"] = previous
    return message


def store(spool: Path, message: EmailMessage, recipient: str, at: datetime, number: int) -> Sent:
    """What the sandbox SMTP server writes for one accepted recipient: trace headers, then the message."""
    trace = (
        f"Return-Path: <mia@jengu.example>\r\nDelivered-To: {recipient}\r\nX-Original-To: {recipient}\r\n"
        f"Received: from outreach.example ([127.0.0.1]) by mx.sandbox.test (Jengu SANDBOX) with ESMTP id "
        f"{number:08X} for <{recipient}>; {format_datetime(at)}\r\n"
    ).encode()
    name = f"{at:%Y%m%dT%H%M%S}-{number:08X}-0.eml"
    (spool / name).write_bytes(trace + message.as_bytes())
    return Sent(name, recipient, str(message["Message-ID"]), at)


def receivable(world: World) -> list[tuple[Hotel, Person]]:
    """The people whose mail the SMTP server accepts and stores."""
    return [(h, p) for h, p in world.people() if world.mailbox(p.email) in (Mailbox.EXISTS, Mailbox.CATCH_ALL)]


def send_campaign(world: World, spool: Path, start: datetime, *, follow_up_days: int = 4) -> list[Sent]:
    """A first touch to everyone, one every 97 s, and a follow-up to everyone ``follow_up_days`` later."""
    spool.mkdir(parents=True, exist_ok=True)
    sent = []
    people = receivable(world)
    for index, (hotel, person) in enumerate(people):
        at = start + timedelta(seconds=97 * index)
        sent.append(store(spool, first_touch(hotel, person, index, at), person.email, at, index))
    for index, (hotel, person) in enumerate(people):
        at = start + timedelta(days=follow_up_days, seconds=97 * index)
        number = len(people) + index
        message = first_touch(hotel, person, number, at, previous=f"<step{index:06d}@jengu.example>")
        sent.append(store(spool, message, person.email, at, number))
    return sent
