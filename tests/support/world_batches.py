"""Prospect files built from the sandbox world, so a test picks exactly which hotels and people it imports."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

from jengu_pipeline.sandbox.world import Hotel


def write_batch(path: Path, people: Iterable[tuple[Hotel, Iterable[int]]]) -> Path:
    """A Sales Navigator-like CSV of the given staff (by index) of each hotel, with their real LinkedIn URLs."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["First Name", "Last Name", "Title", "Company", "Website", "LinkedIn URL", "City"])
        for hotel, indexes in people:
            for i in indexes:
                person = hotel.staff[i]
                writer.writerow(
                    [
                        person.first,
                        person.last,
                        person.title,
                        hotel.name,
                        hotel.website,
                        person.linkedin_url,
                        hotel.city,
                    ]
                )
    return path
