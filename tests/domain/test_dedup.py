from __future__ import annotations

import re

import polars as pl
import pytest

from jengu_pipeline.domain.dedup import (
    MAX_BLOCK_ROWS,
    OUTPUT_COLUMNS,
    assign_prospects,
    new_prospect_id,
    same_person,
)

BATCH_SCHEMA = {
    "line_number": pl.Int64,
    "first_name": pl.Utf8,
    "last_name": pl.Utf8,
    "name_key": pl.Utf8,
    "company_key": pl.Utf8,
    "linkedin_url": pl.Utf8,
    "email": pl.Utf8,
}
EXISTING_SCHEMA = dict.fromkeys(("prospect_id", "linkedin_url", "email", "name_key", "company_key"), pl.Utf8)
NO_EXISTING = pl.DataFrame(schema=EXISTING_SCHEMA)


def person(
    line: int, name: str, company: str | None = "bellevue", *, linkedin: str | None = None, email: str | None = None
) -> dict[str, object]:
    first, _, last = name.partition(" ")
    return {
        "line_number": line,
        "first_name": first,
        "last_name": last or None,
        "name_key": name.lower(),
        "company_key": company,
        "linkedin_url": f"https://www.linkedin.com/in/{linkedin}" if linkedin else None,
        "email": email,
    }


def batch(*rows: dict[str, object]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=BATCH_SCHEMA)


def existing(*rows: tuple[str, str | None, str | None, str | None, str | None]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=EXISTING_SCHEMA, orient="row")


def outcome(frame: pl.DataFrame) -> list[tuple[object, ...]]:
    return frame.select("line_number", "is_duplicate", "duplicate_of_line", "match_rule").rows()


def test_new_ids_are_deterministic_and_distinct() -> None:
    first = new_prospect_id("hotels-2024-abc123", 2)
    assert first == new_prospect_id("hotels-2024-abc123", 2)
    assert re.fullmatch(r"p_[0-9a-f]{16}", first)
    assert first != new_prospect_id("hotels-2024-abc123", 3)
    assert first != new_prospect_id("hotels-2024-abc124", 2)


def test_distinct_people_get_their_own_new_ids() -> None:
    rows = batch(person(2, "anna berg"), person(3, "jon smith"))
    out = assign_prospects(rows, NO_EXISTING, "b1")
    assert out.columns == [*rows.columns, *OUTPUT_COLUMNS]
    assert out.get_column("prospect_id").to_list() == [new_prospect_id("b1", 2), new_prospect_id("b1", 3)]
    assert outcome(out) == [(2, False, None, None), (3, False, None, None)]


def test_exact_linkedin_and_email_within_the_batch() -> None:
    rows = batch(
        person(2, "anna berg", linkedin="anna-berg"),
        person(3, "a berg", "other", linkedin="anna-berg"),
        person(4, "zoe orsted", email="zoe@nordlys.example"),
        person(5, "z orsted", "nordlys", email="zoe@nordlys.example"),
    )
    out = assign_prospects(rows, NO_EXISTING, "b1")
    assert outcome(out) == [
        (2, False, None, None),
        (3, True, 2, "linkedin"),
        (4, False, None, None),
        (5, True, 4, "email"),
    ]
    ids = out.get_column("prospect_id").to_list()
    assert ids[0] == ids[1] == new_prospect_id("b1", 2)
    assert ids[2] == ids[3] == new_prospect_id("b1", 4)


def test_role_mailboxes_do_not_identify_a_person() -> None:
    rows = batch(
        person(2, "peter pan", email="info@neverland.test"), person(3, "wendy darling", email="INFO@neverland.test")
    )
    out = assign_prospects(rows, NO_EXISTING, "b1")
    assert out.get_column("is_duplicate").to_list() == [False, False]


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (("jon", "smith", "bellevue"), ("john", "smith", "bellevue"), True),
        (("katarina", "muller", "bellevue"), ("katharina", "mueller", "bellevue palace"), True),
        (("anna", "berg", "bellevue"), ("hanna", "berger", "bellevue"), False),
        (("anna", "berger", "bellevue"), ("hanna", "berger", "bellevue"), False),
        (("anna", "berg", "bellevue"), ("anna", "berger", "bellevue"), False),
        (("jean", "dupont", "bellevue"), ("jeanne", "dupont", "bellevue"), False),
        (("john", "smith", "bellevue"), ("jane", "smith", "bellevue"), False),
        (("anna", "berg", "bellevue"), ("anna", "berg", "nordlys"), False),
        (("anna", "berg", "grand paris"), ("anna", "berg", "grand berlin"), False),
    ],
)
def test_fuzzy_rule_thresholds(a: tuple[str, str, str], b: tuple[str, str, str], same: bool) -> None:
    assert same_person(a, b) is same
    assert same_person(b, a) is same


def test_fuzzy_name_and_company_within_the_batch() -> None:
    rows = batch(
        person(2, "jon smith"),
        person(3, "john smith", "bellevue palace"),
        person(4, "anna berg"),
        person(5, "hanna berger"),
        person(6, "anna berger"),
        person(7, "anna berg", None),  # no company: never fuzzy-matched
    )
    out = assign_prospects(rows, NO_EXISTING, "b1")
    assert outcome(out) == [
        (2, False, None, None),
        (3, True, 2, "name+company"),
        (4, False, None, None),
        (5, False, None, None),
        (6, False, None, None),
        (7, False, None, None),
    ]


def test_matching_is_transitive_and_points_at_the_first_line() -> None:
    rows = batch(
        person(9, "c person", "x", linkedin="shared-li"),
        person(4, "a person", "y", email="a@x.test"),
        person(7, "b person", "z", email="a@x.test", linkedin="shared-li"),
    )
    out = assign_prospects(rows, NO_EXISTING, "b1")
    assert out.get_column("line_number").to_list() == [9, 4, 7]  # input order kept
    assert out.get_column("prospect_id").n_unique() == 1
    assert out.get_column("prospect_id").item(0) == new_prospect_id("b1", 4)
    assert outcome(out) == [(9, True, 4, "linkedin"), (4, False, None, None), (7, True, 4, "linkedin")]


def test_matches_against_existing_prospects() -> None:
    known = existing(
        ("p_li", "https://www.linkedin.com/in/anna-berg", None, "anna berg", "bellevue"),
        ("p_mail", None, "zoe@nordlys.example", "zoe orsted", "nordlys"),
        ("p_fuzzy", None, None, "john smith", "bellevue"),
    )
    rows = batch(
        person(2, "anna b", "elsewhere", linkedin="anna-berg"),
        person(3, "zoe o", "elsewhere", email="zoe@nordlys.example"),
        person(4, "jon smith"),
        person(5, "new person"),
    )
    out = assign_prospects(rows, known, "b1")
    assert out.get_column("prospect_id").to_list() == ["p_li", "p_mail", "p_fuzzy", new_prospect_id("b1", 5)]
    assert outcome(out) == [
        (2, True, None, "linkedin"),
        (3, True, None, "email"),
        (4, True, None, "name+company"),
        (5, False, None, None),
    ]


def test_linkedin_wins_over_email_when_they_disagree() -> None:
    known = existing(
        ("p_by_email", None, "anna@bellevue.test", "someone else", "other"),
        ("p_by_linkedin", "https://www.linkedin.com/in/anna-berg", None, "anna berg", "bellevue"),
    )
    rows = batch(
        person(2, "anna berg", email="anna@bellevue.test"),
        person(3, "anna berg", linkedin="anna-berg"),
    )
    out = assign_prospects(rows, known, "b1")
    assert out.get_column("prospect_id").to_list() == ["p_by_linkedin", "p_by_linkedin"]


def test_rerun_is_identical() -> None:
    rows = batch(person(2, "jon smith"), person(3, "john smith"), person(4, "anna berg", email="anna@x.test"))
    known = existing(("p_1", None, "anna@x.test", None, None))
    assert assign_prospects(rows, known, "b1").equals(assign_prospects(rows, known, "b1"))


def test_empty_inputs_and_untyped_existing() -> None:
    out = assign_prospects(pl.DataFrame(schema=BATCH_SCHEMA), NO_EXISTING, "b1")
    assert out.is_empty()
    assert out.columns == [*BATCH_SCHEMA, *OUTPUT_COLUMNS]
    untyped = pl.DataFrame({name: [] for name in EXISTING_SCHEMA})  # a query returning no rows
    assert assign_prospects(batch(person(2, "anna berg")), untyped, "b1").get_column("is_duplicate").to_list() == [
        False
    ]


def colleagues(count: int, companies: list[str]) -> list[dict[str, object]]:
    """Distinct people whose names share "j" and "sm" with Jon Smith: one coarse block."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    return [
        person(
            100 + n,
            f"j{letters[n % 26]}{letters[n // 26 % 26]}q sm{letters[n // 26 % 26]}x{letters[n % 26]}",
            companies[n % len(companies)],
        )
        for n in range(count)
    ]


def test_oversized_blocks_are_narrowed_to_the_whole_company() -> None:
    staff = colleagues(2 * MAX_BLOCK_ROWS, ["bellevue palace", "bellevue lodge", "bellevue suites"])
    rows = batch(*staff, person(1, "jon smith"), person(2, "john smith"))
    out = assign_prospects(rows, NO_EXISTING, "b1").filter(pl.col("line_number") <= 2)
    assert outcome(out) == [(1, False, None, None), (2, True, 1, "name+company")]


def test_blocks_still_oversized_fall_back_to_exact_keys() -> None:
    staff = colleagues(2 * MAX_BLOCK_ROWS, ["bellevue"])
    rows = batch(*staff, person(1, "jon smith"), person(2, "john smith"))
    out = assign_prospects(rows, NO_EXISTING, "b1").filter(pl.col("line_number") <= 2)
    assert outcome(out) == [(1, False, None, None), (2, False, None, None)]


def test_namesakes_with_different_linkedin_profiles_or_numbered_hotels_stay_apart() -> None:
    from jengu_pipeline.domain.dedup import assign_prospects, same_person

    assert not same_person(("anna", "berg", "ibis paris 12"), ("anna", "berg", "ibis paris 15"))
    assert same_person(("anna", "berg", "ibis paris 12"), ("anna", "berg", "ibis paris 12"))
    batch = pl.DataFrame(
        {
            "line_number": [2, 3, 4],
            "linkedin_url": ["https://www.linkedin.com/in/siobhan-1", "https://www.linkedin.com/in/siobhan-2", None],
            "email": pl.Series([None, None, None], dtype=pl.Utf8),
            "name_key": ["siobhan pemberton"] * 3,
            "company_key": ["abbey", "abbey", "abbey"],
        }
    )
    empty = pl.DataFrame(
        schema=dict.fromkeys(("prospect_id", "linkedin_url", "email", "name_key", "company_key"), pl.Utf8)
    )
    assigned = assign_prospects(batch, empty, "b1")
    first, second, third = assigned["prospect_id"].to_list()
    assert first != second, "two LinkedIn profiles are two people, however alike their names"
    assert third in {first, second}, "a row without a profile still merges by name and company"


def test_a_sales_navigator_lead_and_a_public_profile_can_be_one_person() -> None:
    from jengu_pipeline.domain.dedup import assign_prospects

    lead = {
        **person(3, "sigrid sjoberg", "norrsken"),
        "linkedin_url": "https://www.linkedin.com/sales/lead/ACwAArhN6hAQ,NAME_SEARCH,x",
    }
    other_lead = {
        **person(4, "sigrid sjoberg", "norrsken"),
        "linkedin_url": "https://www.linkedin.com/sales/lead/ACwAAzzzzzzz,NAME_SEARCH,y",
    }
    rows = batch(person(2, "sigrid sjoberg", "norrsken", linkedin="sigrid-sjoberg-f046977"), lead, other_lead)
    empty = pl.DataFrame(
        schema=dict.fromkeys(("prospect_id", "linkedin_url", "email", "name_key", "company_key"), pl.Utf8)
    )
    profile, first_lead, second_lead = assign_prospects(rows, empty, "b1")["prospect_id"].to_list()
    assert first_lead == profile, "two namespaces: a lead id does not contradict a profile slug"
    assert second_lead != first_lead, "two different lead ids are two people"
