"""Benchmark: email finding against the SANDBOX world, next to the old system's strategy.

Starts the sandbox in this process with MillionVerifier at 100 ms latency and 20 requests/s, takes N staff
of the world's hotels as prospects (name + hotel domain, as the websites stage leaves them), and runs the
pipeline's `EmailFinder` on a fresh store. Then, on another fresh store (so it pays for its own calls), the
baseline: the old system's four fixed patterns in order, stopping at the first ``ok``, with no domain
learning and no catch-all or MX shortcut. Only its find rate and paid calls are compared, so it runs with
the sandbox's latency and limit switched off and many people at once (each person's guesses still in order,
one at a time).

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
    from jengu_pipeline.resources.call_policy import ProviderLimits
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
    from jengu_pipeline.resources.call_ledger import metered
    from jengu_pipeline.resources.call_policy import ProviderLimits
    from jengu_pipeline.resources.calls import ProviderCaller, run_batch
    from jengu_pipeline.resources.verify import MillionVerifier
    from jengu_pipeline.sandbox import SANDBOX_KEYS
    from jengu_pipeline.store import open_store

    store = open_store(f"duckdb:///{home / 'baseline.duckdb'}")
    sandbox.configure("millionverifier", latency_ms=0, rate_limit_per_s=0)

    async def run() -> tuple[int, int, int]:
        limits = ProviderLimits(concurrency=16, rate_per_second=None, cache_ttl_seconds=0)
        client = MillionVerifier(
            ProviderCaller("millionverifier", store, limits),
            api_key=SANDBOX_KEYS["millionverifier"],
            base_url=sandbox.base_url,
        )

        async def person_outcome(index: str) -> tuple[int, int, int]:
            hotel, person = pairs[int(index)]
            paid = 0
            for guess in candidates(person.first, person.last, hotel.domain, BASELINE_PATTERNS)[:4]:
                with metered() as meter:
                    verdict = await client.verify(guess.email)
                paid += meter.units
                if verdict.result == "valid":
                    return 1, int(guess.email == person.email), paid
            return 0, 0, paid

        done, pending = await run_batch([str(i) for i in range(len(pairs))], person_outcome, workers=32)
        await client.aclose()
        assert not pending, pending[:3]
        return sum(d[0] for d in done), sum(d[1] for d in done), sum(d[2] for d in done)

    found, correct, paid = asyncio.run(run())
    return {
        "find_rate": round(found / len(pairs), 4),
        "precision": round(correct / found, 4) if found else 0.0,
        "paid_calls": paid,
        "paid_calls_per_verified": round(paid / found, 3) if found else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prospects", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="end with one JSON line of figures")
    args = parser.parse_args()

    from jengu_pipeline.sandbox import start_sandbox

    with tempfile.TemporaryDirectory(prefix="jengu-bench-enrich-") as tmp:
        home = Path(tmp)
        hotels = max(10, args.prospects // 3 + 10)
        with start_sandbox(
            home, seed=11, hotels=hotels, millionverifier={"latency_ms": LATENCY_MS, "rate_limit_per_s": RATE_LIMIT}
        ) as sandbox:
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
