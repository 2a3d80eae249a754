"""Address guessing: name tokens, patterns, their order, and what is never worth a verification."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.domain.emails import (
    PRIOR_PATTERNS,
    Person,
    address_problem,
    candidates,
    infer_patterns,
    name_spellings,
    name_token,
    pattern_order,
    render,
)


@pytest.mark.parametrize(
    ("text", "token"),
    [
        ("Ørsted", "orsted"),
        ("Zoë", "zoe"),
        ("D'Angelo", "dangelo"),
        ("de la Fuente", "delafuente"),
        ("Jean-Luc", "jeanluc"),
        (None, ""),
        ("Łukasz", "lukasz"),
    ],
)
def test_name_tokens_are_ascii_letters_and_digits(text: str | None, token: str) -> None:
    assert name_token(text) == token


def test_german_umlauts_are_tried_both_ways() -> None:
    assert name_spellings("Jürgen", "Müller") == [("jurgen", "muller"), ("juergen", "mueller")]
    assert name_spellings("Anna", "Berg") == [("anna", "berg")]


def test_patterns_render_like_hunter_placeholders() -> None:
    assert render("{first}.{last}", "zoe", "orsted") == "zoe.orsted"
    assert render("{f}{last}", "zoe", "orsted") == "zorsted"
    assert render("{first}{l}", "zoe", "orsted") == "zoeo"
    assert render("{f}.{last}", "zoe", "") is None  # a pattern needing a missing part gives nothing


def test_candidates_follow_the_order_skip_repeats_and_role_boxes() -> None:
    found = candidates("Info", "Desk", "hotel.test", ["{first}", "{first}.{last}", "{first}.{last}"])
    assert [c.email for c in found] == ["info.desk@hotel.test"]  # "info@" is a shared mailbox
    mononym = candidates("Cher", None, "hotel.test", PRIOR_PATTERNS)
    assert [c.email for c in mononym] == ["cher@hotel.test"]
    assert len(candidates("Zoë", "Ørsted", "n.test", PRIOR_PATTERNS, limit=3)) == 3


def test_an_empty_store_follows_the_trade_order() -> None:
    assert pattern_order({}, {}) == list(PRIOR_PATTERNS)


def test_the_domains_pattern_goes_first_and_global_data_overrules_the_prior() -> None:
    assert pattern_order({"{last}": 1}, {})[0] == "{last}"
    data = Counter({"{f}{last}": 50, "{first}.{last}": 10})
    order = pattern_order({}, data)
    assert order[:2] == ["{f}{last}", "{first}.{last}"]


@given(
    first=st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüøéß", min_size=1, max_size=12),
    last=st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüøéß' -", min_size=1, max_size=16),
    pattern=st.sampled_from(PRIOR_PATTERNS),
)
def test_a_rendered_address_infers_its_own_pattern(first: str, last: str, pattern: str) -> None:
    spelled_first, spelled_last = name_spellings(first, last)[0] if name_spellings(first, last) else ("", "")
    local = render(pattern, spelled_first, spelled_last)
    if local:
        assert pattern in infer_patterns(f"{local}@hotel.test", first, last)


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        ("zoe.orsted@nordlys.test", None),
        ("info@nordlys.test", "role"),
        ("Reservations+x@nordlys.test", "role"),
        ("zoe@gmail.com", "free_mail"),
        ("zoe@mailinator.com", "disposable"),
        ("not-an-address", "syntax"),
        ("zoe@localhost", "syntax"),
    ],
)
def test_address_problems(email: str, problem: str | None) -> None:
    assert address_problem(email) == problem


def test_a_person_is_looked_for_at_the_hotel_first() -> None:
    assert Person("p", "Zoë", "Ørsted", "zoe@gmail.com", "nordlys.test").mail_domain == "nordlys.test"
    assert Person("p", "Zoë", "Ørsted", "zoe@Nordlys.TEST", None).mail_domain == "nordlys.test"
    assert Person("p", "Zoë", "Ørsted", None, None).mail_domain is None
