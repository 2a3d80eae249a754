"""The email finder against the sandbox's MillionVerifier and MX table: what it pays for and what it finds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest

from jengu_pipeline.domain.emails import FinderReport, Person
from jengu_pipeline.resources.call_policy import ProviderLimits
from jengu_pipeline.resources.verify import VerifierResource
from jengu_pipeline.sandbox import SANDBOX_KEYS, Sandbox
from jengu_pipeline.sandbox.world import Hotel
from jengu_pipeline.sandbox.world import Person as Staff
from jengu_pipeline.store import open_store

Find = Callable[..., FinderReport]


@pytest.fixture
def find(sandbox: Sandbox, tmp_path: Path) -> Iterator[Find]:
    """Runs the finder on a fresh DuckDB store (its cache and quota), as the asset does."""
    verifier = VerifierResource(
        store_url=f"duckdb:///{tmp_path / 'finder.duckdb'}",
        millionverifier_api_key=SANDBOX_KEYS["millionverifier"],
        millionverifier_base_url=sandbox.base_url,
        millionverifier_limits=ProviderLimits(concurrency=4, max_attempts=1, rate_per_second=500, burst=20),
        mx_table_path=str(sandbox.mx_table_path),
    )
    with dg.build_resources({"verifier": verifier}) as resources:

        def run(people: list[Person], **known: object) -> FinderReport:
            return resources.verifier.find_emails(
                people,
                learned=known.get("learned", {}),
                global_counts=known.get("global_counts", Counter()),
                facts=known.get("facts", {}),
            )

        yield run


def hotel(sandbox: Sandbox, rule: Callable[[Hotel], bool]) -> Hotel:
    return next(h for h in sandbox.world.hotels if rule(h))


def as_people(hotel: Hotel, staff: list[Staff] | None = None, *, imported: str | None = None) -> list[Person]:
    chosen = staff if staff is not None else list(hotel.staff)
    return [Person(f"{hotel.domain}/{i}", p.first, p.last, imported, hotel.domain) for i, p in enumerate(chosen)]


def paid_calls(sandbox: Sandbox) -> int:
    return int(sandbox.stats()["providers"]["millionverifier"]["paid"])


def settled_paid_calls(sandbox: Sandbox) -> int:
    """Paid calls once the count has stopped moving for half a second."""
    count = paid_calls(sandbox)
    while True:
        time.sleep(0.5)
        if (now := paid_calls(sandbox)) == count:
            return count
        count = now


def outcomes(report: FinderReport) -> dict[str, str]:
    return {f.prospect_id: f.outcome for f in report.findings}


def normal(h: Hotel) -> bool:
    return h.has_mx and not h.catch_all and not h.greylisting


def test_a_catch_all_domain_costs_one_call_and_every_guess_is_risky(sandbox: Sandbox, find: Find) -> None:
    target = hotel(sandbox, lambda h: h.catch_all and not h.greylisting and len(h.staff) >= 3)
    report = find(as_people(target))
    assert paid_calls(sandbox) == 1
    assert set(outcomes(report).values()) == {"risky"}
    assert report.facts[target.domain].catch_all is True
    free = [a for a in report.attempts if a.provider == "inferred"]
    assert len(free) == len(target.staff) - 1
    assert all(a.cost_units == 0 for a in free)


def test_a_domain_without_mx_costs_nothing(sandbox: Sandbox, find: Find) -> None:
    target = hotel(sandbox, lambda h: not h.has_mx and len(h.staff) >= 2)
    report = find(as_people(target))
    assert paid_calls(sandbox) == 0
    assert set(outcomes(report).values()) == {"unreachable"}
    assert all(f.reason == f"{target.domain} has no MX" for f in report.findings)


def test_the_learned_pattern_makes_each_colleague_one_call(sandbox: Sandbox, find: Find) -> None:
    target = hotel(
        sandbox,
        lambda h: (
            normal(h)
            and h.pattern == "{f}{last}"
            and not h.expands_umlauts
            and len(h.staff) >= 3
            and all(p.mailbox_exists for p in h.staff)
        ),
    )
    first, *colleagues = as_people(target)
    report = find([first])
    assert outcomes(report) == {first.prospect_id: "found"}
    assert report.learned == Counter({"{f}{last}": 1})
    spent = paid_calls(sandbox)
    assert spent > 1  # {f}{last} is not the first pattern tried on an unknown domain

    again = find(colleagues, learned={target.domain: Counter({"{f}{last}": 1})})
    assert set(outcomes(again).values()) == {"found"}
    assert paid_calls(sandbox) - spent == len(colleagues)
    truth = {f"{target.domain}/{i}": p.email for i, p in enumerate(target.staff)}
    assert all(f.email == truth[f.prospect_id] for f in again.findings)


def test_a_colleague_missing_under_the_known_pattern_has_left(sandbox: Sandbox, find: Find) -> None:
    target = hotel(
        sandbox,
        lambda h: normal(h) and any(not p.mailbox_exists for p in h.staff) and any(p.mailbox_exists for p in h.staff),
    )
    gone = next(p for p in target.staff if not p.mailbox_exists)
    report = find(as_people(target, [gone]), learned={target.domain: Counter({target.pattern: 3})})
    assert [f.outcome for f in report.findings] == ["unreachable"]
    assert "has left" in report.findings[0].reason
    assert paid_calls(sandbox) <= 2  # the known pattern only (and its umlaut spelling, if any)


def test_round_robin_probing_survives_a_departed_first_colleague(sandbox: Sandbox, find: Find) -> None:
    target = hotel(
        sandbox,
        lambda h: (
            normal(h)
            and h.pattern != "{first}.{last}"
            and not h.staff[0].mailbox_exists
            and any(p.mailbox_exists for p in h.staff[1:])
        ),
    )
    report = find(as_people(target))
    present = sum(p.mailbox_exists for p in target.staff)
    assert Counter(outcomes(report).values())["found"] == present
    assert report.learned[target.pattern] >= 1


def test_an_imported_address_is_verified_first_and_a_role_box_is_skipped(sandbox: Sandbox, find: Find) -> None:
    target = hotel(sandbox, lambda h: normal(h) and h.staff[0].mailbox_exists)
    person = target.staff[0]
    own = find(as_people(target, [person], imported=person.email.upper()))
    assert [(f.outcome, f.email) for f in own.findings] == [("found", person.email)]
    assert paid_calls(sandbox) == 1

    role = find(as_people(target, [person], imported=f"info@{target.domain}"))
    assert role.attempts[0].provider == "filter"
    assert role.attempts[0].result == "role"
    assert role.attempts[0].cost_units == 0
    assert [(f.outcome, f.email) for f in role.findings] == [("found", person.email)]
    assert paid_calls(sandbox) == 1  # the guess that found it was answered from the cache


def test_free_and_disposable_imports_never_cost_a_call(sandbox: Sandbox, find: Find) -> None:
    target = hotel(sandbox, lambda h: not h.has_mx)
    people = as_people(target, [target.staff[0]], imported="someone@gmail.com")
    people += [Person("temp", "Ola", "Nordmann", "ola@mailinator.com", target.domain)]
    report = find(people)
    assert sorted(a.result for a in report.attempts if a.provider == "filter") == ["disposable", "free_mail"]
    assert paid_calls(sandbox) == 0


def test_greylisting_leaves_the_domain_pending_without_more_calls(sandbox: Sandbox, find: Find) -> None:
    target = hotel(sandbox, lambda h: h.greylisting and len(h.staff) >= 2)
    report = find(as_people(target))
    assert set(outcomes(report).values()) == {"pending"}
    assert sandbox.stats()["providers"]["millionverifier"]["calls"] == 1
    assert paid_calls(sandbox) == 0  # an undecided answer is free


def test_a_quota_stop_leaves_the_rest_pending_and_the_resume_pays_nothing_twice(sandbox: Sandbox, find: Find) -> None:
    hotels = [h for h in sandbox.world.hotels if normal(h)][:12]
    people = [p for h in hotels for p in as_people(h)]
    sandbox.configure("millionverifier", daily_quota=15)
    stopped = find(people)
    assert paid_calls(sandbox) == 15
    assert Counter(outcomes(stopped).values())["pending"] > 0
    assert any("credits" in f.reason.lower() for f in stopped.findings if f.outcome == "pending")

    sandbox.configure("millionverifier", daily_quota=None)
    resumed = find(people)
    assert "pending" not in outcomes(resumed).values()
    repaid = [a for a in resumed.attempts if a.cost_units and a.email in {s.email for s in stopped.attempts}]
    assert repaid == []


FINDER_PROCESS = """
import sys, json
from collections import Counter
import dagster as dg
from jengu_pipeline.domain.emails import Person
from jengu_pipeline.resources.calls import ProviderLimits
from jengu_pipeline.resources.verify import VerifierResource
from jengu_pipeline.sandbox import SANDBOX_KEYS, build_world

store_url, base_url, mx_table, domains = json.loads(sys.argv[1])
hotels = {h.domain: h for h in build_world(7).hotels}
people = [Person(f"{d}/{i}", p.first, p.last, None, d) for d in domains for i, p in enumerate(hotels[d].staff)]
verifier = VerifierResource(store_url=store_url, millionverifier_api_key=SANDBOX_KEYS["millionverifier"],
                            millionverifier_base_url=base_url, mx_table_path=mx_table,
                            millionverifier_limits=ProviderLimits(concurrency=4, max_attempts=1, rate_per_second=500, burst=20))
with dg.build_resources({"verifier": verifier}) as resources:
    resources.verifier.find_emails(people, learned={}, global_counts=Counter(), facts={})
"""


def finder_process(store: Path, sandbox: Sandbox, domains: list[str]) -> subprocess.Popen[bytes]:
    """The finder in a process of its own, as a Dagster step runs it (so that it can be killed)."""
    args = json.dumps([f"duckdb:///{store}", sandbox.base_url, str(sandbox.mx_table_path), domains])
    return subprocess.Popen([sys.executable, "-c", FINDER_PROCESS, args])


@pytest.mark.slow
def test_a_killed_run_resumes_without_paying_twice(sandbox: Sandbox, tmp_path: Path) -> None:
    """SIGKILL half-way: every answer paid and committed before the kill comes from the store's cache on
    resume. Only answers in flight at the kill (received, not yet committed) are lost: at most the concurrency."""
    domains = [h.domain for h in sandbox.world.hotels if normal(h)][:40]
    store_path = tmp_path / "killed.duckdb"
    sandbox.configure("millionverifier", latency_ms=30)
    child = finder_process(store_path, sandbox, domains)
    deadline = time.monotonic() + 120
    while paid_calls(sandbox) < 40 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    paid_before_kill = settled_paid_calls(sandbox)  # the server may still answer a request sent just before
    store = open_store(f"duckdb:///{store_path}")
    cached = set(
        store.query("SELECT cache_key FROM provider_cache WHERE namespace = 'millionverifier'")["cache_key"].to_list()
    )
    assert paid_before_kill >= 40
    assert paid_before_kill - len(cached) <= 4

    assert finder_process(store_path, sandbox, domains).wait(timeout=300) == 0
    after = set(
        store.query("SELECT cache_key FROM provider_cache WHERE namespace = 'millionverifier'")["cache_key"].to_list()
    )
    paid_on_resume = paid_calls(sandbox) - paid_before_kill
    assert paid_on_resume > 0
    assert paid_on_resume == len(after - cached)  # each paid answer is a new address: none bought twice


def test_without_a_verification_key_the_best_guesses_are_risky_and_free(sandbox: Sandbox, tmp_path: Path) -> None:
    target = hotel(sandbox, lambda h: normal(h) and len(h.staff) >= 2)
    offline = VerifierResource(
        store_url=f"duckdb:///{tmp_path / 'offline.duckdb'}", mx_table_path=str(sandbox.mx_table_path)
    )
    with dg.build_resources({"verifier": offline}) as resources:
        assert resources.verifier.selected == "syntax_mx"
        report = resources.verifier.find_emails(as_people(target), learned={}, global_counts=Counter(), facts={})
    assert set(outcomes(report).values()) == {"risky"}
    assert all(f.reason == "mailbox not verifiable here" for f in report.findings)
    assert report.facts[target.domain].catch_all is None  # nothing was learned about the domain itself
    assert sandbox.stats()["providers"]["millionverifier"]["calls"] == 0
