"""Which SQL and which filters a person may run against the store, decided by parsing, never by pasting.

``jengu sql``, ``jengu export --where`` and any later feature that takes SQL or a filter from a person (the
console's filters, Dagster run config) go through here. The text is parsed with sqlglot and checked against
allow-lists: exactly one SELECT (``WITH ... SELECT`` and set operations included), only the store's own
tables and the query's CTEs, and only ordinary scalar, aggregate and window functions. Anything else (COPY,
ATTACH, INSTALL, SET, DDL/DML, a function that reads files, the network or settings, or runs SQL held in a
string) is refused with a one-line reason. What runs is sqlglot's regeneration of the checked tree, without
comments, so the database executes exactly what was checked rather than the original text.

The store layer adds a second wall (a hardened read-only connection); this module needs no store.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.tokens import TokenType

Dialect = Literal["duckdb", "postgres"]

MAX_TEXT_LENGTH = 100_000
"""Longer text is refused before parsing: no analyst query is that long, and the parser recurses."""


class SqlRefused(ValueError):
    """A query or filter was refused; the message says what and why in one line."""


def dialect_for(backend: str) -> Dialect:
    """The sqlglot dialect of a store backend (``duckdb`` or ``postgresql``)."""
    return "postgres" if backend == "postgresql" else "duckdb"


_ALLOWED_CHARACTERS = frozenset("\t\n\r")
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def check_characters(text: str) -> None:
    """Refuse control, format (bidi overrides, zero-width) and unassigned characters anywhere in the text.

    They are how a reviewer is shown one statement while the parser sees another; no real query needs them.
    """
    if len(text) > MAX_TEXT_LENGTH:
        raise SqlRefused(f"the text is {len(text)} characters long; at most {MAX_TEXT_LENGTH} are accepted")
    for position, character in enumerate(text):
        if character not in _ALLOWED_CHARACTERS and unicodedata.category(character) in _INVISIBLE_CATEGORIES:
            raise SqlRefused(
                f"the text contains an invisible or control character U+{ord(character):04X} at position {position}"
            )


# What a read-only query may contain -------------------------------------------------------------------------

_QUERY_ROOTS = (exp.Select, exp.Union, exp.Except, exp.Intersect, exp.Subquery)

_STRUCTURE_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Select,
        exp.Union,
        exp.Except,
        exp.Intersect,
        exp.Subquery,
        exp.With,
        exp.CTE,
        exp.From,
        exp.Join,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Fetch,
        exp.Distinct,
        exp.Qualify,
        exp.Window,
        exp.WindowSpec,
        exp.Table,
        exp.TableAlias,
        exp.Alias,
        exp.Column,
        exp.Identifier,
        exp.Star,
        exp.Dot,
        exp.Values,
        exp.Tuple,
        exp.Paren,
        exp.Lateral,
        exp.Filter,
        exp.WithinGroup,
        exp.Cube,
        exp.Rollup,
        exp.GroupingSets,
        exp.Placeholder,
        exp.Literal,
        exp.RawString,
        exp.Null,
        exp.Boolean,
        exp.Var,
        exp.DataType,
        exp.DataTypeParam,
        exp.Interval,
        exp.Between,
        exp.In,
        exp.Like,
        exp.ILike,
        exp.SimilarTo,
        exp.Escape,
        exp.Is,
        exp.Not,
        exp.And,
        exp.Or,
        exp.Neg,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.IntDiv,
        exp.Mod,
        exp.DPipe,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Any,
        exp.All,
        exp.Bracket,
        exp.Slice,
        exp.JSONPath,
        exp.JSONPathRoot,
        exp.JSONPathKey,
        exp.JSONPathSubscript,
        exp.BitwiseAnd,
        exp.BitwiseOr,
        exp.BitwiseXor,
        exp.BitwiseNot,
        exp.BitwiseLeftShift,
        exp.BitwiseRightShift,
    }
)
"""Syntax a SELECT is made of. Matched by exact class, so a subclass with other powers never slips through."""

ALLOWED_FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    {
        # aggregates
        exp.Count,
        exp.CountIf,
        exp.Sum,
        exp.Avg,
        exp.Min,
        exp.Max,
        exp.ArgMax,
        exp.ArgMin,
        exp.AnyValue,
        exp.ApproxDistinct,
        exp.ApproxQuantile,
        exp.ArrayAgg,
        exp.GroupConcat,
        exp.Median,
        exp.Mode,
        exp.PercentileCont,
        exp.PercentileDisc,
        exp.Quantile,
        exp.Stddev,
        exp.StddevPop,
        exp.StddevSamp,
        exp.Variance,
        exp.VariancePop,
        exp.Corr,
        exp.CovarPop,
        exp.CovarSamp,
        exp.LogicalAnd,
        exp.LogicalOr,
        exp.First,
        exp.Last,
        exp.Grouping,
        exp.BitwiseAndAgg,
        exp.BitwiseOrAgg,
        exp.BitwiseXorAgg,
        # window functions
        exp.RowNumber,
        exp.Rank,
        exp.DenseRank,
        exp.PercentRank,
        exp.CumeDist,
        exp.Ntile,
        exp.Lag,
        exp.Lead,
        exp.FirstValue,
        exp.LastValue,
        exp.NthValue,
        # conditionals and casts
        exp.Case,
        exp.If,
        exp.Coalesce,
        exp.Nullif,
        exp.Greatest,
        exp.Least,
        exp.Cast,
        exp.TryCast,
        exp.Exists,
        # text
        exp.Lower,
        exp.Upper,
        exp.Trim,
        exp.Length,
        exp.Concat,
        exp.ConcatWs,
        exp.Substring,
        exp.Left,
        exp.Right,
        exp.Replace,
        exp.Reverse,
        exp.Repeat,
        exp.Pad,
        exp.Initcap,
        exp.StrPosition,
        exp.Split,
        exp.SplitPart,
        exp.StartsWith,
        exp.EndsWith,
        exp.Contains,
        exp.RegexpLike,
        exp.RegexpILike,
        exp.RegexpExtract,
        exp.RegexpReplace,
        exp.Levenshtein,
        exp.Translate,
        exp.Ascii,
        exp.Chr,
        exp.MD5,
        exp.SHA,
        exp.SHA2,
        exp.Format,
        exp.ToChar,
        exp.Typeof,
        # numbers
        exp.Abs,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Sqrt,
        exp.Cbrt,
        exp.Ln,
        exp.Log,
        exp.Exp,
        exp.Pow,
        exp.Sign,
        exp.Trunc,
        exp.Pi,
        exp.Degrees,
        exp.Radians,
        # dates and times
        exp.CurrentDate,
        exp.CurrentSchema,
        exp.CurrentDatabase,
        exp.CurrentTimestamp,
        exp.CurrentTime,
        exp.Localtime,
        exp.Localtimestamp,
        exp.Date,
        exp.DateAdd,
        exp.DateSub,
        exp.DateDiff,
        exp.DateTrunc,
        exp.TimestampTrunc,
        exp.TimestampAdd,
        exp.TimestampSub,
        exp.TimestampDiff,
        exp.TimeToStr,
        exp.StrToTime,
        exp.StrToDate,
        exp.TsOrDsToDate,
        exp.TimeStrToTime,
        exp.UnixToTime,
        exp.TimeToUnix,
        exp.Extract,
        exp.Year,
        exp.Month,
        exp.Day,
        exp.Hour,
        exp.Minute,
        exp.Second,
        exp.Quarter,
        exp.Week,
        exp.WeekOfYear,
        exp.DayOfWeek,
        exp.DayOfWeekIso,
        exp.DayOfMonth,
        exp.DayOfYear,
        exp.Dayname,
        exp.Monthname,
        exp.LastDay,
        exp.MakeInterval,
        exp.AddMonths,
        # arrays, JSON, row-producing helpers that touch nothing outside the query
        exp.Array,
        exp.List,
        exp.ArraySize,
        exp.ArrayContains,
        exp.ArrayToString,
        exp.ArrayDistinct,
        exp.ArraySort,
        exp.ArraySlice,
        exp.ArrayConcat,
        exp.JSONExtract,
        exp.JSONExtractScalar,
        exp.JSONBExtract,
        exp.JSONBExtractScalar,
        exp.ParseJSON,
        exp.JSONType,
        exp.Columns,
        exp.GenerateSeries,
        exp.ExplodingGenerateSeries,
        exp.Unnest,
    }
)
"""Functions sqlglot knows by type that compute from their arguments alone. Anything not listed is refused."""

ALLOWED_FUNCTION_NAMES: frozenset[str] = frozenset(
    {
        "now",
        "current_schema",
        "current_database",
        "age",
        "date_part",
        "datepart",
        "strftime",
        "strptime",
        "epoch",
        "epoch_ms",
        "to_timestamp",
        "to_date",
        "to_number",
        "make_date",
        "make_timestamp",
        "date_diff",
        "datediff",
        "date_add",
        "date_sub",
        "date_trunc",
        "time_bucket",
        "justify_days",
        "justify_hours",
        "justify_interval",
        "isfinite",
        "isodow",
        "dayofweek",
        "weekday",
        "yearweek",
        "split_part",
        "regexp_matches",
        "regexp_split_to_array",
        "string_split",
        "string_to_array",
        "array_length",
        "array_upper",
        "array_lower",
        "array_position",
        "array_cat",
        "array_append",
        "array_remove",
        "cardinality",
        "len",
        "list_value",
        "list_contains",
        "list_has",
        "char_length",
        "character_length",
        "octet_length",
        "bit_length",
        "position",
        "strpos",
        "instr",
        "btrim",
        "ltrim",
        "rtrim",
        "lpad",
        "rpad",
        "left",
        "right",
        "strip_accents",
        "lcase",
        "ucase",
        "prefix",
        "suffix",
        "starts_with",
        "ends_with",
        "contains",
        "jaro_winkler_similarity",
        "damerau_levenshtein",
        "hamming",
        "jaccard",
        "unicode",
        "bool_and",
        "bool_or",
        "every",
        "string_agg",
        "listagg",
        "array_agg",
        "count_if",
        "arbitrary",
        "any_value",
        "product",
        "histogram",
        "quantile_cont",
        "quantile_disc",
        "approx_count_distinct",
        "bit_and",
        "bit_or",
        "bit_xor",
        "regr_slope",
        "regr_intercept",
        "json_extract",
        "json_extract_string",
        "json_array_length",
        "json_typeof",
        "jsonb_typeof",
        "jsonb_array_length",
        "json_extract_path",
        "json_extract_path_text",
        "jsonb_extract_path",
        "jsonb_extract_path_text",
        "to_json",
        "to_jsonb",
        "json_agg",
        "jsonb_agg",
        "json_object_agg",
        "jsonb_object_agg",
        "row_to_json",
        "json_build_object",
        "jsonb_build_object",
        "pg_typeof",
        "ifnull",
        "nvl",
        "width_bucket",
        "log10",
        "log2",
        "power",
        "ceiling",
        "mod",
        "div",
        "gcd",
        "lcm",
        "factorial",
        "sin",
        "cos",
        "tan",
        "asin",
        "acos",
        "atan",
        "atan2",
        "random",
        "concat",
        "concat_ws",
        "format",
        "initcap",
        "translate",
        "reverse",
        "repeat",
        "replace",
        "md5",
        "to_char",
        "greatest",
        "least",
        "round",
        "trunc",
        "abs",
        "floor",
        "ceil",
        "sqrt",
        "exp",
        "ln",
        "sign",
        "lower",
        "upper",
        "length",
        "trim",
        "substr",
        "substring",
        "coalesce",
        "nullif",
        "typeof",
        "generate_series",
        "unnest",
        "range",
    }
)
"""Functions sqlglot passes through untyped (``Anonymous``), by lower-case name, in either dialect."""

INFORMATION_SCHEMA_TABLES = frozenset({"tables", "columns"})
"""The catalogue views a query may read, so that an analyst can discover the schema."""

_REASONS = (
    (
        (
            "read_",
            "glob",
            "sniff_",
            "parquet_",
            "iceberg_",
            "delta_",
            "pg_read",
            "pg_ls",
            "pg_stat_file",
            "lo_",
            "csv_",
            "json_scan",
            "sqlite_",
            "postgres_",
            "mysql_",
        ),
        "it reads or writes files",
    ),
    (("dblink", "http", "s3", "azure", "gcs", "ducklake"), "it reaches the network or another database"),
    (
        ("current_setting", "set_config", "duckdb_", "pragma_", "getenv", "which_secret", "pg_settings"),
        "it reads or changes settings",
    ),
    (
        ("query", "cursor_to_", "table_to_", "schema_to_", "database_to_", "ts_stat", "ts_rewrite"),
        "it runs SQL held in a string",
    ),
    (("nextval", "setval", "currval", "lastval", "txid_", "pg_"), "it touches server state"),
)


def _reason(name: str) -> str:
    lowered = name.lower()
    for prefixes, reason in _REASONS:
        if lowered.startswith(prefixes):
            return reason
    return "it is not on the list of ordinary scalar, aggregate and window functions"


def _function_name(node: exp.Func) -> str:
    return node.name if isinstance(node, exp.Anonymous) else node.sql_name().lower()


def _refuse_function(node: exp.Func) -> SqlRefused:
    name = _function_name(node)
    return SqlRefused(f"function {name}() is not allowed: {_reason(name)}")


def _snippet(node: exp.Expr, dialect: Dialect) -> str:
    text = node.sql(dialect=dialect, comments=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(node: exp.Expr) -> str:
    if isinstance(node, exp.Command):
        return str(node.this).upper()
    return _KINDS.get(type(node), type(node).__name__.upper())


_KINDS: dict[type[exp.Expr], str] = {exp.Into: "SELECT ... INTO", exp.Lock: "FOR UPDATE/SHARE"}


def _parse_error(error: SqlglotError) -> SqlRefused:
    if isinstance(error, ParseError) and error.errors:
        first = error.errors[0]
        return SqlRefused(f"could not parse it: {first['description']} at line {first['line']}, column {first['col']}")
    return SqlRefused(f"could not parse it: {str(error).splitlines()[0]}")


def _statements(text: str, dialect: Dialect) -> list[list[Any]]:
    """The text's tokens split into statements at top-level semicolons (comments are not tokens)."""
    try:
        tokens = sqlglot.tokenize(text, read=dialect)
    except TokenError as error:
        raise _parse_error(error) from error
    statements: list[list[Any]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    return [statement for statement in statements if statement]


_STATEMENT_STARTS = frozenset({TokenType.SELECT, TokenType.WITH, TokenType.FROM, TokenType.L_PAREN})


def _normalise(name: exp.Identifier | str, quoted: bool) -> str:
    text = name.name if isinstance(name, exp.Identifier) else name
    return text if quoted else text.lower()


def guard_query(text: str, *, dialect: Dialect, tables: Collection[str], schema: str | None = None) -> str:
    """The SQL to run for a person's read-only query, or :class:`SqlRefused` saying what was refused and why.

    ``tables`` are the store's tables (and views) in ``schema``, the only ones a query may name; the
    query's own CTEs may be named too, and ``information_schema.tables`` / ``.columns``.
    """
    check_characters(text)
    statements = _statements(text, dialect)
    if not statements:
        raise SqlRefused("the query is empty")
    if len(statements) > 1:
        raise SqlRefused(f"{len(statements)} statements found; exactly one SELECT may run per call")
    first = statements[0][0]
    if first.token_type not in _STATEMENT_STARTS:
        raise SqlRefused(
            f"{first.text.upper()} statements are not allowed: only one read-only SELECT "
            "(WITH ... SELECT, UNION) may run"
        )
    try:
        tree = sqlglot.parse_one(text, read=dialect)
    except SqlglotError as error:
        raise _parse_error(error) from error
    except RecursionError as error:
        raise SqlRefused("the query is nested too deeply to check") from error
    if not isinstance(tree, _QUERY_ROOTS):
        raise SqlRefused(
            f"{_kind(tree)} statements are not allowed: only one read-only SELECT (WITH ... SELECT, UNION) may run"
        )
    _check_query_tree(tree, dialect=dialect, tables=tables, schema=schema)
    return tree.sql(dialect=dialect, comments=False)


def _check_query_tree(tree: exp.Expr, *, dialect: Dialect, tables: Collection[str], schema: str | None) -> None:
    ctes = {_normalise(cte.alias_or_name, quoted=False) for cte in tree.find_all(exp.CTE)}
    known = {name.lower() for name in tables}
    for node in tree.walk():
        if isinstance(node, exp.Func) and type(node) not in _STRUCTURE_NODES:
            allowed = (
                node.name.lower() in ALLOWED_FUNCTION_NAMES
                if isinstance(node, exp.Anonymous)
                else type(node) in ALLOWED_FUNCTIONS
            )
            if not allowed:
                raise _refuse_function(node)
        elif type(node) not in _STRUCTURE_NODES:
            if isinstance(node, exp.DML | exp.DDL | exp.Command | exp.Into | exp.Lock):
                raise SqlRefused(f"{_kind(node)} is not allowed inside a read-only query")
            raise SqlRefused(f"{type(node).__name__} ({_snippet(node, dialect)}) is not allowed in a read-only query")
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            _check_table(node, known=known, ctes=ctes, schema=schema)


def _check_table(node: exp.Table, *, known: set[str], ctes: set[str], schema: str | None) -> None:
    identifier = node.this
    name = _normalise(identifier, quoted=bool(identifier.args.get("quoted")))
    shown = ascii(identifier.name) if not identifier.name.isascii() else repr(identifier.name)
    if node.catalog:
        raise SqlRefused(
            f"table {node.catalog}.{node.db}.{identifier.name} names another database; "
            "only the store's tables may be read"
        )
    if node.db:
        qualifier = node.db.lower()
        if qualifier == "information_schema" and name in INFORMATION_SCHEMA_TABLES:
            return
        if schema is None or qualifier != schema.lower():
            raise SqlRefused(f"schema {node.db!r} is not readable; only the store's tables may be read")
        ctes = set()
    if name not in known and name not in ctes:
        raise SqlRefused(f"table {shown} is not a table of the store")


# Filters (``--where``) ------------------------------------------------------------------------------------

_FILTER_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Column,
        exp.Identifier,
        exp.Literal,
        exp.Null,
        exp.Boolean,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.And,
        exp.Or,
        exp.Not,
        exp.Paren,
        exp.In,
        exp.Like,
        exp.ILike,
        exp.Escape,
        exp.Is,
        exp.Between,
        exp.Neg,
        exp.DataType,
    }
)
FILTER_FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    {
        exp.Lower,
        exp.Upper,
        exp.Trim,
        exp.Length,
        exp.Coalesce,
        exp.Abs,
        exp.Nullif,
        exp.Cast,
    }
)
"""The harmless functions a filter may call; a filter compares columns of one table with values."""

FILTER_CAST_TYPES = frozenset(
    {
        exp.DataType.Type.DATE,
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPTZ,
        exp.DataType.Type.INT,
        exp.DataType.Type.BIGINT,
        exp.DataType.Type.DOUBLE,
        exp.DataType.Type.TEXT,
        exp.DataType.Type.VARCHAR,
        exp.DataType.Type.BOOLEAN,
    }
)


@dataclass(frozen=True)
class BoundFilter:
    """A checked condition regenerated for one backend, values as ``?`` parameters in ``params``."""

    sql: str
    params: tuple[Any, ...]


def compile_filter(text: str, *, dialect: Dialect, columns: Iterable[str]) -> BoundFilter:
    """Parse a person's filter, allow only ``columns``, literals and harmless operators, and bind the values.

    ``--where "1=0; COPY ... TO ..."`` fails to parse as one condition and is refused, never run.
    """
    check_characters(text)
    if not text.strip():
        raise SqlRefused("the filter is empty")
    if any(statement for statement in _statements(text, dialect)[1:]):
        raise SqlRefused("a filter is one condition; ';' and further statements are not allowed")
    try:
        tree = sqlglot.condition(text, dialect=dialect)
    except SqlglotError as error:
        raise SqlRefused(f"the filter is not one condition: {_parse_error(error)}") from error
    except RecursionError as error:
        raise SqlRefused("the filter is nested too deeply to check") from error
    by_name = {name.lower(): name for name in columns}
    exact = set(by_name.values())
    for node in tree.walk():
        _check_filter_node(node, dialect=dialect, by_name=by_name, exact=exact)
    params: list[Any] = []

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
            params.append(-_literal_value(node.this))
            return exp.Placeholder(jdbc=True)
        if isinstance(node, exp.Column):
            identifier = node.this
            name = identifier.name if identifier.args.get("quoted") else by_name[identifier.name.lower()]
            return exp.Column(this=exp.Identifier(this=name, quoted=True))
        if isinstance(node, exp.Literal) and not isinstance(node.parent, exp.Escape):
            params.append(_literal_value(node))
            return exp.Placeholder(jdbc=True)
        return node

    bound = tree.transform(bind, copy=True)
    return BoundFilter(sql=bound.sql(dialect=dialect, comments=False), params=tuple(params))


def _check_filter_node(node: exp.Expr, *, dialect: Dialect, by_name: dict[str, str], exact: set[str]) -> None:
    if isinstance(node, exp.Func) and type(node) not in _FILTER_NODES:
        if type(node) not in FILTER_FUNCTIONS:
            raise SqlRefused(
                f"function {_function_name(node)}() is not allowed in a filter: only "
                "lower, upper, trim, length, coalesce, abs, nullif and cast"
            )
        if isinstance(node, exp.Trim) and len([v for v in node.args.values() if v]) > 1:
            raise SqlRefused("trim() in a filter takes one argument")
        if isinstance(node, exp.Cast) and (node.to.this not in FILTER_CAST_TYPES or node.to.expressions):
            raise SqlRefused(f"cast to {node.to.sql()} is not allowed in a filter")
        return
    if type(node) not in _FILTER_NODES:
        raise SqlRefused(
            f"{type(node).__name__} ({_snippet(node, dialect)}) is not allowed in a filter: use column "
            "names, values, comparisons, AND/OR/NOT, IN (...), LIKE, IS NULL and BETWEEN"
        )
    if isinstance(node, exp.Column):
        identifier = node.this
        if node.table or not isinstance(identifier, exp.Identifier):
            raise SqlRefused(f"column {_snippet(node, dialect)} must be a plain column name of the exported table")
        quoted = bool(identifier.args.get("quoted"))
        if (identifier.name not in exact) if quoted else (identifier.name.lower() not in by_name):
            shown = ascii(identifier.name) if not identifier.name.isascii() else repr(identifier.name)
            raise SqlRefused(f"unknown column {shown} in the filter")
    elif isinstance(node, exp.In) and (node.args.get("query") or node.args.get("unnest") or node.args.get("field")):
        raise SqlRefused("IN in a filter takes a list of values, not a query")
    elif isinstance(node, exp.Is) and not isinstance(node.expression, exp.Null | exp.Boolean):
        raise SqlRefused("IS in a filter compares with NULL, TRUE or FALSE only")


def _literal_value(node: exp.Literal) -> Any:
    if node.is_string:
        return node.this
    text = str(node.this)
    try:
        return int(text)
    except ValueError:
        return float(text)
