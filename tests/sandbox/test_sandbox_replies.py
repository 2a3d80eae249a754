"""The sandbox's replies: realistic enough to classify, deterministic, dated by the clock, with complete truth.

The originals are built by the pipeline's own message builder (footer, List-Unsubscribe) and stored the way the
sandbox's SMTP server stores them; replies are then delivered by ``deliver_replies`` under an injected clock.
"""

from __future__ import annotations

import json
import random
import re
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from flufl.bounce import all_failures
from hypothesis import given, settings
from hypothesis import strategies as st

from jengu_pipeline.clock import running_at
from jengu_pipeline.sandbox import dsn, outreach
from jengu_pipeline.sandbox.outreach import FOOTER, Sent, receivable, store
from jengu_pipeline.sandbox.outreach import first_touch as original
from jengu_pipeline.sandbox.replies import (
    ANSWERS_ONCE,
    TRUTH_FIELDS,
    deliver_replies,
    profile,
    read_truth,
    truth_path,
    zone_of,
)
from jengu_pipeline.sandbox.reply_texts import BY_CODE, LANGUAGES
from jengu_pipeline.sandbox.world import Behaviour, World, build_world, is_reserved

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday
CATEGORIES = {
    "bounce_hard",
    "bounce_soft",
    "auto_reply",
    "unsubscribe",
    "interested",
    "not_interested",
    "question",
    "other",
}
HUMAN = {"interested", "not_interested", "question", "unsubscribe", "other"}
EXPECTED = {
    Behaviour.POSITIVE: {"interested"},
    Behaviour.NEGATIVE: {"not_interested", "other"},
    Behaviour.QUESTION: {"question"},
    Behaviour.UNSUBSCRIBE: {"unsubscribe"},
    Behaviour.AUTO_REPLY: {"auto_reply"},
    Behaviour.BOUNCE: {"bounce_hard", "bounce_soft"},
}
HOST = re.compile(r"(?:https?://([^/\s\"'<>?]+))|(?:[\w.+-]+@([\w-]+(?:\.[\w-]+)+))")


def send_campaign(world: World, spool: Path, *, follow_up_days: int = 4) -> list[Sent]:
    return outreach.send_campaign(world, spool, START, follow_up_days=follow_up_days)


@dataclass(frozen=True)
class Run:
    world: World
    root: Path
    sent: list[Sent]
    ticks: list[tuple[datetime, list[Path]]]

    @property
    def maildir(self) -> Path:
        return self.root / "maildir"

    @property
    def truth(self) -> list[dict]:
        return read_truth(self.maildir)

    def parsed(self, record: dict) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.raw(record))

    def raw(self, record: dict) -> bytes:
        return (self.maildir / "new" / record["file"]).read_bytes()


def run_in_ticks(world: World, root: Path, *, hours: int = 6, days: int = 20) -> Run:
    sent = send_campaign(world, root / "smtp")
    ticks = []
    for step in range(1, days * 24 // hours + 1):
        now = START + timedelta(hours=hours * step)
        ticks.append((now, deliver_replies(world, root / "smtp", root / "maildir", now=now)))
    return Run(world, root, sent, ticks)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Seed 7's world answering two steps of a campaign, delivered every six simulated hours for 20 days."""
    return run_in_ticks(build_world(7, hotels=120), tmp_path_factory.mktemp("replies"))


def body_text(message: EmailMessage) -> str:
    """All text a reader sees: every text part, HTML without its tags."""
    texts = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            content = str(part.get_content())
            if part.get_content_subtype() == "html":
                content = re.sub(r"<[^>]+>", "\n", content).replace("&lt;", "<").replace("&gt;", ">")
            texts.append(content)
        elif part.get_content_type() == "message/rfc822":
            texts.append(part.get_content().as_string())
    return "\n".join(texts)


def new_text(message: EmailMessage) -> str:
    """The reply's own words, roughly: without "> " quoted lines and without what follows our footer."""
    unquoted = "\n".join(line for line in body_text(message).splitlines() if not line.startswith(">"))
    return unquoted.split(FOOTER)[0]


# Determinism and time ----------------------------------------------------------------------------------------


def test_same_seed_same_bytes_and_names_whatever_the_ticks(run: Run, tmp_path: Path) -> None:
    once = tmp_path / "once"
    send_campaign(run.world, once / "smtp")
    deliver_replies(run.world, once / "smtp", once / "maildir", now=START + timedelta(days=20))
    files = sorted(path.name for path in (once / "maildir" / "new").iterdir())
    assert files == sorted(path.name for path in (run.maildir / "new").iterdir())
    assert all((once / "maildir" / "new" / f).read_bytes() == (run.maildir / "new" / f).read_bytes() for f in files)
    assert sorted(read_truth(once / "maildir"), key=lambda r: r["file"]) == sorted(run.truth, key=lambda r: r["file"])
    other = tmp_path / "other"
    elsewhere = build_world(8, hotels=40)
    send_campaign(elsewhere, other / "smtp")
    deliver_replies(elsewhere, other / "smtp", other / "maildir", now=START + timedelta(days=20))
    assert set(files).isdisjoint(path.name for path in (other / "maildir" / "new").iterdir())


def test_nothing_is_dated_after_the_clock_or_before_the_original(run: Run) -> None:
    arrivals = {sent.file: sent.at for sent in run.sent}
    by_file = {record["file"]: record for record in run.truth}
    checked = 0
    for now, written in run.ticks:
        for path in written:
            record = by_file[path.name]
            message = run.parsed(record)
            dated = parsedate_to_datetime(str(message["Date"]))
            received = parsedate_to_datetime(str(message.get_all("Received")[0]).rpartition(";")[2])
            arrived = arrivals[record["original_file"]]
            assert arrived <= dated <= received <= now, (record, dated, received, now)
            assert received == datetime.fromisoformat(record["delivered_at"])
            checked += 1
    assert checked == len(run.truth) > 250
    assert max(len(written) for _, written in run.ticks) < len(run.truth) / 3, "replies spread over time"


def test_a_reply_waits_until_it_is_due(tmp_path: Path) -> None:
    world = build_world(7, hotels=30)
    spool, maildir = tmp_path / "smtp", tmp_path / "maildir"
    send_campaign(world, spool)
    assert deliver_replies(world, spool, maildir, now=START) == [], "nothing is due when the mail arrives"
    early = deliver_replies(world, spool, maildir, now=START + timedelta(hours=1))
    assert early, "autoresponders and bounces answer within minutes"
    assert {record["category"] for record in read_truth(maildir)} <= {"auto_reply", "bounce_hard", "bounce_soft"}
    later = deliver_replies(world, spool, maildir, now=START + timedelta(days=20))
    assert later
    assert deliver_replies(world, spool, maildir, now=START + timedelta(days=40)) == [], "each reply once"
    assert not set(early) & set(later)


def test_the_default_clock_is_the_products_clock(tmp_path: Path) -> None:
    world = build_world(7, hotels=30)
    spool, maildir = tmp_path / "smtp", tmp_path / "maildir"
    send_campaign(world, spool)
    with running_at(START + timedelta(minutes=1)):
        assert deliver_replies(world, spool, maildir) == []
    with running_at(START + timedelta(days=20)):
        assert deliver_replies(world, spool, maildir)


def test_a_received_stamp_in_the_clocks_future_falls_back_to_the_date(tmp_path: Path) -> None:
    """A server stamping real time under a simulated clock in the past: the original counts from its Date."""
    world = build_world(7, hotels=30)
    spool, maildir = tmp_path / "smtp", tmp_path / "maildir"
    hotel, person = next((h, p) for h, p in receivable(world) if p.behaviour is Behaviour.AUTO_REPLY)
    spool.mkdir()
    message = original(hotel, person, 1, START)
    store(spool, message, person.email, START + timedelta(days=365), 1)
    written = deliver_replies(world, spool, maildir, now=START + timedelta(hours=12))
    assert len(written) == 1
    assert parsedate_to_datetime(str(BytesParser().parsebytes(written[0].read_bytes())["Date"])) >= START


# Well-formed mail --------------------------------------------------------------------------------------------


def test_every_message_parses_cleanly_with_the_headers_a_real_mta_delivers(run: Run) -> None:
    for record in run.truth:
        raw = run.raw(record)
        assert b"\r" not in raw, "a Maildir holds LF line ends"
        assert all(len(line) <= 998 for line in raw.split(b"\n")), record["format"]
        message = run.parsed(record)
        assert message["Return-Path"]
        assert message["Delivered-To"]
        assert "Jengu SANDBOX" in str(message["Received"])
        for name in ("From", "To", "Date", "Message-ID"):
            assert message[name], (name, record["format"])
            assert not message[name].defects, (name, record["format"])
        assert all(not part.defects for part in message.walk()), record["format"]
        assert message_from_bytes(raw)["Message-ID"] == record["message_id"]
        assert all(part.get("MIME-Version") is None for part in message.iter_parts()), "only the top has one"
    assert len({record["message_id"] for record in run.truth}) == len(run.truth)


def test_only_reserved_hosts_appear(run: Run) -> None:
    hosts = set()
    for record in run.truth:
        message = run.parsed(record)
        text = body_text(message) + "\n".join(f"{name}: {value}" for name, value in message.items())
        for url_host, mail_host in HOST.findall(text):
            hosts.add((url_host or mail_host).lower().rstrip("."))
    assert hosts
    assert all(is_reserved(host) for host in hosts), sorted(host for host in hosts if not is_reserved(host))


# Ground truth ------------------------------------------------------------------------------------------------


def test_the_truth_file_names_every_file_with_the_category_its_behaviour_implies(run: Run) -> None:
    lines = truth_path(run.maildir).read_text(encoding="utf-8").splitlines()
    assert truth_path(run.maildir) == run.root / "replies_truth.jsonl"
    records = [json.loads(line) for line in lines]
    assert len(records) == len({r["file"] for r in records}) == len(list((run.maildir / "new").iterdir()))
    people = {p.email: p for _, p in run.world.people()}
    sent = {s.message_id: s for s in run.sent}
    for record in records:
        assert list(record) == list(TRUTH_FIELDS)
        assert record["category"] in CATEGORIES
        assert record["category"] in EXPECTED[people[record["recipient"]].behaviour], record
        assert sent[record["original_message_id"]].recipient == record["recipient"]
        assert sent[record["original_message_id"]].file == record["original_file"]
        message = run.parsed(record)
        assert record["message_id"] == message["Message-ID"]
        if record["category"].startswith("bounce"):
            assert record["failed_recipients"] == [record["recipient"]]
            assert record["format"].startswith("dsn_")
        else:
            assert record["failed_recipients"] == []
        if record["category"] in HUMAN and record["detail"] != "mailto":
            threading = f"{message['References'] or ''} {message['In-Reply-To'] or ''}"
            assert record["original_message_id"] in threading
    assert Counter(r["category"] for r in records).keys() == CATEGORIES


def test_details_cover_referrals_deferrals_and_every_bounce_reason(run: Run) -> None:
    details = Counter((r["category"], r["detail"]) for r in run.truth)
    for wanted in [
        ("other", "referral"),
        ("other", "deferral"),
        ("unsubscribe", "gdpr_erasure"),
        ("unsubscribe", "mailto"),
        ("auto_reply", "out_of_office"),
        ("bounce_hard", "user_unknown"),
        ("bounce_soft", "mailbox_full"),
    ]:
        assert details[wanted], wanted
    for record in run.truth:
        if record["detail"] == "referral":
            found = re.findall(r"[\w.+-]+@[\w.-]+", new_text(run.parsed(record)))
            colleague = [address.rstrip(".") for address in found]
            domain = record["recipient"].partition("@")[2]
            assert any(address.endswith("@" + domain) and address != record["recipient"] for address in colleague)


# Realism -----------------------------------------------------------------------------------------------------


def test_languages_follow_the_hotels_country_with_every_language_present(run: Run) -> None:
    people = {p.email: h for h, p in run.world.people()}
    languages = Counter(r["language"] for r in run.truth if r["language"])
    assert set(languages) == set(LANGUAGES), languages
    german = Counter(r["language"] for r in run.truth if people[r["recipient"]].country == "DE" and r["language"])
    assert german.most_common(1)[0][0] == "de"
    for record in run.truth:
        if record["category"] in HUMAN and record["detail"] not in ("mailto", "stop"):
            text = new_text(run.parsed(record))
            words = BY_CODE[record["language"]]
            assert any(phrase[1][:25].split("{")[0] in text for phrase in sum(words.intents.values(), ())), record


def test_wording_varies_within_each_intent_and_language(run: Run) -> None:
    openings: dict[tuple[str, str], set[str]] = {}
    for record in run.truth:
        if record["category"] in HUMAN and record["language"]:
            first = body_text(run.parsed(record)).strip().splitlines()[0]
            openings.setdefault((record["category"], record["language"]), set()).add(first)
    assert sum(len(found) >= 3 for found in openings.values()) >= 10, openings


def test_quoted_human_replies_carry_our_footer_in_every_client_style(run: Run) -> None:
    formats = Counter()
    for record in run.truth:
        if record["category"] in HUMAN and record["detail"] != "mailto":
            text = body_text(run.parsed(record))
            assert FOOTER in text, record
            formats[record["format"]] += 1
    assert set(formats) == {"gmail", "iphone", "apple_mail", "outlook", "outlook_ios", "thunderbird", "webmail"}
    raws = [run.raw(r).decode("utf-8", "replace") for r in run.truth if r["category"] in HUMAN]
    assert any("-----Original Message-----" in raw or "-----Ursprüngliche Nachricht-----" in raw for raw in raws)
    assert any("\n> " in raw for raw in raws)


def test_html_only_replies_references_only_and_encoded_names_exist(run: Run) -> None:
    humans = [r for r in run.truth if r["category"] in HUMAN]
    html_only = [r for r in humans if run.parsed(r).get_content_type() == "text/html"]
    assert html_only
    assert any(run.parsed(r)["In-Reply-To"] is None and run.parsed(r)["References"] for r in humans)
    people = {p.email: p for _, p in run.world.people()}
    encoded = Counter()
    for record in run.truth:
        raw_from = message_from_bytes(run.raw(record))["From"]
        name = people[record["recipient"]].full_name
        if not name.isascii() and not record["format"].startswith("dsn_"):
            charset = re.match(r"=\?([\w-]+)\?([QB])\?", raw_from, re.IGNORECASE)
            assert charset, raw_from
            encoded[charset.group(1).lower(), charset.group(2).upper()] += 1
            assert run.parsed(record)["From"].addresses[0].display_name == name
    assert {("utf-8", "B"), ("utf-8", "Q"), ("iso-8859-1", "Q")} <= set(encoded), encoded


def test_signatures_and_devices(run: Run) -> None:
    texts = [body_text(run.parsed(r)) for r in run.truth if r["category"] in HUMAN]
    assert any("Sent from my iPhone" in t or "Von meinem iPhone gesendet" in t for t in texts)
    assert any(re.search(r"Tel\. \+\d", t) for t in texts)
    assert any("Outlook" in t and "iOS" in t for t in texts)


# Out of office -----------------------------------------------------------------------------------------------


def test_out_of_office_headers_vary_and_some_have_none(run: Run) -> None:
    notices = [r for r in run.truth if r["category"] == "auto_reply"]
    styles = Counter(tuple(r["auto_reply_headers"]) for r in notices)
    assert styles[()] > 0, styles
    values = {name: set() for name in ("Auto-Submitted", "X-Autoreply", "Precedence")}
    for record in notices:
        message = run.parsed(record)
        if not record["auto_reply_headers"]:
            assert all(message[name] is None for name in ("Auto-Submitted", "X-Autoreply", "X-Autorespond"))
            assert message["Precedence"] is None
        for name, seen in values.items():
            if message[name]:
                seen.add(str(message[name]))
    assert "auto-replied" in values["Auto-Submitted"]
    assert values["X-Autoreply"] == {"yes"}
    assert values["Precedence"] == {"auto_reply"}
    assert len({r["language"] for r in notices}) >= 5


def test_return_dates_are_written_in_the_text_in_varied_formats(run: Run) -> None:
    dated = [r for r in run.truth if r["category"] == "auto_reply" and r["return_date"]]
    assert dated
    assert any(r["return_date"] is None and r["detail"] == "out_of_office" for r in run.truth), "some give none"
    shapes = set()
    for record in dated:
        written = date.fromisoformat(record["return_date"])
        delivered = datetime.fromisoformat(record["delivered_at"]).date()
        assert delivered < written + timedelta(days=1)
        assert written <= delivered + timedelta(days=25)
        text = body_text(run.parsed(record))
        numeric = re.search(rf"\b0?{written.day}[./-]0?{written.month}\b|\b0?{written.month}/0?{written.day}/", text)
        month = BY_CODE[record["language"]].months[written.month - 1]
        named = re.search(rf"\b{written.day}(\.|th)? (de )?{month}|{month} {written.day}\b", text, re.IGNORECASE)
        assert numeric or named, (record["return_date"], text[:300])
        shapes.add("numeric" if numeric else "named")
    assert shapes == {"numeric", "named"}
    assert any("bis einschließlich" in body_text(run.parsed(r)) for r in dated)


def test_an_absent_person_answers_once_per_absence_and_nothing_once_back(run: Run) -> None:
    by_recipient: dict[str, list[dict]] = {}
    for record in run.truth:
        by_recipient.setdefault(record["recipient"], []).append(record)
    people = {p.email: (h, p) for h, p in run.world.people()}
    once = again = 0
    for recipient, records in by_recipient.items():
        hotel, person = people[recipient]
        habits = profile(run.world, hotel, person)
        if person.behaviour is not Behaviour.AUTO_REPLY or habits.notice != "out_of_office":
            continue
        back = START.astimezone(zone_of(hotel)).date() + timedelta(days=habits.absence_days)
        follow_up_arrives = (START + timedelta(days=4)).astimezone(zone_of(hotel)).date()
        if habits.autoresponder in ANSWERS_ONCE or follow_up_arrives >= back:
            assert len(records) == 1, (recipient, habits)
            once += 1
        else:
            assert len(records) == 2, (recipient, habits)
            again += 1
    assert once
    assert again


# Delivery status notifications --------------------------------------------------------------------------------


def bounce_for(mta: str, kind: str, seed: int = 1) -> list[tuple[dsn.Failure, EmailMessage]]:
    world = build_world(7, hotels=30)
    hotel, person = next((h, p) for h, p in world.people() if h.has_mx)
    message = original(hotel, person, 5, START)
    raw = message.as_bytes()
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    rng = random.Random(seed)
    notices = []
    for failure in dsn.schedule(mta, kind, rng):
        bounce = dsn.Bounce(
            original=parsed,
            original_text=raw.decode().replace("\r\n", "\n"),
            original_headers=raw.decode().split("\r\n\r\n")[0].replace("\r\n", "\n") + "\n",
            recipient=person.email,
            envelope_sender="mia@jengu.example",
            hotel=hotel,
            zone=zone_of(hotel),
            arrived=START,
            at=START + timedelta(seconds=failure.after[0]),
            failure=failure,
            rng=rng,
        )
        notices.append((failure, BytesParser(policy=policy.default).parsebytes(dsn.build(mta, bounce).as_bytes())))
    return notices


@pytest.mark.parametrize("mta", dsn.MTAS)
@pytest.mark.parametrize("kind", dsn.KINDS)
def test_each_mta_writes_its_own_format_that_a_bounce_library_reads(mta: str, kind: str) -> None:
    notices = bounce_for(mta, kind)
    assert notices
    assert [f.action for f, _ in notices][-1] == "failed"
    for failure, message in notices:
        if not (mta == "exim" and failure.action == "delayed"):  # Exim's warning names only subject and date
            assert b"step000005@jengu.example" in message.as_bytes(), "the original or its headers come back"
        text = body_text(message)
        if mta in ("postfix", "exchange", "gmail"):
            assert message.get_content_type() == "multipart/report"
            status = next(p for p in message.walk() if p.get_content_type() == "message/delivery-status")
            blocks = status.get_payload()
            assert (blocks[1]["Action"], blocks[1]["Status"]) == (failure.action, failure.status)
            assert any(p.get_content_type() in ("message/rfc822", "text/rfc822-headers") for p in message.walk())
        else:
            assert message.get_content_type() == "text/plain"
        if mta == "exim":
            assert "This message was created automatically by mail delivery software" in text
            assert failure.action == "delayed" or "X-Failed-Recipients" in message
        if mta == "qmail":
            assert text.startswith("Hi. This is the qmail-send program")
        if mta == "gmail":
            assert message["From"].addresses[0].addr_spec == "mailer-daemon@googlemail.example"
        if mta == "exchange" and failure.action == "failed":
            assert "couldn't be delivered" in text or "Delivery has failed to these recipients" in text
        if failure.action == "failed":
            temporary, permanent = all_failures(message_from_bytes(message.as_bytes()))
            found = {address.decode() for address in temporary | permanent}
            assert found, (mta, kind)


def test_hard_and_soft_follow_the_reason() -> None:
    for mta in dsn.MTAS:
        assert {f.category for f, _ in bounce_for(mta, "user_unknown")} == {"bounce_hard"}
        for seed in range(6):
            full = bounce_for(mta, "mailbox_full", seed=seed)
            assert {f.category for f, _ in full} == {"bounce_soft"}
            assert [f.action for f, _ in full] in (["failed"], ["delayed", "failed"])
        delayed = bounce_for(mta, "delayed")
        assert {f.category for f, _ in delayed} == {"bounce_soft"}
        assert [f.action for f, _ in delayed] == (["failed"] if mta == "qmail" else ["delayed", "failed"])
    statuses = {f.status for mta in dsn.MTAS for kind in dsn.KINDS for f, _ in bounce_for(mta, kind, seed=3)}
    statuses |= {f.status for seed in range(12) for f, _ in bounce_for("exchange", "user_unknown", seed=seed)}
    statuses |= {f.status for seed in range(12) for f, _ in bounce_for("postfix", "mailbox_full", seed=seed)}
    assert {"4.2.2", "5.1.1", "5.1.2", "5.4.4", "5.2.1", "5.2.2", "4.4.7", "4.4.1", "5.1.10", "5.4.1"} <= statuses


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_any_world_answers_with_parseable_mail_in_order(seed: int) -> None:
    world = build_world(seed, hotels=6)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        sent = {s.file: s for s in send_campaign(world, root / "smtp")}
        deliver_replies(world, root / "smtp", root / "maildir", now=START + timedelta(days=30))
        for record in read_truth(root / "maildir"):
            raw = (root / "maildir" / "new" / record["file"]).read_bytes()
            message = BytesParser(policy=policy.default).parsebytes(raw)
            assert sent[record["original_file"]].at <= parsedate_to_datetime(str(message["Date"]))
            assert record["category"] in CATEGORIES
