"""The sandbox's synthetic world: hotels, their domains, mail truth and staff, from one seed.

Everything the emulated providers answer is derived from a ``World``, and the world exports
its ground truth, so that find rates, verification accuracy and costs of a pipeline run can be
measured against what was really there. Generation is pure and deterministic: the same seed
gives the same world, byte for byte.

Every domain lives under the reserved TLDs ``.test`` and ``.example`` (RFC 2606/6761); nothing
in the world can ever mail or fetch a real host. LinkedIn profile URLs keep LinkedIn's real host, as real
exports do, because they are only identifiers here: nothing fetches or mails them.

DNS is not served on the wire: ``World.mx(domain)`` is the resolver-like view of the MX truth.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, TypeVar

from jengu_pipeline.sandbox.hotels import (
    IDENTIFIER_HOSTS,
    LINKEDIN_HOST,
    RESERVED_TLDS,
    ROLE_LOCAL_PARTS,
    Behaviour,
    Hotel,
    Mailbox,
    Person,
    fold,
    is_identifier_host,
    is_reserved,
    render_pattern,
    slug,
)
from jengu_pipeline.sandbox.names import REGIONS, TITLES, Region
from jengu_pipeline.sandbox.prospects import write_prospects_csv

__all__ = [
    "IDENTIFIER_HOSTS",
    "LINKEDIN_HOST",
    "RESERVED_TLDS",
    "ROLE_LOCAL_PARTS",
    "Behaviour",
    "Hotel",
    "Mailbox",
    "Person",
    "World",
    "build_world",
    "fold",
    "is_identifier_host",
    "is_reserved",
    "render_pattern",
    "slug",
]

# The formats hotels really use for staff addresses, with rough real-world weights.
PATTERNS: tuple[tuple[str, int], ...] = (
    ("{first}.{last}", 40),
    ("{f}{last}", 18),
    ("{first}", 12),
    ("{first}{last}", 7),
    ("{first}_{last}", 6),
    ("{f}.{last}", 6),
    ("{last}.{first}", 5),
    ("{first}-{last}", 4),
    ("{last}", 2),
)
BEHAVIOUR_WEIGHTS: tuple[tuple[Behaviour, int], ...] = (
    (Behaviour.SILENT, 44),
    (Behaviour.POSITIVE, 8),
    (Behaviour.NEGATIVE, 10),
    (Behaviour.QUESTION, 6),
    (Behaviour.BOUNCE, 10),
    (Behaviour.AUTO_REPLY, 13),
    (Behaviour.UNSUBSCRIBE, 9),
)


class World:
    """A generated world plus the lookups every emulated provider needs."""

    def __init__(self, seed: int, hotels: tuple[Hotel, ...]) -> None:
        self.seed = seed
        self.hotels = hotels
        self._by_domain = {hotel.domain: hotel for hotel in hotels}
        self._people: dict[str, tuple[Hotel, Person]] = {
            person.email: (hotel, person) for hotel in hotels for person in hotel.staff
        }

    def hotel(self, domain: str) -> Hotel | None:
        """The hotel owning a domain or host name (``www.`` and case ignored)."""
        host = domain.lower().rstrip(".")
        return self._by_domain.get(host.removeprefix("www."))

    def person(self, email: str) -> tuple[Hotel, Person] | None:
        return self._people.get(email.lower())

    def people(self) -> list[tuple[Hotel, Person]]:
        return list(self._people.values())

    def mx(self, domain: str) -> list[str]:
        """Resolver-like MX lookup: host names by preference, [] for dead or unknown domains."""
        hotel = self.hotel(domain)
        return list(hotel.mx) if hotel else []

    def mailbox(self, email: str) -> Mailbox:
        """Whether an address would receive mail, the fact verifiers and the SMTP server agree on."""
        local, _, domain = email.lower().rpartition("@")
        hotel = self.hotel(domain) if local else None
        if hotel is None or domain.startswith("www."):
            return Mailbox.FOREIGN
        if not hotel.has_mx:
            return Mailbox.DEAD_DOMAIN
        if hotel.catch_all:
            return Mailbox.CATCH_ALL
        found = self._people.get(email.lower())
        if (found and found[1].mailbox_exists) or local in ROLE_LOCAL_PARTS:
            return Mailbox.EXISTS
        return Mailbox.MISSING

    def domains(self) -> list[str]:
        """Every host name the world mentions: hotel domains, look-alikes, MX hosts."""
        names = [hotel.domain for hotel in self.hotels]
        names += [hotel.lookalike for hotel in self.hotels if hotel.lookalike]
        names += [host for hotel in self.hotels for host in hotel.mx]
        return names

    def ground_truth(self) -> dict[str, Any]:
        """What was really there, as JSON-ready data, for measuring a run against."""
        return {
            "sandbox": True,
            "seed": self.seed,
            "hotels": [
                {
                    "name": hotel.name,
                    "city": hotel.city,
                    "country": hotel.country,
                    "domain": hotel.domain,
                    "website": hotel.website,
                    "hostile_site": hotel.hostile_site,
                    "indexed": hotel.indexed,
                    "lookalike": hotel.lookalike,
                    "pattern": hotel.pattern,
                    "expands_umlauts": hotel.expands_umlauts,
                    "catch_all": hotel.catch_all,
                    "has_mx": hotel.has_mx,
                    "greylisting": hotel.greylisting,
                    "mx": list(hotel.mx),
                    "role_addresses": list(hotel.role_addresses),
                    "staff": [
                        {
                            "first_name": person.first,
                            "last_name": person.last,
                            "title": person.title,
                            "linkedin_url": person.linkedin_url,
                            "email": person.email,
                            "mailbox_exists": person.mailbox_exists,
                            "behaviour": str(person.behaviour),
                            "public": person.public,
                            "objected": person.objected,
                        }
                        for person in hotel.staff
                    ],
                }
                for hotel in self.hotels
            ],
        }

    def write_ground_truth(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.ground_truth(), ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    def write_mx_table(self, path: Path) -> Path:
        """The MX truth as ``{domain: [hosts]}``, read by the pipeline in sandbox mode (JENGU_MX_TABLE)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({h.domain: list(h.mx) for h in self.hotels}, indent=0), encoding="utf-8")
        return path

    def prospects_csv(self, path: Path, rows: int | None = None, duplicate_variants: bool = True) -> dict[str, Any]:
        """Write a Sales-Navigator-shaped export of the staff; see ``prospects.write_prospects_csv``."""
        return write_prospects_csv(self.people(), self.seed, path, rows=rows, duplicate_variants=duplicate_variants)


T = TypeVar("T")


def _weighted(rng: random.Random, choices: tuple[tuple[T, int], ...]) -> T:
    return rng.choices([value for value, _ in choices], weights=[weight for _, weight in choices])[0]


def _domain(rng: random.Random, name: str, core: str, city: str, taken: set[str]) -> str:
    tld = rng.choice(RESERVED_TLDS)
    styles = [
        f"{slug(name)}{tld}",
        f"{slug(core)}-{slug(city)}{tld}",
        f"{slug(name)}-{slug(city)}{tld}",
        f"{slug(core).replace('-', '')}{slug(city).replace('-', '')}{tld}",
    ]
    rng.shuffle(styles)
    for candidate in [*styles, *(f"{slug(name)}-{n}{tld}" for n in range(2, 100))]:
        if candidate not in taken:
            return candidate
    raise RuntimeError("no free domain name")  # unreachable with 98 numbered fallbacks


def _staff(rng: random.Random, region: Region, domain: str, pattern: str, expand: bool) -> tuple[Person, ...]:
    people: list[Person] = []
    locals_taken: set[str] = set(ROLE_LOCAL_PARTS)
    titles = [TITLES[0], *rng.sample(TITLES[1:] + region.local_titles, 4)]
    for title in titles[: rng.randint(2, 5)]:
        for _attempt in range(20):
            first, last = rng.choice(region.first_names), rng.choice(region.last_names)
            local = render_pattern(pattern, first, last, expand_umlauts=expand)
            if local not in locals_taken:
                break
        else:
            continue
        locals_taken.add(local)
        people.append(
            Person(
                first=first,
                last=last,
                title=title,
                linkedin_slug=f"{slug(first)}-{slug(last)}-{rng.getrandbits(28):07x}",
                email=f"{local}@{domain}",
                behaviour=_weighted(rng, BEHAVIOUR_WEIGHTS),
                public=rng.random() < 0.4,
                objected=rng.random() < 0.02,
            )
        )
    return tuple(people)


def build_world(seed: int = 7, hotels: int = 200) -> World:
    """Generate the world for a seed: pure and deterministic (no clock, no global random state)."""
    rng = random.Random(seed)
    taken: set[str] = set()
    named: set[tuple[str, str]] = set()
    built: list[Hotel] = []
    for index in range(hotels):
        region = REGIONS[index % len(REGIONS)]
        for _attempt in range(50):
            city = rng.choice(region.cities)
            core = rng.choice(region.cores)
            name = rng.choice(region.templates).format(core=core)
            if (name, city.name) not in named:
                break
        named.add((name, city.name))
        domain = _domain(rng, name, core, city.name, taken)
        taken.add(domain)
        lookalike = None
        if rng.random() < 0.25:
            lookalike = f"{slug(core)}-{slug(city.name)}-hotel.example"
            lookalike = lookalike if lookalike not in taken else None
            if lookalike:
                taken.add(lookalike)
        pattern = _weighted(rng, PATTERNS)
        expand = region.expands_umlauts and rng.random() < 0.5
        has_mx = rng.random() >= 0.07
        built.append(
            Hotel(
                name=name,
                city=city.name,
                city_aliases=city.aliases,
                region=region.code,
                country=region.country,
                country_name=region.country_name,
                language=region.language,
                domain=domain,
                pattern=pattern,
                expands_umlauts=expand,
                catch_all=has_mx and rng.random() < 0.34,
                has_mx=has_mx,
                greylisting=has_mx and rng.random() < 0.05,
                indexed=rng.random() >= 0.08,
                search_rank=rng.choice((0, 0, 1, 1, 2)),
                mail_provider=rng.choice(("google", "google", "microsoft", "microsoft", "self")),
                lookalike=lookalike,
                staff=_staff(rng, region, domain, pattern, expand),
            )
        )
    return World(seed, tuple(built))
