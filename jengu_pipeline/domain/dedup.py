"""Assign every accepted row of a batch to a prospect: an existing one, an earlier row's, or a new one.

Two rows are the same person when they share a canonical LinkedIn URL, or a personal
email address, or a close name at a close company. Matching is transitive inside the
batch (union-find): A~B by email and B~C by LinkedIn put A, B and C in one prospect.

Rule priority is linkedin > email > name+company. When one batch cluster matches
several existing prospects, it merges into the one found by the strongest rule
(ties: smallest prospect_id), so the choice does not depend on row order.

Role mailboxes (info@, reservations@, ...) are shared by colleagues, so they never
identify a person and are not used as a key.

Fuzzy matching (:func:`same_person`) compares names part by part with rapidfuzz: the
whole-name token_sort_ratio alone would merge different colleagues ("Anna Berg" /
"Anna Berger" score 90, "Jean" / "Jeanne Dupont" 92), while last names >= 90 and first
names >= 85 with the same initial merge "Jon"/"John Smith" and "Katarina Müller"/
"Katharina Mueller" and keep those apart, as well as "Anna"/"Hanna Berger" (89, two
sisters of a family hotel are as likely as a typo). Known limit: gendered pairs one
letter apart ("Daniel"/"Daniela Roth", 92) at the same company still merge, and
spelling variants with another initial ("Kathy"/"Cathy") do not.

It is blocked so that it stays linear: only rows whose company_key starts with the
same word, whose last names start with the same two letters and whose first names
with the same letter are compared; a block larger than :data:`MAX_BLOCK_ROWS` (a hotel
chain, a common first word like "grand") is narrowed to the whole company_key, and
rows still in an oversized block are matched by exact keys only.
"""

from __future__ import annotations

import hashlib

import polars as pl
from rapidfuzz import fuzz

from jengu_pipeline.domain.emails import ROLE_LOCAL_PARTS

RULES = ("linkedin", "email", "name+company")
"""Match rules, strongest first."""

FIRST_NAME_THRESHOLD = 85
LAST_NAME_THRESHOLD = 90
COMPANY_THRESHOLD = 85
MAX_BLOCK_ROWS = 50

IDENTIFIERS = ("_profile", "_lead", "_email")
"""Exact identifiers: rows that both carry one and disagree are never merged by fuzzy name matching. A public
profile URL (/in/...) and a Sales Navigator lead URL (/sales/lead/...) name a person in two different
namespaces, so only two of the same kind can disagree."""
OUTPUT_COLUMNS = ("prospect_id", "is_duplicate", "duplicate_of_line", "match_rule")
_EXISTING_COLUMNS = ("prospect_id", "linkedin_url", "email", "name_key", "company_key")


def new_prospect_id(batch_id: str, line_number: int) -> str:
    """Deterministic id of the prospect first seen at ``line_number`` of ``batch_id``.

    A batch id already carries its file's content hash, so re-importing the same file
    gives the same ids.
    """
    return _new_ids(batch_id, pl.Series([line_number])).item()


def _identity_keys(frame: pl.DataFrame) -> pl.DataFrame:
    """The identity columns both sides are matched on, under shared names."""
    email = pl.col("email").str.split_exact("@", 1)
    name = pl.col("name_key").str.split_exact(" ", 1)
    lead = pl.col("linkedin_url").str.contains("linkedin.com/sales/", literal=True)
    return frame.with_columns(
        pl.when(lead).then(None).otherwise(pl.col("linkedin_url")).alias("_profile"),
        pl.when(lead).then(pl.col("linkedin_url")).otherwise(None).alias("_lead"),
        pl.when(email.struct.field("field_0").str.to_lowercase().is_in(list(ROLE_LOCAL_PARTS)))
        .then(None)
        .otherwise(pl.col("email"))
        .alias("_email"),
        name.struct.field("field_0").alias("_first"),
        name.struct.field("field_1").alias("_last"),
    )


def _blocks(batch: pl.DataFrame, existing: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(batch rows, existing rows) that can be fuzzy-matched, each with its block number.

    Block sizes are counted over both sides together, so a block's split does not
    depend on which side a row came from or on row order. Blocks are numbered by a
    hash of their key: a collision only puts two blocks together, and every pair is
    still compared on its names.
    """
    columns = ("_first", "_last", "company_key")
    carried = (*columns, *IDENTIFIERS)
    both = pl.concat(
        [
            batch.select(pl.lit(0).alias("_side"), pl.col("_row").cast(pl.Int64).alias("_id"), *carried),
            existing.select(pl.lit(1).alias("_side"), pl.col("_index").cast(pl.Int64).alias("_id"), *carried),
        ]
    ).filter(pl.all_horizontal(pl.col(columns).is_not_null()))
    company_word = pl.col("company_key").str.split_exact(" ", 1).struct.field("field_0")
    names = [pl.col("_last").str.slice(0, 2), pl.col("_first").str.slice(0, 1)]
    coarse = pl.concat_str(company_word, *names, separator="|").hash()
    fine = pl.concat_str("company_key", *names, separator="|").hash()
    both = both.with_columns(coarse.alias("_coarse"), fine.alias("_fine"))
    both = both.with_columns(
        pl.when(pl.len().over("_coarse") <= MAX_BLOCK_ROWS)
        .then("_coarse")
        .when(pl.len().over("_fine") <= MAX_BLOCK_ROWS)
        .then("_fine")
        .alias("_block")
    ).filter(pl.col("_block").is_not_null())
    return (
        both.filter(pl.col("_side") == 0).drop("_side"),
        both.filter(pl.col("_side") == 1).drop("_side"),
    )


Person = tuple[str, str, str]
"""(first name, last name, company_key) as compared by fuzzy matching."""


def _numbers(company: str) -> set[str]:
    return {token for token in company.split() if token.isdigit()}


def same_person(a: Person, b: Person) -> bool:
    """Fuzzy rule: last names >= 90, first names >= 85 with the same initial, companies >= 85
    (token_set_ratio, so "bellevue" matches "bellevue palace") carrying the same numbers ("Ibis Paris 12"
    is not "Ibis Paris 15")."""
    (first_a, last_a, company_a), (first_b, last_b, company_b) = a, b
    return bool(
        first_a[:1] == first_b[:1]
        and _numbers(company_a) == _numbers(company_b)
        and fuzz.ratio(last_a, last_b, score_cutoff=LAST_NAME_THRESHOLD)
        and fuzz.ratio(first_a, first_b, score_cutoff=FIRST_NAME_THRESHOLD)
        and (company_a == company_b or fuzz.token_set_ratio(company_a, company_b, score_cutoff=COMPANY_THRESHOLD))
    )


def _fuzzy_pairs(left: pl.DataFrame, right: pl.DataFrame, *, same_side: bool) -> pl.DataFrame:
    """(_id, _id_right) pairs of one block that are the same person."""
    pairs = left.join(right, on="_block", suffix="_right")
    if same_side:
        pairs = pairs.filter(pl.col("_id") < pl.col("_id_right"))
    for identifier in IDENTIFIERS:  # two different LinkedIn profiles (or personal emails) are two people
        conflict = (
            pl.col(identifier).is_not_null()
            & pl.col(f"{identifier}_right").is_not_null()
            & (pl.col(identifier) != pl.col(f"{identifier}_right"))
        )
        pairs = pairs.filter(~conflict)
    keep = [
        same_person(row[:3], row[3:])
        for row in pairs.select(
            "_first", "_last", "company_key", "_first_right", "_last_right", "company_key_right"
        ).iter_rows()
    ]
    return pairs.filter(pl.Series(keep, dtype=pl.Boolean)).select("_id", "_id_right")


def _components(exact: pl.DataFrame, fuzzy: pl.DataFrame, work: pl.DataFrame) -> pl.DataFrame:
    """Union-find over batch positions: (_row, _root) for every linked row, _root the smallest position of
    its cluster.

    Exact edges (a shared LinkedIn URL or email) always join. A fuzzy edge never joins two clusters that
    already carry different values of an exact identifier: "S. Pemberton" without a profile must not glue
    together two Pembertons whose LinkedIn profiles differ. Edges are (_a, _b) frames, exact ones joined
    first. Identifier sets are gathered only for the clusters that fuzzy edges touch: a million-row batch
    has about a hundred thousand exact edges and far fewer fuzzy ones.
    """
    parent = list(range(work.height))

    def find(node: int) -> int:
        root = node
        while parent[root] != root:
            root = parent[root]
        while node != root:
            parent[node], node = root, parent[node]
        return root

    for a, b in zip(exact.get_column("_a").to_list(), exact.get_column("_b").to_list(), strict=True):
        root_a, root_b = find(a), find(b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    nodes = pl.concat([frame.get_column(end).cast(pl.UInt32) for frame in (exact, fuzzy) for end in ("_a", "_b")])
    linked = nodes.unique().to_list()

    def roots() -> pl.DataFrame:
        return pl.DataFrame(
            {"_row": linked, "_root": [find(node) for node in linked]}, schema={"_row": pl.UInt32, "_root": pl.UInt32}
        )

    if not fuzzy.is_empty():
        known = _cluster_identifiers(work, fuzzy, roots())
        for a, b in zip(fuzzy.get_column("_a").to_list(), fuzzy.get_column("_b").to_list(), strict=True):
            root_a, root_b = find(a), find(b)
            ids_a, ids_b = known.get(root_a, {}), known.get(root_b, {})
            if root_a == root_b or any(kind in ids_b and not ids_a[kind] & ids_b[kind] for kind in ids_a):
                continue
            parent[max(root_a, root_b)] = min(root_a, root_b)
            merged = known.setdefault(min(root_a, root_b), {})
            for kind, values in (ids_b if root_a < root_b else ids_a).items():
                merged.setdefault(kind, set()).update(values)
    return roots()


def _cluster_identifiers(
    work: pl.DataFrame, fuzzy: pl.DataFrame, clusters: pl.DataFrame
) -> dict[int, dict[str, set[str]]]:
    """Identifier values (kind -> set) of every cluster that an edge of ``fuzzy`` touches, by cluster root."""
    touched = pl.concat([fuzzy.get_column("_a"), fuzzy.get_column("_b")]).cast(pl.UInt32).unique()
    rows = (
        work.select("_row", *IDENTIFIERS)
        .join(clusters, on="_row", how="left")
        .with_columns(pl.coalesce("_root", "_row").alias("_root"))
    )
    touched_roots = rows.filter(pl.col("_row").is_in(touched.implode())).get_column("_root").unique()
    members = rows.filter(pl.col("_root").is_in(touched_roots.implode()))
    known: dict[int, dict[str, set[str]]] = {}
    for kind in IDENTIFIERS:
        values = members.filter(pl.col(kind).is_not_null()).group_by("_root").agg(pl.col(kind).unique())
        for root, found in values.iter_rows():
            known.setdefault(root, {})[kind] = set(found)
    return known


def _exact_links(work: pl.DataFrame, key: str, rank: int) -> pl.DataFrame:
    """(_a, _b, _rank): each later row of a group sharing ``key`` -> the group's first row."""
    shared = work.filter(pl.col(key).is_not_null()).filter(pl.col(key).is_duplicated())
    return (
        shared.select(pl.col("_row").min().over(key).alias("_a"), pl.col("_row").alias("_b"))
        .filter(pl.col("_a") != pl.col("_b"))
        .with_columns(pl.lit(rank).alias("_rank"))
    )


def _exact_matches(work: pl.DataFrame, known: pl.DataFrame, key: str, rank: int) -> pl.DataFrame:
    """(_row, prospect_id, _rank) for batch rows whose ``key`` equals an existing prospect's."""
    return (
        work.filter(pl.col(key).is_not_null())
        .select("_row", key)
        .join(known.filter(pl.col(key).is_not_null()).select(key, "prospect_id"), on=key)
        .group_by("_row")
        .agg(pl.col("prospect_id").min())
        .with_columns(pl.lit(rank).alias("_rank"))
    )


def _new_ids(batch_id: str, lines: pl.Series) -> pl.Series:
    """:func:`new_prospect_id` for many lines (the batch prefix is hashed once)."""
    prefix = hashlib.sha256(f"{batch_id}\x1f".encode())
    ids = []
    for line in lines.to_list():
        digest = prefix.copy()
        digest.update(str(line).encode())
        ids.append("p_" + digest.hexdigest()[:16])
    return pl.Series(ids, dtype=pl.Utf8)


def assign_prospects(batch: pl.DataFrame, existing: pl.DataFrame, batch_id: str) -> pl.DataFrame:
    """``batch`` (accepted rows of :func:`normalise_records`) plus its prospect assignment.

    Added columns: ``prospect_id`` (the existing prospect merged into, or
    :func:`new_prospect_id` of the cluster's first line), ``is_duplicate`` (merged
    into an existing prospect or into an earlier row of this batch),
    ``duplicate_of_line`` (first line of this row's cluster, when that is another row)
    and ``match_rule`` (for a duplicate, the strongest rule linking it to its cluster or
    to the existing prospect; null otherwise).
    ``existing`` needs prospect_id, linkedin_url, email, name_key, company_key.
    Rows keep their order.
    """
    identity = ("linkedin_url", "email", "name_key", "company_key")
    work = _identity_keys(
        batch.select("line_number", *identity)
        .with_row_index("_position")
        .sort("line_number", "_position")
        .with_row_index("_row")
    )
    known = _identity_keys(
        existing.select(pl.col(name).cast(pl.Utf8) for name in _EXISTING_COLUMNS).with_row_index("_index")
    )
    rank = {rule: index for index, rule in enumerate(RULES)}

    batch_blocks, known_blocks = _blocks(work, known)
    edges = pl.concat(
        [
            _exact_links(work, "linkedin_url", rank["linkedin"]),
            _exact_links(work, "_email", rank["email"]),
            _fuzzy_pairs(batch_blocks, batch_blocks, same_side=True).select(
                pl.col("_id").cast(pl.UInt32).alias("_a"),
                pl.col("_id_right").cast(pl.UInt32).alias("_b"),
                pl.lit(rank["name+company"]).alias("_rank"),
            ),
        ]
    )
    direct = pl.concat(
        [
            _exact_matches(work, known, "linkedin_url", rank["linkedin"]),
            _exact_matches(work, known, "_email", rank["email"]),
            _fuzzy_pairs(batch_blocks, known_blocks, same_side=False)
            .join(known.select("_index", "prospect_id"), left_on="_id_right", right_on="_index")
            .group_by("_id")
            .agg(pl.col("prospect_id").min())
            .select(
                pl.col("_id").cast(pl.UInt32).alias("_row"),
                "prospect_id",
                pl.lit(rank["name+company"]).alias("_rank"),
            ),
        ]
    )

    guarded = pl.col("_rank") == rank["name+company"]
    clusters = _components(edges.filter(~guarded), edges.filter(guarded), work)
    work = work.join(clusters, on="_row", how="left").with_columns(pl.coalesce("_root", "_row").alias("_root"))
    target = (
        direct.join(work.select("_row", "_root"), on="_row")
        .sort("_rank", "prospect_id")
        .group_by("_root")
        .agg(pl.col("prospect_id").first().alias("_target"))
    )
    row_rank = (
        pl.concat(
            [
                direct.select("_row", "_rank"),
                edges.select(pl.col("_a").alias("_row"), "_rank"),
                edges.select(pl.col("_b").alias("_row"), "_rank"),
            ]
        )
        .group_by("_row")
        .agg(pl.col("_rank").min())
    )
    root_lines = work.select(pl.col("_row").alias("_root"), pl.col("line_number").alias("_root_line"))
    work = (
        work.join(target, on="_root", how="left")
        .join(row_rank, on="_row", how="left")
        .join(root_lines, on="_root", how="left")
    )
    new_lines = work.filter(pl.col("_target").is_null()).get_column("_root_line").unique()
    new_ids = pl.col("_root_line").replace_strict(
        new_lines, _new_ids(batch_id, new_lines), default=None, return_dtype=pl.Utf8
    )
    later_row = pl.col("_row") != pl.col("_root")
    is_duplicate = pl.col("_target").is_not_null() | later_row
    assigned = work.sort("_position").select(
        pl.coalesce("_target", new_ids).alias("prospect_id"),
        is_duplicate.alias("is_duplicate"),
        pl.when(later_row).then(pl.col("_root_line")).alias("duplicate_of_line"),
        pl.when(is_duplicate)
        .then(pl.col("_rank"))
        .replace_strict(list(range(len(RULES))), list(RULES), default=None, return_dtype=pl.Utf8)
        .alias("match_rule"),
    )
    return batch.hstack(assigned)
