"""The sender's name (#21): with inbox rotation, every message's signature, From name and Reply-To name the same
person, the owner of the inbox it went from, and a follow-up stays with the person who wrote the first touch.

The end-to-end test sends a rotated campaign through the SANDBOX's SMTP server with its own inboxes.yaml
(three people's inboxes) and reads every ``.eml`` in its outbox; the bodies come from the real compose path
(the sandbox's model answering the real prompt, and the templates). The rules themselves are unit-tested.
"""

from __future__ import annotations

import email
import re
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.domain.campaigns import read_campaign_folder
from jengu_pipeline.domain.compose import (
    PROMPTS,
    Draft,
    MessageFacts,
    build_prompt,
    footer,
    parse_draft,
    render_template,
    resignable,
    signed_as,
    with_footer,
)
from jengu_pipeline.domain.inboxes import read_inbox_file
from jengu_pipeline.domain.outbound import InboxChoice, choose_inbox, reply_to_for
from jengu_pipeline.resources.sending import SendingResource
from jengu_pipeline.sandbox import Sandbox
from jengu_pipeline.sandbox.world import Hotel, Mailbox, Person
from jengu_pipeline.sandbox.writer import Writer
from jengu_pipeline.store import CrmStore, open_store
from jengu_pipeline.store.campaigns import load_campaigns

ROOT = Path(__file__).parents[2]
CAMPAIGNS = ROOT / "jengu_pipeline" / "sandbox" / "campaigns"
INBOX_FILE = ROOT / "jengu_pipeline" / "sandbox" / "inboxes.yaml"
CAMPAIGN = read_campaign_folder(CAMPAIGNS)[0].campaign
SENDER = CAMPAIGN.sender
INBOXES = {inbox.address: inbox.display_name for inbox in read_inbox_file(INBOX_FILE).inboxes}
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday: 10:00 in Berlin
FIRST_TOUCHES = 24


# ---------------------------------------------------------------------------------------------- the rules


def signed(text: str = "Hi Zoë,\n\nA question about direct bookings?\n\nBest regards,") -> str:
    return with_footer(Draft("s", text), SENDER).body


def test_a_composed_body_is_re_signed_by_the_inbox_owner_signature_and_footer_alike() -> None:
    body = signed()
    assert body.endswith(f"Best regards,\n{SENDER.sender_name}\n\n{footer(SENDER)}")
    leo = signed_as(body, SENDER, "Leo from Jengu")
    assert leo is not None
    assert leo.endswith(f"Best regards,\nLeo from Jengu\n\n{footer(SENDER, 'Leo from Jengu')}")
    assert SENDER.sender_name not in leo
    assert signed_as(body, SENDER, SENDER.sender_name) == body


def test_a_sign_off_name_the_writer_added_is_replaced_not_doubled() -> None:
    for closing in (f"Best regards,\n{SENDER.sender_name}", "Best regards,\nMia", "Best regards,\n\nMia from Jengu"):
        body = signed(f"Hi Zoë,\n\nText?\n\n{closing}")
        assert body.count(SENDER.sender_name) == 2, body  # the signature line and the footer line
        assert resignable(body, SENDER)


def test_a_body_that_names_the_sender_in_its_text_or_was_edited_cannot_be_re_signed() -> None:
    assert not resignable(signed("Hi Zoë,\n\nI'm Mia and I run growth at Jengu.\n\nBest regards,"), SENDER)
    assert not resignable("Hello,\n\nHand-written.\n\nMia\n\n--\nfooter", SENDER)
    assert signed_as("Hello,\n\nHand-written.\n\nMia", SENDER, "Leo from Jengu") is None


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200))
def test_re_signing_never_leaves_the_campaign_senders_name(text: str) -> None:
    body = signed(f"Hi,\n\n{text}\n\nBest regards,")
    leo = signed_as(body, SENDER, "Leo from Jengu")
    if leo is not None:
        assert re.search(r"(?<!\w)Mia(?!\w)", leo) is None


def test_which_inboxes_may_send_a_message() -> None:
    owners = [
        ("mia@jengu.example", "Mia from Jengu"),
        ("leo@jengu.example", "Leo from Jengu"),
        ("mia2@outreach.example", "Mia from Jengu"),
    ]
    hand_written = "Hello,\n\nMia"
    assert choose_inbox(signed(), SENDER, owners, None) == InboxChoice(True, None)
    assert choose_inbox(signed(), SENDER, owners, "leo@jengu.example") == InboxChoice(True, "leo@jengu.example")
    assert choose_inbox(hand_written, SENDER, owners, None) == InboxChoice(True, "mia@jengu.example")
    assert choose_inbox(hand_written, SENDER, owners, "mia2@outreach.example") == InboxChoice(
        True, "mia2@outreach.example"
    )
    assert not choose_inbox(hand_written, SENDER, owners, "leo@jengu.example").allowed
    assert not choose_inbox(hand_written, SENDER, owners[1:2], None).allowed
    assert choose_inbox(hand_written, None, owners, None) == InboxChoice(True, None)


def test_replies_go_to_the_person_who_signed() -> None:
    sending = ["mia@jengu.example", "leo@jengu.example"]
    assert reply_to_for("replies@jengu.example", "leo@jengu.example", sending) == "replies@jengu.example"
    assert reply_to_for("mia@jengu.example", "leo@jengu.example", sending) is None, "not to Mia's own inbox"
    assert reply_to_for("MIA@jengu.example", "mia@jengu.example", sending) is None
    assert reply_to_for(None, "leo@jengu.example", sending) is None


# ---------------------------------------------------------------------------------------------- end to end


def deliverable(sandbox: Sandbox, count: int) -> list[tuple[Hotel, Person]]:
    """World people whose mailbox the sandbox's SMTP server accepts at once (no greylisting)."""
    found = [
        (hotel, person)
        for hotel, person in sandbox.world.people()
        if not hotel.greylisting and sandbox.world.mailbox(person.email) == Mailbox.EXISTS
    ]
    assert len(found) >= count
    return found[:count]


def facts(hotel: Hotel, person: Person, prospect_id: str, step: int) -> MessageFacts:
    return MessageFacts(
        prospect_id=prospect_id,
        first_name=person.first,
        last_name=person.last,
        title=person.title,
        hotel=hotel.name,
        country=hotel.country,
        website_domain=hotel.domain,
        page_title=f"{hotel.name} | Official",
        page_description=None,
        page_excerpt=f"Welcome to {hotel.name}, {hotel.city}.",
        value_proposition=CAMPAIGN.value_proposition,
        variant=None,
        variant_description=None,
        step=step,
    )


def compose(writer: Writer, hotel: Hotel, person: Person, prospect_id: str, *, index: int, step: int) -> Draft:
    """What compose writes: the sandbox's model answering the real prompt, or a template, then the signature."""
    fact = facts(hotel, person, prospect_id, step)
    if step == 1 and index % 3 == 2:
        draft = render_template("first_touch.txt.j2", fact, SENDER)
    else:
        _, user = build_prompt(PROMPTS["first_touch_v1" if step == 1 else "follow_up_v1"], fact, SENDER)
        draft = parse_draft(writer.compose(user, max_tokens=700, as_json=True).text)
    return with_footer(draft, SENDER)


def queue(store: CrmStore, rows: list[tuple[str, str, int, Draft]], batch: str) -> None:
    def insert(tx: Any) -> None:
        for prospect_id, _, step, draft in rows:
            tx.execute(
                "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status,"
                " batch_id, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                [
                    f"msg_{uuid.uuid4().hex[:12]}",
                    prospect_id,
                    CAMPAIGN.name,
                    step,
                    draft.subject,
                    draft.body,
                    batch,
                    NOW - timedelta(days=1),
                    None if step == 1 else NOW + timedelta(days=4),  # a follow-up is due its delay after step 1
                ],
            )

    store.run(insert)


def seed(store: CrmStore, people: list[tuple[Hotel, Person]]) -> tuple[str, list[tuple[str, Hotel, Person]]]:
    load_campaigns(store, CAMPAIGNS)
    batch = f"b_{uuid.uuid4().hex[:10]}"
    made = [(f"pr_id{n}_{uuid.uuid4().hex[:6]}", hotel, person) for n, (hotel, person) in enumerate(people)]

    def insert(tx: Any) -> None:
        tx.execute(
            "INSERT INTO batches (batch_id, name, source_file, content_hash) VALUES (?, ?, ?, ?)",
            [batch, batch, f"{batch}.csv", uuid.uuid4().hex],
        )
        for prospect_id, hotel, person in made:
            tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [prospect_id])
            tx.execute(
                "INSERT INTO prospects (prospect_id, batch_id, first_name, last_name, company, email,"
                " active_email, timezone, country, stage, email_status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'Europe/Berlin', ?, 'enriched', 'ok')",
                [prospect_id, batch, person.first, person.last, hotel.name, person.email, person.email, hotel.country],
            )

    store.run(insert)
    return batch, made


def tick(store: CrmStore, sandbox: Sandbox, at: datetime) -> dict[str, Any]:
    resource = SendingResource(
        inbox_file=str(INBOX_FILE),
        sandbox=True,
        sandbox_smtp_host=sandbox.smtp_host,
        sandbox_smtp_port=sandbox.smtp_port,
    )
    return resource.sender(store, alert=lambda text: None, claimed_by="identity-test", at=at).tick().to_json()


def outbox(sandbox: Sandbox) -> list[EmailMessage]:
    messages = []
    for path in sorted(sandbox.smtp_dir.glob("**/*.eml")):
        parsed = email.message_from_bytes(path.read_bytes(), policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def signature_names(message: EmailMessage) -> tuple[str, str]:
    """(the name under the closing, the name in the footer's 'who is writing' line) of a message's text."""
    part = message.get_body(("plain",))
    assert part is not None
    text = part.get_content().replace("\r\n", "\n").rstrip()
    above, _, below = text.rpartition("\n\n--\n")
    return above.rstrip().splitlines()[-1], below.splitlines()[-1].split(" · ")[0]


def test_every_message_of_a_rotated_campaign_is_signed_from_and_replied_to_one_person(
    sandbox_env: Sandbox, store_env: str
) -> None:
    store = open_store(store_env)
    writer = Writer(sandbox_env.world)
    batch, made = seed(store, deliverable(sandbox_env, FIRST_TOUCHES))
    first = [
        (pid, hotel.domain, 1, compose(writer, hotel, person, pid, index=n, step=1))
        for n, (pid, hotel, person) in enumerate(made)
    ]
    queue(store, first, batch)
    report = tick(store, sandbox_env, NOW)
    assert report["outcomes"] == {"sent": FIRST_TOUCHES}

    # The next week, a follow-up to the first eight: each must come from the inbox that wrote to them.
    threads = dict(store.run(lambda tx: tx.fetch_all("SELECT prospect_id, inbox FROM sends WHERE step = 1")))
    follow_ups = [
        (pid, hotel.domain, 2, compose(writer, hotel, person, pid, index=n, step=2))
        for n, (pid, hotel, person) in enumerate(made[:8])
    ]
    queue(store, follow_ups, batch)
    later = tick(store, sandbox_env, NOW + timedelta(days=7))
    assert later["outcomes"] == {"sent": 8}
    sent_from = dict(store.run(lambda tx: tx.fetch_all("SELECT prospect_id, inbox FROM sends WHERE step = 2")))
    assert sent_from == {pid: threads[pid] for pid, *_ in follow_ups}

    messages = outbox(sandbox_env)
    assert len(messages) == FIRST_TOUCHES + 8
    for message in messages:
        (sender,) = message["From"].addresses
        (reply_to,) = message["Reply-To"].addresses
        signature, footer_name = signature_names(message)
        assert INBOXES[sender.addr_spec] == sender.display_name
        assert signature == footer_name == reply_to.display_name == sender.display_name, message["Subject"]
        assert reply_to.addr_spec == SENDER.reply_to  # the shared replies mailbox, not another person's inbox
        others = {name.split()[0] for name in INBOXES.values()} - {sender.display_name.split()[0]}
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert not any(re.search(rf"(?<!\w){name}(?!\w)", text) for name in others), "no one else's name"
    rotation = Counter(message["From"].addresses[0].addr_spec for message in messages)
    assert set(rotation) == set(INBOXES), f"the campaign was not rotated over every inbox: {rotation}"


def test_a_message_that_names_its_sender_in_the_text_goes_only_from_that_senders_inbox(
    sandbox_env: Sandbox, store_env: str
) -> None:
    store = open_store(store_env)
    batch, made = seed(store, deliverable(sandbox_env, 6))
    text = "Hi there,\n\nI'm Mia, and I help hotels answer guests faster. Worth a call?\n\nBest regards,"
    queue(
        store, [(pid, "", 1, with_footer(Draft(f"Hello {n}", text), SENDER)) for n, (pid, *_) in enumerate(made)], batch
    )
    assert tick(store, sandbox_env, NOW)["outcomes"] == {"sent": 6}
    senders = {message["From"].addresses[0].addr_spec for message in outbox(sandbox_env)}
    assert senders == {SENDER.sender_email}


def test_the_sandbox_inboxes_belong_to_different_people() -> None:
    """The premise of the end-to-end test: rotation really changes the person (else it would prove nothing)."""
    assert len(set(INBOXES.values())) == len(INBOXES) >= 3
    assert INBOXES[SENDER.sender_email] == SENDER.sender_name
