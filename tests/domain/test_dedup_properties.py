from __future__ import annotations

from random import Random

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from jengu_pipeline.domain.dedup import assign_prospects, new_prospect_id
from jengu_pipeline.domain.emails import ROLE_LOCAL_PARTS

NAMES = ["jon smith", "john smith", "anna berg", "hanna berger", "anna berger", "zoe orsted", "zoe"]
COMPANIES = ["bellevue", "bellevue palace", "nordlys", None]
LINKEDIN = [None, None, "https://www.linkedin.com/in/a", "https://www.linkedin.com/in/b"]
EMAILS = [None, None, "a@x.test", "b@x.test", "info@x.test"]

BATCH_SCHEMA = {
    "line_number": pl.Int64,
    "name_key": pl.Utf8,
    "company_key": pl.Utf8,
    "linkedin_url": pl.Utf8,
    "email": pl.Utf8,
}
EXISTING_SCHEMA = dict.fromkeys(("prospect_id", "linkedin_url", "email", "name_key", "company_key"), pl.Utf8)

ROW = st.fixed_dictionaries(
    {
        "name_key": st.sampled_from(NAMES),
        "company_key": st.sampled_from(COMPANIES),
        "linkedin_url": st.sampled_from(LINKEDIN),
        "email": st.sampled_from(EMAILS),
    }
)
BATCHES = st.lists(ROW, max_size=25).map(
    lambda rows: pl.DataFrame([{"line_number": i + 2, **row} for i, row in enumerate(rows)], schema=BATCH_SCHEMA)
)
EXISTING = st.lists(ROW, max_size=6).map(
    lambda rows: pl.DataFrame(
        [{"prospect_id": f"p_old{i}", **row} for i, row in enumerate(rows)], schema=EXISTING_SCHEMA
    )
)


@settings(max_examples=100, deadline=None)
@given(BATCHES, EXISTING, st.randoms(use_true_random=False))
def test_deterministic_and_order_insensitive(batch: pl.DataFrame, existing: pl.DataFrame, rng: Random) -> None:
    first = assign_prospects(batch, existing, "b1")
    assert first.equals(assign_prospects(batch, existing, "b1"))

    order = list(range(batch.height))
    rng.shuffle(order)
    shuffled = assign_prospects(batch[order], existing, "b1")
    assert shuffled.sort("line_number").equals(first.sort("line_number"))

    renumbered = batch.with_columns(pl.Series("line_number", [batch.height + 10 - i for i in range(batch.height)]))
    assert assign_prospects(renumbered, existing, "b1")["prospect_id"].n_unique() == first["prospect_id"].n_unique()


@settings(max_examples=100, deadline=None)
@given(BATCHES, EXISTING)
def test_assignment_invariants(batch: pl.DataFrame, existing: pl.DataFrame) -> None:
    out = assign_prospects(batch, existing, "b1")
    assert out.height == batch.height
    assert out.get_column("prospect_id").null_count() == 0
    known = set(existing.get_column("prospect_id").to_list())
    for row in out.iter_rows(named=True):
        is_new = row["prospect_id"] == new_prospect_id("b1", row["line_number"])
        assert row["is_duplicate"] is not is_new
        assert row["prospect_id"] in known or row["prospect_id"] == new_prospect_id(
            "b1", row["duplicate_of_line"] or row["line_number"]
        )
        if row["duplicate_of_line"] is not None:
            assert row["duplicate_of_line"] < row["line_number"]
        assert (row["match_rule"] is not None) is row["is_duplicate"]
    # exact keys always merge (role mailboxes excepted)
    for key in ("linkedin_url", "email"):
        personal = out.filter(
            pl.col(key).is_not_null() & ~pl.col(key).str.split("@").list.first().is_in(sorted(ROLE_LOCAL_PARTS))
        )
        assert (personal.group_by(key).agg(pl.col("prospect_id").n_unique())["prospect_id"] == 1).all()
