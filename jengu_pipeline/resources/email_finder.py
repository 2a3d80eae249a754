"""Finding each prospect's work address: the imported one if it verifies, else the best-ordered guesses.

Work is grouped by mail domain. Domains run concurrently (the verifier's own limits pace the calls); inside
one domain calls go one at a time, because what each answer teaches saves the next: no MX means no paid
call for anyone there, a catch-all answer means none of the colleagues can be verified (their best guess
is kept as ``risky`` without paying), and a verified address gives the domain's pattern, after which each
colleague costs one call. Largest domains start first so that none is left running alone at the end.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Sequence

import dns.exception

from jengu_pipeline.domain.emails import (
    Attempt,
    DomainFacts,
    FinderReport,
    Finding,
    Person,
    address_problem,
    candidates,
    email_domain,
    infer_patterns,
    pattern_order,
)
from jengu_pipeline.resources.call_ledger import metered
from jengu_pipeline.resources.calls import BreakerOpen, ProviderError, QuotaExhausted
from jengu_pipeline.resources.verification import EmailVerifier, MxLookup, Verification

UNDECIDED = "the domain's mail server would not say (greylisting); asked again next run"


class EmailFinder:
    """One batch's search. ``learned`` is {domain: {pattern: verified count}} from the store; ``global_counts``
    the verified pattern frequencies everywhere; ``facts`` what is already known per domain."""

    def __init__(
        self,
        verifier: EmailVerifier,
        mx_lookup: MxLookup,
        *,
        learned: dict[str, Counter[str]],
        global_counts: Counter[str],
        facts: dict[str, DomainFacts],
        max_guesses: int = 8,
        batch_id: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.verifier = verifier
        self.mx_lookup = mx_lookup
        self.learned = learned
        self.global_counts = global_counts
        self.max_guesses = max_guesses
        self.batch_id = batch_id
        self.progress = progress
        self.report = FinderReport(facts=dict(facts))
        self._stopped: str | None = None
        self._mx_locks: dict[str, asyncio.Lock] = {}
        self._undecided: set[str] = set()
        self._unchecked: set[str] = set()
        self._stopped_domains: dict[str, str] = {}
        self._asked: set[tuple[str, str]] = set()
        self._done = 0
        self._total = 0

    async def run(self, people: Sequence[Person], *, workers: int = 32) -> FinderReport:
        self._total = len(people)
        by_domain: dict[str, list[Person]] = {}
        for person in people:
            domain = person.mail_domain
            if domain is None:
                self._finish(Finding(person.prospect_id, "unreachable", reason="no website and no email"))
            else:
                by_domain.setdefault(domain, []).append(person)
        queue = iter(sorted(by_domain.items(), key=lambda item: (-len(item[1]), item[0])))

        async def worker() -> None:
            for domain, group in queue:
                await self._domain(domain, group)

        async with asyncio.TaskGroup() as tasks:
            for _ in range(max(1, min(workers, len(by_domain)))):
                tasks.create_task(worker())
        return self.report

    def _finish(self, finding: Finding) -> None:
        self.report.findings.append(finding)
        self._done += 1
        if self.progress is not None:
            self.progress(self._done, self._total)

    async def _domain(self, domain: str, people: list[Person]) -> None:
        results: dict[str, Finding] = {}
        try:
            guessing: list[Person] = []
            for person in people:
                found = await self._imported(person) if person.imported_email else None
                if found is not None:
                    results[person.prospect_id] = found
                else:
                    guessing.append(person)
            if self._stopped is None:
                await self._guess_domain(domain, guessing, results)
        except (QuotaExhausted, BreakerOpen) as stop:
            self._stopped = self._stopped or str(stop)
        except ProviderError as error:
            self._undecided.add(domain)
            self._stopped_domains[domain] = str(error)
        except dns.exception.DNSException as error:
            self._stopped_domains[domain] = f"MX lookup: {type(error).__name__}"
        for person in people:
            reason = self._stopped_domains.get(domain) or self._stopped or UNDECIDED
            self._finish(results.get(person.prospect_id) or Finding(person.prospect_id, "pending", reason=reason))

    async def _facts(self, domain: str) -> DomainFacts:
        """What the domain does with mail, looked up once (DNS is free, but still not asked twice)."""
        lock = self._mx_locks.setdefault(domain, asyncio.Lock())
        async with lock:
            facts = self.report.facts.get(domain)
            if facts is None:
                hosts = tuple(await asyncio.to_thread(self.mx_lookup, domain))
                facts = self.report.facts[domain] = DomainFacts(domain, has_mx=bool(hosts), mx_hosts=hosts)
            return facts

    async def _verify(self, person: Person, email: str, pattern: str | None) -> Verification:
        with metered() as meter:
            verdict = await self.verifier.verify(email, batch_id=self.batch_id)
        self._note(person, email, verdict.provider, verdict.result, verdict.detail, pattern=pattern, cost=meter.units)
        return verdict

    def _note(
        self,
        person: Person,
        email: str,
        provider: str,
        result: str,
        detail: str,
        *,
        pattern: str | None = None,
        cost: int = 0,
    ) -> None:
        self.report.attempts.append(Attempt(person.prospect_id, email, provider, result, detail, pattern, cost))
        self._asked.add((person.prospect_id, email))

    async def _guess_domain(self, domain: str, people: list[Person], results: dict[str, Finding]) -> None:
        """Guess for everyone at one domain, learning its pattern with as few paid calls as possible.

        Until the pattern is known, pattern i is tried on person i (round robin), not every pattern on the
        first person: a person who has left makes only one guess fail, not all of them. A second round
        shifts people by one, so one departed colleague cannot hide the pattern. Then everyone else gets
        the learned pattern alone: whoever is not there under it has left.
        """
        if not people:
            return
        facts = await self._facts(domain)
        if not facts.has_mx:
            for person in people:
                self._note(person, f"*@{domain}", "mx", "no_mx", "the domain takes no mail")
                results[person.prospect_id] = Finding(person.prospect_id, "unreachable", reason=f"{domain} has no MX")
            return
        if domain in self._undecided:
            return
        order = self._order(domain)
        named = [p for p in people if candidates(p.first_name, p.last_name, domain, order)]
        for person in people:
            if person not in named:
                results[person.prospect_id] = Finding(person.prospect_id, "unreachable", reason="no name to guess")
        if self._unverifiable(domain):
            self._all_risky(domain, named, results)
            return
        if domain not in self.learned:
            await self._probe(domain, named, order, results)
        await self._with_known_pattern(domain, named, len(order), results)
        if self._unverifiable(domain):
            self._all_risky(domain, [p for p in named if p.prospect_id not in results], results)

    def _unverifiable(self, domain: str) -> bool:
        """No mailbox at this domain can be confirmed: it accepts any address, or the verifier cannot tell."""
        return bool(self.report.facts[domain].catch_all) or domain in self._unchecked

    async def _with_known_pattern(
        self, domain: str, people: list[Person], tried: int, results: dict[str, Finding]
    ) -> None:
        """Everyone still open gets the domain's learned pattern alone (or is unreachable if none was learned)."""
        facts = self.report.facts[domain]
        known = [pattern for pattern, _ in self.learned.get(domain, Counter()).most_common()]
        for person in people:
            if person.prospect_id in results or self._unverifiable(domain) or domain in self._undecided:
                continue
            if not known:
                reason = f"no pattern of {tried} matched at {domain}"
                results[person.prospect_id] = Finding(person.prospect_id, "unreachable", reason=reason)
                continue
            found = await self._try(person, domain, known, facts)
            if found is None and (self._unverifiable(domain) or domain in self._undecided):
                continue
            reason = f"not at {domain} under its pattern {known[0]}: has left, or never worked there"
            results[person.prospect_id] = found or Finding(person.prospect_id, "unreachable", reason=reason)

    def _order(self, domain: str) -> list[str]:
        known = self.learned.get(domain)
        if known:
            return [pattern for pattern, _ in known.most_common()]
        return pattern_order(Counter(), self.global_counts)[: self.max_guesses]

    async def _probe(self, domain: str, people: list[Person], order: list[str], results: dict[str, Finding]) -> None:
        facts = self.report.facts[domain]
        tried: set[tuple[str, str]] = set()
        for shift in range(min(len(people), 2)):
            for index, pattern in enumerate(order):
                person = people[(index + shift) % len(people)]
                if (person.prospect_id, pattern) in tried or person.prospect_id in results:
                    continue
                tried.add((person.prospect_id, pattern))
                found = await self._try(person, domain, [pattern], facts)
                if found is not None:
                    results[person.prospect_id] = found
                    return
                if self._unverifiable(domain) or domain in self._undecided:
                    return

    async def _try(self, person: Person, domain: str, patterns: list[str], facts: DomainFacts) -> Finding | None:
        """Verify the person's addresses for these patterns; a finding if one exists, None if none does."""
        for guess in candidates(person.first_name, person.last_name, domain, patterns):
            verdict = await self._verify(person, guess.email, guess.pattern)
            if verdict.result == "valid":
                facts.catch_all = False
                self._learn(domain, guess.pattern)
                return Finding(person.prospect_id, "found", guess.email)
            if verdict.result == "catch_all":
                facts.catch_all = True
                return None
            if verdict.result == "risky":  # a verifier that cannot check mailboxes (syntax + MX only)
                self._unchecked.add(domain)
                return None
            if verdict.result == "unknown":  # greylisting or a slow server: the domain answers nothing today
                self._undecided.add(domain)
                return None
        return None

    def _all_risky(self, domain: str, people: list[Person], results: dict[str, Finding]) -> None:
        """Where nothing can be verified, each person's best guess is kept as risky, for free."""
        order = self._order(domain)
        reason = "catch-all domain" if self.report.facts[domain].catch_all else "mailbox not verifiable here"
        for person in people:
            best = candidates(person.first_name, person.last_name, domain, order)[0]
            if (person.prospect_id, best.email) not in self._asked:
                self._note(person, best.email, "inferred", "risky", reason, pattern=best.pattern)
            results[person.prospect_id] = Finding(person.prospect_id, "risky", best.email, reason)

    async def _imported(self, person: Person) -> Finding | None:
        """The imported address if it verifies; None to go on guessing at the hotel's domain."""
        email = (person.imported_email or "").lower()
        problem = address_problem(email)
        if problem is not None:
            self._note(person, email, "filter", problem, "not a personal work address")
            return None
        facts = await self._facts(email_domain(email))
        if not facts.has_mx:
            self._note(person, email, "mx", "no_mx", "the domain takes no mail")
            return None
        pattern = next(iter(infer_patterns(email, person.first_name, person.last_name)), None)
        verdict = await self._verify(person, email, pattern)
        if verdict.result == "valid":
            if pattern is not None:
                self._learn(email_domain(email), pattern)
            return Finding(person.prospect_id, "found", email)
        if verdict.result in ("catch_all", "risky"):
            facts.catch_all = facts.catch_all or verdict.result == "catch_all"
            return Finding(person.prospect_id, "risky", email, verdict.result)
        return None

    def _learn(self, domain: str, pattern: str) -> None:
        self.learned.setdefault(domain, Counter())[pattern] += 1
        self.global_counts[pattern] += 1
        self.report.learned[pattern] += 1
