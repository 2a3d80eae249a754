from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.domain.spreadsheet import FORMULA_TRIGGERS, neutralise_cell, neutralise_frame


def test_formula_cells_are_quoted_and_others_untouched() -> None:
    assert neutralise_cell('=HYPERLINK("http://x.test")') == '\'=HYPERLINK("http://x.test")'
    assert neutralise_cell("+33 1 23 45") == "'+33 1 23 45"
    assert neutralise_cell("-2+3") == "'-2+3"
    assert neutralise_cell("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise_cell("\tx") == "'\tx"
    assert neutralise_cell("\rx") == "'\rx"
    assert neutralise_cell("Zoë Ørsted") == "Zoë Ørsted"
    assert neutralise_cell("a=b") == "a=b"


@given(st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=20))
def test_frame_and_cell_rules_agree(values: list[str | None]) -> None:
    frame = pl.DataFrame({"text": values, "n": list(range(len(values)))}, schema={"text": pl.String, "n": pl.Int64})
    out = neutralise_frame(frame)
    assert out["n"].to_list() == frame["n"].to_list()
    for before, after in zip(values, out["text"].to_list(), strict=True):
        assert after == (None if before is None else neutralise_cell(before))
        assert after is None or not after.startswith(FORMULA_TRIGGERS)
