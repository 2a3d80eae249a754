"""Benchmark: email finding against the SANDBOX world, next to the old system's strategy.

Starts the sandbox in this process with MillionVerifier at 100 ms latency and 20 requests/s, takes N staff
of the world's hotels as prospects (name + hotel domain, as the websites stage leaves them), and runs the
pipeline's `EmailFinder` on a fresh store. Then, on another fresh store (so it pays for its own calls), the
baseline: the old system's four fixed patterns in order, stopping at the first ``ok``, with no domain
learning and no catch-all or MX shortcut. The baseline's calls go one at a time as the old system's did,
but with the sandbox's latency switched off, since only its find rate and paid calls are compared.

    .venv/bin/python benchmarks/enrich.py [--prospects N] [--json]

Figures: throughput as a share of the rate-limit bound (verification requests a second / 20), precision
of the ``ok`` addresses against the world's truth, find rate, and paid verification calls per verified
address, for both. With ``--json`` the last line is one JSON object with all of them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

RATE_LIMIT = 20
LATENCY_MS = 100
BASELINE_PATTERNS = ("{first}.{last}", "{first}", "{first}{last}", "{f}{last}")


def staff(world: Any, count: int) -> list[tuple[Any, Any]]:
    """(hotel, person) pairs, whole hotels at a time as a Sales Navigator search returns them."""
    pairs = [(hotel, person) for hotel in world.hotels for person in hotel.staff]
    return pairs[:count]


def run_pipeline(sandbox: Any, pairs: list[tuple[Any, Any]], home: Path) -> dict[str, Any]:
    import dagster as dg

    from jengu_pipeline.domain.emails import Person
    from jengu_pipeline.resources.calls import ProviderLimits
    from jengu_pipeline.resources.verify import VerifierResource
    from jengu_pipeline.sandbox import SANDBOX_KEYS

    people = [Person(f"p{i}", p.first, p.last, None, h.domain) for i, (h, p) in enumerate(pairs)]
    verifier = VerifierResource(
        store_url=f"duckdb:///{home / 'pipeline.duckdb'}",
        millionverifier_api_key=SANDBOX_KEYS["millionverifier"],
        millionverifier_base_url=sandbox.base_url,
        millionverifier_limits=ProviderLimits(concurrency=8, rate_per_second=RATE_LIMIT, burst=1),
        mx_table_path=str(sandbox.mx_table_path),
    )
    sandbox.reset()
    with dg.build_resources({"verifier": verifier}) as resources:
        started = time.perf_counter()
        report = resources.verifier.find_emails(people, learned={}, global_counts=Counter(), facts={})
        seconds = time.perf_counter() - started
    requests = sandbox.stats()["providers"]["millionverifier"]["calls"]
    truth = {f"p{i}": p.email for i, (_, p) in enumerate(pairs)}
    found = [f for f in report.findings if f.outcome == "found"]
    paid = sum(a.cost_units for a in report.attempts)
    return {
        "seconds": round(seconds, 2),
        "requests": requests,
        "requests_per_second": round(requests / seconds, 2),
        "throughput_ratio": round(requests / seconds / RATE_LIMIT, 3),
        "found": len(found),
        "risky": sum(1 for f in report.findings if f.outcome == "risky"),
        "precision": round(sum(f.email == truth[f.prospect_id] for f in found) / len(found), 4) if found else 0.0,
        "find_rate": round(len(found) / len(people), 4),
        "paid_calls": paid,
        "paid_calls_per_verified": round(paid / len(found), 3) if found else None,
    }


def run_baseline(sandbox: Any, pairs: list[tuple[Any, Any]], home: Path) -> dict[str, Any]:
    from jengu_pipeline.domain.emails import candidates
    from jengu_pipeline.resources.calls import ProviderCaller, ProviderLimits, metered
    from jengu_pipeline.resources.verify import MillionVerifier
    from jengu_pipeline.sandbox import SANDBOX_KEYS
    from jengu_pipeline.store import open_store

    store = open_store(f"duckdb:///{home / 'baseline.duckdb'}")
    sandbox.configure("millionverifier", latency_ms=0)

    async def run() -> tuple[int, int, int]:
        caller = ProviderCaller("millionverifier", store, ProviderLimits(concurrency=1, rate_per_second=None))
        client = MillionVerifier(caller, api_key=SANDBOX_KEYS["millionverifier"], base_url=sandbox.base_url)
        found = correct = paid = 0
        for hotel, person in pairs:
            for guess in candidates(person.first, person.last, hotel.domain, BASELINE_PATTERNS)[:4]:
                with metered() as meter:
                    verdict = await client.verify(guess.email)
                paid += meter.units
                if verdict.result == "valid":
                    found += 1
                    correct += guess.email == person.email
                    break
        await client.aclose()
        return found, correct, paid

    found, correct, paid = asyncio.run(run())
    return {
        "find_rate": round(found / len(pairs), 4),
        "precision": round(correct / found, 4) if found else 0.0,
        "paid_calls": paid,
        "paid_calls_per_verified": round(paid / found, 3) if found else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prospects", type=int, default=600)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()

    from jengu_pipeline.sandbox import start_sandbox

    with tempfile.TemporaryDirectory(prefix="jengu-bench-enrich-") as tmp:
        home = Path(tmp)
        hotels = max(10, args.prospects // 3 + 10)
        with start_sandbox(home, seed=11, hotels=hotels,
                           millionverifier={"latency_ms": LATENCY_MS, "rate_limit_per_s": RATE_LIMIT}) as sandbox:
            pairs = staff(sandbox.world, args.prospects)
            ours = run_pipeline(sandbox, pairs, home)
            baseline = run_baseline(sandbox, pairs, home)
    figures = {
        "prospects": len(pairs),
        "rate_limit_per_second": RATE_LIMIT,
        "latency_ms": LATENCY_MS,
        **ours,
        "baseline_find_rate": baseline["find_rate"],
        "baseline_precision": baseline["precision"],
        "baseline_paid_calls": baseline["paid_calls"],
        "baseline_paid_calls_per_verified": baseline["paid_calls_per_verified"],
    }
    if ours["paid_calls_per_verified"] and baseline["paid_calls_per_verified"]:
        figures["paid_calls_ratio"] = round(ours["paid_calls_per_verified"] / baseline["paid_calls_per_verified"], 3)
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
