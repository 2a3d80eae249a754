"""Ingestion benchmark: import a generated Sales-Navigator-shaped file and measure speed, memory and dedup.

    .venv/bin/python benchmarks/ingest.py --rows 1000000 --json

Generates ``--rows`` rows for distinct synthetic people (reserved TLDs only) plus known duplicate variants
(LinkedIn URL locale / case / trailing slash / tracking query, e-mail case, accent-stripped names at the same
hotel), imports the file with ``jengu import`` in a child process on a fresh JENGU_HOME, and prints wall time,
the child's peak RSS, the ratio to a bare ``polars.read_csv`` of the same file, and pairwise dedup precision
and recall against the generator's ground truth. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

FIRST = [
    "Zoë",
    "Anna",
    "Luca",
    "Marie",
    "Jean-Luc",
    "Hans",
    "Sofía",
    "Björn",
    "Chloé",
    "Mateo",
    "Ingrid",
    "Léa",
    "Giulia",
    "Oliver",
    "Amélie",
    "Jürgen",
    "Nils",
    "Inès",
    "Paolo",
    "Freya",
    "Emma",
    "Noah",
    "Elif",
    "Tomás",
]
LAST = [
    "Ørsted",
    "Berg",
    "Rossi",
    "Dubois",
    "Picard",
    "Müller",
    "García",
    "Lindqvist",
    "Moreau",
    "Fernández",
    "Johansson",
    "Laurent",
    "Bianchi",
    "Smith",
    "Lefèvre",
    "Schäfer",
    "Nilsen",
    "Martín",
    "Conti",
    "Hansen",
]
TITLES = [
    "General Manager",
    "Director of Sales",
    "Owner",
    "Revenue Manager",
    "Front Office Manager",
    "Directeur Général",
    "Hoteldirektor",
    "Marketing Manager",
    "Receptionist",
    "Head of Sales",
]
PLACES = [
    "Geneva, Geneva, Switzerland",
    "Paris, Île-de-France, France",
    "Copenhagen, Capital Region, Denmark",
    "Munich, Bavaria, Germany",
    "Madrid, Community of Madrid, Spain",
    "Rome, Lazio, Italy",
    "London, England, United Kingdom",
    "New York, New York, United States",
]
HEADER = ["firstName", "lastName", "fullName", "title", "companyName", "linkedinProfileUrl", "location", "email"]
ASCII = str.maketrans("ëéèüöäøåíóáñçïîô", "eeeuoaoaioancii" + "o")


def person(n: int, rng: random.Random) -> dict[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    hotel = f"Hotel {rng.choice(LAST)} {n % 9973}"
    domain = f"hotel-{n % 9973}-{n // 9973}.test"
    slug = f"{first}-{last}-{n:x}".lower().translate(ASCII)
    email = f"{first}.{last}".lower().translate(ASCII) + f"{n}@{domain}" if rng.random() < 0.4 else ""
    return {
        "firstName": first,
        "lastName": last,
        "fullName": f"{first} {last}",
        "title": rng.choice(TITLES),
        "companyName": hotel,
        "linkedinProfileUrl": f"https://www.linkedin.com/in/{slug}",
        "location": rng.choice(PLACES),
        "email": email,
    }


def variant(row: dict[str, str], rng: random.Random) -> dict[str, str]:
    """The same person as exported again by another tool or another search."""
    twin = dict(row)
    kind = rng.choice(("locale", "case", "slash", "query", "email", "accents"))
    url = row["linkedinProfileUrl"]
    if kind == "locale":
        twin["linkedinProfileUrl"] = url.replace("www.", rng.choice(("fr.", "de.", "uk.")))
    elif kind == "case":
        twin["linkedinProfileUrl"] = url.upper().replace("HTTPS://WWW.LINKEDIN.COM", "https://www.linkedin.com")
    elif kind == "slash":
        twin["linkedinProfileUrl"] = url.replace("https://", "http://") + "/"
    elif kind == "query":
        twin["linkedinProfileUrl"] = url + "?miniProfileUrn=urn%3Ali%3Afs&trk=public"
    elif kind == "email" and row["email"]:
        twin["linkedinProfileUrl"] = ""
        twin["email"] = row["email"].upper()
    else:
        twin["linkedinProfileUrl"] = ""
        twin["email"] = ""
        twin["firstName"] = row["firstName"].translate(ASCII)
        twin["lastName"] = row["lastName"].translate(ASCII)
        twin["fullName"] = f"{twin['firstName']} {twin['lastName']}"
    return twin


def generate(path: Path, rows: int, seed: int = 7, duplicate_share: float = 0.1) -> pl.DataFrame:
    """Write the file; return the ground truth (line_number, person) for every data row."""
    rng = random.Random(seed)
    people: list[dict[str, str]] = []
    truth_person: list[int] = []
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        for _ in range(rows):
            if people and rng.random() < duplicate_share:
                index = rng.randrange(len(people))
                writer.writerow(variant(people[index], rng))
            else:
                index = len(people)
                people.append(person(index, rng))
                writer.writerow(people[index])
            truth_person.append(index)
    return pl.DataFrame({"line_number": range(2, rows + 2), "person": truth_person})


def pairs(frame: pl.DataFrame, *keys: str) -> int:
    sizes = frame.group_by(list(keys)).len()["len"]
    return int((sizes * (sizes - 1) // 2).sum())


def dedup_quality(truth: pl.DataFrame, assigned: pl.DataFrame) -> tuple[float, float]:
    """Pairwise precision and recall of the import's clusters against the true people."""
    joined = truth.join(assigned, on="line_number", how="inner")
    predicted, actual = pairs(joined, "prospect_id"), pairs(joined, "person")
    both = pairs(joined, "prospect_id", "person")
    return (both / predicted if predicted else 1.0), (both / actual if actual else 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jengu-bench-") as folder:
        work = Path(folder)
        source = work / "sales-navigator-benchmark.csv"
        truth = generate(source, args.rows)
        started = time.perf_counter()
        pl.read_csv(source, infer_schema=False)
        read_seconds = time.perf_counter() - started

        env = {"JENGU_HOME": str(work / "home"), "PATH": str(Path(sys.executable).parent)}
        started = time.perf_counter()
        child = subprocess.run(
            [sys.executable, "-m", "jengu_pipeline.cli", "import", str(source), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        if child.returncode != 0:
            sys.exit(f"import failed:\n{child.stderr[-3000:]}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        summary = json.loads(child.stdout.strip().splitlines()[-1])
        import duckdb

        with duckdb.connect(str(work / "home" / "crm.duckdb"), read_only=True) as connection:
            assigned = connection.execute("SELECT line_number, prospect_id FROM prospect_sources").pl()
        precision, recall = dedup_quality(truth, assigned)

    report = {
        "rows": args.rows,
        "seconds": round(seconds, 2),
        "read_csv_seconds": round(read_seconds, 3),
        "ratio": round(seconds / read_seconds, 1),
        "peak_rss_mb": round(peak_mb),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "true_people": int(truth["person"].n_unique()),
        "prospects": summary["new_prospects"],
        "rejected": summary["rejected"],
    }
    if not args.json:
        for key, value in report.items():
            print(f"{key:>16}: {value}")
    print(json.dumps(report))


if __name__ == "__main__":
    main()
