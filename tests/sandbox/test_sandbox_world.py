"""The synthetic world: deterministic, realistic enough to be a trap, and never a real host."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from jengu_pipeline.sandbox import Behaviour, Mailbox, World, build_world
from jengu_pipeline.sandbox.prospects import HEADERS
from jengu_pipeline.sandbox.web import SearchIndex
from jengu_pipeline.sandbox.world import is_identifier_host, is_reserved, render_pattern
from jengu_pipeline.sandbox.writer import Writer

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample" / "sales_navigator_sample.csv"
URL_HOST = re.compile(r"(?:https?:)?//([^/\s\"'?,#]+)")
EMAIL_HOST = re.compile(r"[\w.+-]+@([\w.-]+)")


def hosts_in(text: str) -> set[str]:
    """Hosts the text would make anyone contact: e-mail domains, and URL hosts other than LinkedIn's, whose
    profile URLs are only identifiers (never fetched or mailed)."""
    url_hosts = {host.lower() for host in URL_HOST.findall(text) if not is_identifier_host(host)}
    return url_hosts | {host.lower() for host in EMAIL_HOST.findall(text)}


def test_same_seed_same_world_and_other_seed_other_world() -> None:
    first = json.dumps(build_world(7).ground_truth(), ensure_ascii=False)
    assert first == json.dumps(build_world(7).ground_truth(), ensure_ascii=False)
    assert first != json.dumps(build_world(8).ground_truth(), ensure_ascii=False)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10_000), hotels=st.integers(min_value=1, max_value=40))
def test_only_reserved_tlds_ever_appear(seed: int, hotels: int) -> None:
    world = build_world(seed, hotels)
    assert all(is_reserved(domain) for domain in world.domains())
    truth = json.dumps(world.ground_truth(), ensure_ascii=False)
    assert hosts_in(truth), "the ground truth names hosts"
    assert all(is_reserved(host) for host in hosts_in(truth)), hosts_in(truth)


def test_prospects_file_and_sample_only_name_reserved_hosts(world: World, tmp_path: Path) -> None:
    world.prospects_csv(tmp_path / "all.csv")
    for text in ((tmp_path / "all.csv").read_text(encoding="utf-8"), SAMPLE.read_text(encoding="utf-8")):
        assert "https://www.linkedin.com/in/" in text
        assert all(is_reserved(host) for host in hosts_in(text)), hosts_in(text)


def test_world_has_the_realistic_mix(world: World) -> None:
    hotels = world.hotels
    assert len(hotels) == 200
    assert len({hotel.domain for hotel in hotels}) == 200
    assert 0.25 <= sum(hotel.catch_all for hotel in hotels) / 200 <= 0.42
    assert any(not hotel.has_mx for hotel in hotels)
    assert any(not hotel.indexed for hotel in hotels)
    assert any(hotel.lookalike for hotel in hotels)
    assert len({hotel.pattern for hotel in hotels}) >= 6
    assert {hotel.country for hotel in hotels} >= {"CH", "FR", "DE", "IT", "ES", "DK", "SE", "GB", "US"}
    behaviours = Counter(person.behaviour for _, person in world.people())
    assert set(behaviours) == set(Behaviour)
    names = " ".join(person.full_name for _, person in world.people())
    assert {"ë", "ø", "ü", "ñ", "é", "å"} <= set(names.lower())


def test_true_emails_follow_each_domains_pattern(world: World) -> None:
    for hotel, person in world.people():
        local, _, domain = person.email.partition("@")
        assert domain == hotel.domain
        assert local == render_pattern(hotel.pattern, person.first, person.last, expand_umlauts=hotel.expands_umlauts)
        assert local.isascii()


def test_mailbox_truth_and_mx(world: World) -> None:
    for hotel, person in world.people():
        truth = world.mailbox(person.email)
        if not hotel.has_mx:
            assert truth is Mailbox.DEAD_DOMAIN
            assert world.mx(hotel.domain) == []
        elif hotel.catch_all:
            assert truth is Mailbox.CATCH_ALL
            assert world.mailbox(f"nobody-here@{hotel.domain}") is Mailbox.CATCH_ALL
        else:
            assert truth is (Mailbox.EXISTS if person.behaviour is not Behaviour.BOUNCE else Mailbox.MISSING)
            assert world.mailbox(f"nobody-here@{hotel.domain}") is Mailbox.MISSING
        if hotel.has_mx:
            assert world.mx(hotel.domain)
            assert all(is_reserved(host) for host in world.mx(hotel.domain))
    assert world.mailbox("someone@gmail.com") is Mailbox.FOREIGN
    assert world.mx("gmail.com") == []


def test_ground_truth_file_round_trips(world: World, tmp_path: Path) -> None:
    path = world.write_ground_truth(tmp_path / "truth.json")
    truth = json.loads(path.read_text(encoding="utf-8"))
    assert truth["sandbox"] is True
    assert truth["seed"] == 7
    hotel = truth["hotels"][0]
    assert {"domain", "pattern", "catch_all", "has_mx", "staff"} <= set(hotel)
    assert {"email", "behaviour", "linkedin_url", "mailbox_exists"} <= set(hotel["staff"][0])


def test_search_finds_every_indexed_hotel_among_noise(world: World) -> None:
    index = SearchIndex(world)
    for hotel in world.hotels:
        urls = [hit.url for hit in index.search(f"{hotel.name} {hotel.city}")]
        assert (hotel.website in urls) is hotel.indexed
        assert any("booking-aggregator.example" in url for url in urls)
    assert index.search("zzzz qqqq") == ()


def test_prospects_csv_reports_its_duplicates_and_bad_rows(world: World, tmp_path: Path) -> None:
    summary = world.prospects_csv(tmp_path / "p.csv", rows=150)
    lines = (tmp_path / "p.csv").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 151
    assert summary["rows"] == 150
    assert lines[0].split(",") == list(HEADERS)
    assert len(summary["duplicate_lines"]) == 15
    reasons = {bad["reason"] for bad in summary["bad_lines"]}
    assert reasons == {"missing_name", "missing_company", "private_profile", "short_row", "repeated_header"}
    rows = list(csv.reader(lines))
    slugs = {row[6].rstrip("/").rpartition("/")[2].lower() for row in rows[1:] if len(row) > 6 and row[6]}
    for line in summary["duplicate_lines"]:
        row = rows[line - 1]
        assert row[6] == "" or row[6].split("?")[0].rstrip("/").rpartition("/")[2].lower() in slugs
    without_variants = world.prospects_csv(tmp_path / "plain.csv", rows=40, duplicate_variants=False)
    assert without_variants["duplicate_lines"] == []


def test_committed_sample_is_the_generated_one(world: World, tmp_path: Path) -> None:
    world.prospects_csv(tmp_path / "sample.csv", rows=150)
    assert (tmp_path / "sample.csv").read_bytes() == SAMPLE.read_bytes()


def test_writer_personalises_from_the_prompt_and_honours_max_tokens(world: World) -> None:
    writer = Writer(world)
    hotel, person = world.people()[5]
    draft = writer.compose(f"Write to {person.full_name}, {person.title} at {hotel.name}.", max_tokens=600)
    assert draft.text.startswith("Subject: ")
    assert f"Hi {person.first}," in draft.text
    assert hotel.name in draft.text
    assert not draft.truncated
    assert writer.compose("first_name: Zoë\ncompany: Hotel Nowhere", max_tokens=600).text.count("Hi Zoë,") == 1
    short = writer.compose("first_name: Zoë", max_tokens=10)
    assert short.truncated
    assert short.completion_tokens == 10
    as_json = json.loads(writer.compose("first_name: Ana", max_tokens=600, as_json=True).text)
    assert set(as_json) == {"subject", "body"}
