"""The SQL guard without a store: what it refuses, what it lets through, and that bound filters mean the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlglot
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sql_attacks import ATTACKS, FILTER_ATTACKS
from sqlglot import exp

from jengu_pipeline.domain.sql_guard import (
    MAX_TEXT_LENGTH,
    Dialect,
    SqlRefused,
    check_characters,
    compile_filter,
    dialect_for,
    guard_query,
)

DIALECTS: tuple[Dialect, ...] = ("duckdb", "postgres")
TABLES = ("prospects", "flags", "activities")
COLUMNS = ("prospect_id", "tier", "score", "company", "email", "archived", "created_at")
SCHEMA = {"duckdb": "main", "postgres": "public"}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def guard(sql: str, dialect: Dialect) -> str:
    return guard_query(sql, dialect=dialect, tables=TABLES, schema=SCHEMA[dialect])


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_each_attack_is_refused_in_one_line(attack: Any, dialect: Dialect) -> None:
    with pytest.raises(SqlRefused) as refused:
        guard(attack.text(Path("/tmp/x")), dialect)
    message = str(refused.value)
    assert attack.refusal in message.lower()
    assert "\n" not in message
    assert "\x1b" not in message  # no terminal colour codes from the parser


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("attack", FILTER_ATTACKS, ids=lambda a: a.name)
def test_each_filter_injection_is_refused(attack: Any, dialect: Dialect) -> None:
    with pytest.raises(SqlRefused) as refused:
        compile_filter(attack.text(Path("/tmp/x")), dialect=dialect, columns=COLUMNS)
    assert attack.refusal in str(refused.value).lower()


@pytest.mark.parametrize("dialect", DIALECTS)
def test_what_runs_is_the_regenerated_query_without_comments(dialect: Dialect) -> None:
    assert guard("select 1 -- x */ ; drop table flags", dialect) == "SELECT 1"
    assert guard("SELECT $$; DROP TABLE flags; $$", dialect) == "SELECT '; DROP TABLE flags; '"
    assert guard("select count(*) from prospects;", dialect) == "SELECT COUNT(*) FROM prospects"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_tables_are_the_stores_its_ctes_and_the_catalogue_views(dialect: Dialect) -> None:
    guard("WITH recent AS (SELECT * FROM prospects) SELECT * FROM recent JOIN flags ON true", dialect)
    guard(f"SELECT * FROM {SCHEMA[dialect]}.prospects", dialect)
    guard("SELECT table_name FROM information_schema.tables", dialect)
    guard('SELECT * FROM "prospects"', dialect)
    with pytest.raises(SqlRefused, match="'Prospects' is not a table"):
        guard('SELECT * FROM "Prospects"', dialect)  # quoted names are case-sensitive, as in the database
    with pytest.raises(SqlRefused, match="schema 'information_schema' is not readable"):
        guard("SELECT * FROM information_schema.role_table_grants", dialect)
    with pytest.raises(SqlRefused, match="'secrets' is not a table"):
        guard("WITH recent AS (SELECT 1) SELECT * FROM secrets", dialect)


def test_backend_names_map_to_dialects() -> None:
    assert dialect_for("postgresql") == "postgres"
    assert dialect_for("duckdb") == "duckdb"


def test_invisible_characters_and_huge_text_are_refused_before_parsing() -> None:
    check_characters("SELECT 'café', 'naïve', '日本'\n\tFROM prospects\r\n")
    for character in ("\u202e", "\u2066", "\u200b", "\ufeff", "\x00", "\x1b", "\u2028"):
        with pytest.raises(SqlRefused, match=f"U\\+{ord(character):04X}"):
            check_characters(f"SELECT 1{character}")
    with pytest.raises(SqlRefused, match="characters long"):
        check_characters("SELECT 1 " + " " * MAX_TEXT_LENGTH)


def test_deep_nesting_is_refused_not_crashed() -> None:
    with pytest.raises(SqlRefused):
        guard("SELECT " + "(" * 5000 + "1" + ")" * 5000, "duckdb")


@pytest.mark.parametrize("dialect", DIALECTS)
def test_filters_are_bound_and_columns_quoted(dialect: Dialect) -> None:
    bound = compile_filter("TIER = 'hot' AND NOT archived AND score >= -5", dialect=dialect, columns=COLUMNS)
    assert bound.sql == '"tier" = ? AND NOT "archived" AND "score" >= ?'
    assert bound.params == ("hot", -5)
    bound = compile_filter("company LIKE '50!%%' ESCAPE '!'", dialect=dialect, columns=COLUMNS)
    assert bound.params == ("50!%%",)
    assert bound.sql.endswith("ESCAPE '!'")


# Properties ------------------------------------------------------------------------------------------------

_strings = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=12)
_values = st.one_of(
    _strings.map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(-1e6, 1e6, allow_nan=False).map(lambda f: repr(round(f, 3))),
)
_columns = st.sampled_from(COLUMNS).flatmap(lambda c: st.sampled_from([c, c.upper(), f'"{c}"']))
_operands = st.one_of(
    _columns,
    _values,
    _columns.map(lambda c: f"lower({c})"),
    st.tuples(_columns, _values).map("coalesce({0[0]}, {0[1]})".format),
)


def _leaf() -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(_operands, st.sampled_from(["=", "<>", "<", ">=", "!="]), _operands).map(" ".join),
        st.tuples(_columns, st.lists(_values, min_size=1, max_size=4)).map(lambda t: f"{t[0]} IN ({', '.join(t[1])})"),
        st.tuples(_columns, _values, _values).map(lambda t: f"{t[0]} BETWEEN {t[1]} AND {t[2]}"),
        st.tuples(_columns, st.sampled_from(["LIKE", "ILIKE", "NOT LIKE"]), _values).map(" ".join),
        st.tuples(_columns, st.sampled_from(["IS NULL", "IS NOT NULL"])).map(" ".join),
        _columns.map(lambda c: f"NOT {c}"),
    )


_conditions = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda c: f"NOT ({c})"),
    ),
    max_leaves=8,
)


def _quote_columns(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.Column):
        identifier = node.this
        name = identifier.name if identifier.args.get("quoted") else identifier.name.lower()
        return exp.Column(this=exp.Identifier(this=name, quoted=True))
    return node


@SETTINGS
@given(condition=_conditions, dialect=st.sampled_from(DIALECTS))
def test_a_bound_filter_means_what_the_person_typed(condition: str, dialect: Dialect) -> None:
    """Putting the parameters back in place of the ``?`` gives the same condition as the typed text."""
    bound = compile_filter(condition, dialect=dialect, columns=COLUMNS)
    pieces = bound.sql.split("?")
    assert len(pieces) == len(bound.params) + 1
    assert all(not isinstance(p, str) or p in condition.replace("''", "'") for p in bound.params)
    rebuilt = pieces[0] + "".join(
        exp.convert(value).sql(dialect=dialect) + piece for value, piece in zip(bound.params, pieces[1:], strict=True)
    )
    typed = sqlglot.condition(condition, dialect=dialect).transform(_quote_columns)
    assert sqlglot.condition(rebuilt, dialect=dialect).sql(dialect=dialect) == typed.sql(dialect=dialect)


@SETTINGS
@given(text=st.text(max_size=200), dialect=st.sampled_from(DIALECTS))
def test_any_text_is_either_accepted_or_refused_never_a_crash(text: str, dialect: Dialect) -> None:
    refusals = []
    for check in (lambda: guard(text, dialect), lambda: compile_filter(text, dialect=dialect, columns=COLUMNS)):
        try:
            check()
        except SqlRefused as error:
            refusals.append(str(error))
    assert all("\n" not in message for message in refusals)


@SETTINGS
@given(
    second=st.sampled_from(
        [
            "DROP TABLE flags",
            "COPY flags TO '/tmp/x'",
            "SELECT 2",
            "DELETE FROM flags",
            "INSTALL httpfs",
            "ATTACH 'x.db'",
        ]
    ),
    separator=st.sampled_from([";", "; ", ";\n", " /* c */ ; ", " -- c\n;"]),
    dialect=st.sampled_from(DIALECTS),
)
def test_a_second_statement_is_never_accepted(second: str, separator: str, dialect: Dialect) -> None:
    with pytest.raises(SqlRefused, match="2 statements"):
        guard(f"SELECT count(*) FROM prospects{separator}{second}", dialect)
    with pytest.raises(SqlRefused, match="one condition"):
        compile_filter(f"tier = 'hot'{separator}{second}", dialect=dialect, columns=COLUMNS)


@SETTINGS
@given(
    name=st.sampled_from(
        sorted(
            {
                "read_csv",
                "read_parquet",
                "read_json_auto",
                "read_text",
                "read_blob",
                "glob",
                "parquet_scan",
                "sniff_csv",
                "pg_read_file",
                "pg_read_binary_file",
                "pg_ls_dir",
                "lo_import",
                "lo_export",
                "dblink",
                "current_setting",
                "set_config",
                "duckdb_settings",
                "duckdb_extensions",
                "query",
                "query_table",
                "getenv",
                "pg_sleep",
                "txid_current",
                "load_extension",
            }
        )
    ),
    place=st.sampled_from(
        [
            "SELECT {f}('x')",
            "SELECT * FROM {f}('x')",
            "SELECT 1 WHERE {f}('x') IS NULL",
            "WITH a AS (SELECT {f}('x') AS v) SELECT v FROM a",
            "SELECT * FROM prospects WHERE tier IN (SELECT {f}('x'))",
        ]
    ),
    case=st.sampled_from([str.lower, str.upper, str.title]),
    dialect=st.sampled_from(DIALECTS),
)
def test_a_dangerous_function_is_refused_wherever_it_hides(name: str, place: str, case: Any, dialect: Dialect) -> None:
    with pytest.raises(SqlRefused):
        guard(place.format(f=case(name)), dialect)
