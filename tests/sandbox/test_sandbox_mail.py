"""The sandbox's SMTP server (RCPT verdicts from the world, .eml spool) and its Maildir replies."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import make_msgid

import pytest

from jengu_pipeline.clock import running_at
from jengu_pipeline.sandbox import SMTP_PASSWORD, Behaviour, Sandbox, World
from jengu_pipeline.sandbox.replies import read_truth
from jengu_pipeline.sandbox.world import Hotel, Person

SENDER = "alex@outreach.example"


def person_where(world: World, behaviour: Behaviour, *, catch_all: bool) -> tuple[Hotel, Person]:
    return next(
        (hotel, person)
        for hotel, person in world.people()
        if person.behaviour is behaviour and hotel.has_mx and hotel.catch_all is catch_all and not hotel.greylisting
    )


def smtp(sandbox: Sandbox) -> smtplib.SMTP:
    connection = smtplib.SMTP(sandbox.smtp_host, sandbox.smtp_port, timeout=10)
    connection.ehlo("outreach.example")
    return connection


def rcpt(sandbox: Sandbox, address: str) -> tuple[int, bytes]:
    """An RCPT-only probe, the way an SMTP verifier asks: no DATA, then QUIT."""
    with smtp(sandbox) as connection:
        connection.mail(SENDER)
        return connection.rcpt(address)


def send(sandbox: Sandbox, to: str, subject: str = "A quick idea for your hotel") -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Alex Martin <{SENDER}>"
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = "Tue, 25 Nov 2025 09:30:00 +0000"
    message["Message-ID"] = make_msgid(domain="outreach.example")
    message.set_content("Hi there,\n\nA short note about guest messaging.\n\nAlex")
    with smtp(sandbox) as connection:
        connection.send_message(message)
    return message


def test_rcpt_verdicts_follow_the_world(sandbox: Sandbox, world: World) -> None:
    hotel, person = person_where(world, Behaviour.SILENT, catch_all=False)
    _, gone = person_where(world, Behaviour.BOUNCE, catch_all=False)
    catch_all, _ = person_where(world, Behaviour.SILENT, catch_all=True)
    dead = next(h for h in world.hotels if not h.has_mx)
    assert rcpt(sandbox, person.email)[0] == 250
    assert rcpt(sandbox, f"info@{hotel.domain}")[0] == 250
    code, text = rcpt(sandbox, gone.email)
    assert code == 550
    assert text.startswith(b"5.1.1")
    assert rcpt(sandbox, f"nobody-here@{hotel.domain}")[0] == 550
    assert rcpt(sandbox, f"anything-at-all@{catch_all.domain}")[0] == 250
    assert rcpt(sandbox, f"x@{dead.domain}") == (
        550,
        f"5.1.2 <x@{dead.domain}>: Recipient address rejected: Domain not found".encode(),
    )
    code, text = rcpt(sandbox, "someone@gmail.com")
    assert code == 550
    assert b"Relay access denied" in text
    assert not list(sandbox.smtp_dir.glob("*.eml")), "probes without DATA store nothing"
    outcomes = sandbox.stats()["providers"]["smtp"]["outcomes"]
    assert outcomes["rcpt_accepted"] == 3
    assert outcomes["rcpt_refused"] == 3
    assert outcomes["rcpt_relay_denied"] == 1


def test_greylisting_and_injected_temporary_failures(sandbox: Sandbox, world: World) -> None:
    greylisting = next(h for h in world.hotels if h.greylisting and h.catch_all)
    assert rcpt(sandbox, f"grey@{greylisting.domain}")[0] == 451
    assert rcpt(sandbox, f"grey@{greylisting.domain}")[0] == 250
    sandbox.configure("smtp", error_rate=1.0)
    code, text = rcpt(sandbox, hotel_address(world))
    assert code == 451
    assert text.startswith(b"4.3.0")
    sandbox.configure("smtp", error_rate=0.0, forbidden=True)
    assert rcpt(sandbox, hotel_address(world))[0] == 554


def hotel_address(world: World) -> str:
    return person_where(world, Behaviour.SILENT, catch_all=False)[1].email


def test_data_is_stored_as_eml_per_accepted_recipient(sandbox: Sandbox, world: World) -> None:
    _, person = person_where(world, Behaviour.SILENT, catch_all=False)
    catch_all, _ = person_where(world, Behaviour.SILENT, catch_all=True)
    message = EmailMessage()
    message["From"], message["Subject"] = SENDER, "Two recipients"
    message.set_content("Hello")
    with smtp(sandbox) as connection:
        refused = connection.send_message(
            message, to_addrs=[person.email, f"guess@{catch_all.domain}", "x@nowhere.test"]
        )
    assert list(refused) == ["x@nowhere.test"]
    stored = sorted(sandbox.smtp_dir.glob("*.eml"))[-2:]
    delivered = {BytesParser(policy=policy.default).parsebytes(p.read_bytes())["X-Original-To"] for p in stored}
    assert delivered == {person.email, f"guess@{catch_all.domain}"}
    parsed = BytesParser(policy=policy.default).parsebytes(stored[0].read_bytes())
    assert parsed["Return-Path"] == f"<{SENDER}>"
    assert "Jengu SANDBOX" in parsed["Received"]


def test_auth_is_optional_but_checked(sandbox: Sandbox, world: World) -> None:
    with smtp(sandbox) as connection:
        connection.login("sales@outreach.example", SMTP_PASSWORD)
        connection.mail(SENDER)
        assert connection.rcpt(hotel_address(world))[0] == 250
    with smtp(sandbox) as connection, pytest.raises(smtplib.SMTPAuthenticationError):
        connection.login("sales@outreach.example", "wrong")


def test_replies_follow_each_behaviour(sandbox: Sandbox, world: World) -> None:
    """Mail through the real SMTP server, answered once the clock reaches each reply (the details of every
    format are in test_sandbox_replies.py)."""
    behaviours = (
        Behaviour.POSITIVE,
        Behaviour.NEGATIVE,
        Behaviour.QUESTION,
        Behaviour.UNSUBSCRIBE,
        Behaviour.AUTO_REPLY,
        Behaviour.SILENT,
    )
    people = {behaviour: person_where(world, behaviour, catch_all=False)[1] for behaviour in behaviours}
    people[Behaviour.BOUNCE] = person_where(world, Behaviour.BOUNCE, catch_all=True)[1]
    sent = {behaviour: send(sandbox, person.email) for behaviour, person in people.items()}
    ours = {message["Message-ID"]: behaviour for behaviour, message in sent.items()}
    assert not [r for r in read_truth(sandbox.maildir) if r["original_message_id"] in ours], "nothing is due yet"
    with running_at(datetime.now(UTC) + timedelta(days=10)):
        written = sandbox.deliver_replies()
        assert sandbox.deliver_replies() == [], "each reply is written once"
    truth = {r["file"]: r for r in read_truth(sandbox.maildir) if r["original_message_id"] in ours}
    assert {path.name for path in written} >= set(truth)
    answered = {ours[r["original_message_id"]]: r for r in truth.values()}
    assert Behaviour.SILENT not in answered, "silent people answer nothing"
    expected = {
        Behaviour.POSITIVE: {"interested"},
        Behaviour.NEGATIVE: {"not_interested", "other"},
        Behaviour.QUESTION: {"question"},
        Behaviour.UNSUBSCRIBE: {"unsubscribe"},
        Behaviour.AUTO_REPLY: {"auto_reply"},
        Behaviour.BOUNCE: {"bounce_hard", "bounce_soft"},
    }
    got = {behaviour: record["category"] for behaviour, record in answered.items()}
    assert all(got[behaviour] in wanted for behaviour, wanted in expected.items()), got
    for file, record in truth.items():
        parsed = BytesParser(policy=policy.default).parsebytes((sandbox.maildir / "new" / file).read_bytes())
        assert all(parsed[header] for header in ("Message-ID", "Date", "From", "To")), file
        assert record["recipient"] == people[ours[record["original_message_id"]]].email
        if record["category"].startswith("bounce"):
            assert record["failed_recipients"] == [people[Behaviour.BOUNCE].email]
            assert people[Behaviour.BOUNCE].email in parsed.as_string()
        elif record["detail"] != "mailto":
            assert record["original_message_id"] in str(parsed["References"] or parsed["In-Reply-To"])
