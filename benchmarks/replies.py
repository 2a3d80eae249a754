"""Reply classifier benchmark: quality against labels, and messages per second per core on the rule path.

    .venv/bin/python benchmarks/replies.py --json
    .venv/bin/python benchmarks/replies.py --seed 31 --hotels 400    # a fresh sandbox corpus the rules never saw

Reads the labelled corpus in ``tests/data/replies`` (hand-written messages, and what the sandbox's world wrote
for seed 7) and, with ``--seed``, a new corpus the sandbox's world writes for that seed in a temporary
directory. For each it prints coarse accuracy (bounce / auto-reply / unsubscribe / human), hard-vs-soft among
bounces, exact failed-recipient sets, intent accuracy on human replies and return dates, against the issue's
targets, then the rule path's speed in one process (parse + classify). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jengu_pipeline.domain.replies import classify_reply, coarse, parse_reply
from jengu_pipeline.sandbox.outreach import send_campaign
from jengu_pipeline.sandbox.replies import deliver_replies, read_truth
from jengu_pipeline.sandbox.world import build_world

CORPUS = Path(__file__).parents[1] / "tests" / "data" / "replies"
UNSUBSCRIBE_MAILBOX = frozenset({"unsubscribe@jengu.example"})
TARGETS = {"coarse": 0.98, "hard_vs_soft": 0.95, "failed_recipients": 0.98, "intent": 0.85, "per_second": 300}
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Sample:
    raw: bytes
    category: str
    failed: frozenset[str]
    return_date: str | None
    received_on: date


def labelled(part: str) -> list[Sample]:
    with (CORPUS / part / "labels.csv").open(newline="", encoding="utf-8") as file:
        return [
            Sample(
                (CORPUS / part / row["file"]).read_bytes(),
                row["category"],
                frozenset(filter(None, row["failed_recipients"].split(";"))),
                row["return_date"] or None,
                date.fromisoformat(row["received_on"]),
            )
            for row in csv.DictReader(file)
        ]


def fresh_sandbox_corpus(seed: int, hotels: int) -> list[Sample]:
    """What the sandbox's world of ``seed`` answers to a two-step campaign over 20 simulated days."""
    with tempfile.TemporaryDirectory(prefix="jengu-replies-bench-") as directory:
        root = Path(directory)
        world = build_world(seed, hotels=hotels)
        send_campaign(world, root / "smtp", START)
        deliver_replies(world, root / "smtp", root / "maildir", now=START + timedelta(days=20))
        return [
            Sample(
                (root / "maildir" / "new" / record["file"]).read_bytes(),
                record["category"],
                frozenset(record["failed_recipients"]),
                record["return_date"],
                datetime.fromisoformat(record["delivered_at"]).date(),
            )
            for record in read_truth(root / "maildir")
        ]


def _share(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def measure(samples: list[Sample]) -> dict[str, Any]:
    started = time.process_time()
    results = [
        classify_reply(parse_reply(s.raw), received_on=s.received_on, unsubscribe_addresses=UNSUBSCRIBE_MAILBOX)
        for s in samples
    ]
    cpu = time.process_time() - started
    pairs = list(zip(samples, results, strict=True))
    bounces = [(s, r) for s, r in pairs if s.category.startswith("bounce")]
    humans = [(s, r) for s, r in pairs if coarse(s.category) == "human"]
    dated = [(s, r) for s, r in pairs if s.category == "auto_reply"]
    return {
        "messages": len(samples),
        "coarse": _share([coarse(s.category) == coarse(r.category) for s, r in pairs]),
        "hard_vs_soft": _share([s.category == r.category for s, r in bounces]),
        "failed_recipients": _share([s.failed == {f.email for f in r.failed_recipients} for s, r in bounces]),
        "intent": _share([s.category == r.category for s, r in humans]),
        "return_date": _share(
            [s.return_date == (r.return_date.isoformat() if r.return_date else None) for s, r in dated]
        ),
        "per_second": round(len(samples) / cpu) if cpu else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, help="also classify a fresh sandbox corpus of this seed")
    parser.add_argument("--hotels", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    corpora = {part: labelled(part) for part in ("handwritten", "sandbox")}
    if options.seed is not None:
        corpora[f"sandbox_seed_{options.seed}"] = fresh_sandbox_corpus(options.seed, options.hotels)
    figures = {name: measure(samples) for name, samples in corpora.items()}
    for name, row in figures.items():
        print(f"{name}: {row['messages']} messages")
        for key, target in TARGETS.items():
            value = row[key]
            verdict = "n/a" if value is None else "ok" if value >= target else "BELOW TARGET"
            print(f"  {key:<18} {value!s:>8}   target >= {target}   {verdict}")
        print(f"  {'return_date':<18} {row['return_date']!s:>8}")
    if options.json:
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
