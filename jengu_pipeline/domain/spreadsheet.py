"""Spreadsheet-safe CSV cells: a cell that a spreadsheet would run as a formula is neutralised.

A value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is evaluated by Excel, LibreOffice
and Google Sheets (CSV injection, OWASP); prefixing a single quote makes them show it as text.
"""

from __future__ import annotations

import polars as pl

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_TRIGGER_PATTERN = r"^[=+\-@\t\r]"


def neutralise_cell(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column with formula-like cells quoted; other columns unchanged."""
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_TRIGGER_PATTERN))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )
