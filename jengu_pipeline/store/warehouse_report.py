"""The outreach report: one self-contained HTML page drawn from the published warehouse.

Charts of the funnel, the campaign arms with their Wilson intervals, inbox health over time, replies by intent and
provider cost, each followed by the table it plots. Plotly draws them; its JavaScript is inlined once (the exact
bundle the installed plotly ships) and every style is inline, so the page opens offline and asks no network for
anything. Every text from the store is HTML-escaped in the tables and JSON-escaped in the figures (plotly writes
``<`` as ``\\u003c``), so a campaign or inbox name cannot break out of the page.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from jengu_pipeline.store.warehouse import BUILD_TABLE, FUNNEL_STAGES, open_warehouse

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}
"""No link to plotly's cloud; without ``showSendToCloud`` plotly also leaves its server URL out of the page."""
DAY_MS = 86_400_000
"""One tick a day on a date axis (plotly counts in milliseconds) while a month or less is shown."""
STAGE_LABELS = {
    "imported": "imported",
    "website_found": "website found",
    "email_verified": "email verified",
    "message_ready": "message ready",
    "sent": "sent",
    "replied": "replied",
    "interested": "interested",
}
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1f2933; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; margin-top: 2.5rem; }
.built { color: #52606d; margin-top: 0; } .empty { color: #7b8794; font-style: italic; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.85rem; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f5f7fa; } td:first-child, th:first-child { text-align: left; }
.figure { min-height: 420px; }
"""


@dataclass(frozen=True)
class Section:
    """One part of the report: a chart (``None``: nothing to draw yet) and the table behind it."""

    key: str
    title: str
    figure: go.Figure | None
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    note: str = ""
    charted: bool = True
    """False for a section that is a table only."""


def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(sql).fetchall()]


def _layout(figure: go.Figure, **options: Any) -> go.Figure:
    figure.update_layout(margin={"l": 60, "r": 20, "t": 30, "b": 60}, template="plotly_white", **options)
    return figure


def funnel_section(connection: duckdb.DuckDBPyConnection) -> Section:
    sums = ", ".join(f"coalesce(sum({stage}), 0)" for stage in FUNNEL_STAGES)
    (totals,) = _rows(connection, f"SELECT {sums} FROM mart_funnel")
    counts = [int(value) for value in totals]
    labels = [STAGE_LABELS[stage] for stage in FUNNEL_STAGES]
    figure = _layout(go.Figure(go.Funnel(y=labels, x=counts, textinfo="value+percent initial")))
    imported = counts[0]
    rows = [(label, count, count / imported if imported else None) for label, count in zip(labels, counts, strict=True)]
    return Section(
        "funnel",
        "Funnel: prospects by the furthest stage reached",
        figure if imported else None,
        ("stage", "prospects", "of imported"),
        rows,
        "Every prospect counts once, at the furthest stage it reached (mart_funnel, all batches and campaigns).",
    )


def variants_section(connection: duckdb.DuckDBPyConnection) -> Section:
    found = _rows(
        connection,
        "SELECT campaign_id, step, variant, sent, replies, reply_rate, reply_rate_low, reply_rate_high, interested,"
        " interested_rate, interested_rate_low, interested_rate_high, reply_p_value"
        " FROM mart_campaign_variants ORDER BY campaign_id, step, arm_rank",
    )
    labels = [f"{campaign} · step {step} · {variant}" for campaign, step, variant, *_ in found]
    figure = go.Figure()
    for name, rate, low, high in (("reply rate", 5, 6, 7), ("interested rate", 9, 10, 11)):
        values = [row[rate] for row in found]
        figure.add_trace(
            go.Bar(
                name=name,
                x=labels,
                y=values,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [None if row[high] is None else row[high] - row[rate] for row in found],
                    "arrayminus": [None if row[low] is None else row[rate] - row[low] for row in found],
                },
            )
        )
    _layout(figure, barmode="group", yaxis={"tickformat": ".0%", "rangemode": "tozero"})
    rows = [
        (label, row[3], row[4], row[5], _interval(row[6], row[7]), row[8], row[9], _interval(row[10], row[11]), row[12])
        for label, row in zip(labels, found, strict=True)
    ]
    return Section(
        "variants",
        "Campaign arms: reply and interested rates with Wilson 95% intervals",
        figure if found else None,
        (
            "campaign · step · arm",
            "sent",
            "replies",
            "reply rate",
            "95% interval",
            "interested",
            "interested rate",
            "95% interval",
            "p vs first arm",
        ),
        rows,
        "Human replies per message sent; the p-value is the two-proportion test against the step's first arm.",
    )


def _interval(low: float | None, high: float | None) -> str | None:
    return None if low is None or high is None else f"{low:.1%} – {high:.1%}"


def inbox_section(connection: duckdb.DuckDBPyConnection) -> Section:
    found = _rows(
        connection,
        "SELECT inbox, day, sent, cap, hard_bounces, soft_bounces, rolling_bounce_rate, paused_at_day_end"
        " FROM mart_inbox_health ORDER BY inbox, day",
    )
    figure = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08)
    for inbox in dict.fromkeys(row[0] for row in found):
        mine = [row for row in found if row[0] == inbox]
        days = [row[1].isoformat() for row in mine]
        figure.add_trace(go.Scatter(name=f"{inbox} sent", x=days, y=[r[2] for r in mine], mode="lines+markers"), 1, 1)
        figure.add_trace(
            go.Scatter(name=f"{inbox} cap", x=days, y=[r[3] for r in mine], mode="lines+markers", line={"dash": "dot"}),
            1,
            1,
        )
        figure.add_trace(
            go.Scatter(name=f"{inbox} bounce rate", x=days, y=[r[6] for r in mine], mode="lines+markers"), 2, 1
        )
    _layout(figure, height=520)
    days_shown = len({row[1] for row in found})
    figure.update_xaxes(tickformat="%b %d", **({"dtick": DAY_MS} if days_shown <= 31 else {}))
    figure.update_yaxes(title_text="sent / cap", row=1, col=1)
    figure.update_yaxes(title_text="hard bounces, last 100", tickformat=".1%", rangemode="tozero", row=2, col=1)
    return Section(
        "inbox_health",
        "Inbox health over time",
        figure if found else None,
        ("inbox", "day", "sent", "cap", "hard bounces", "soft bounces", "bounce rate (last 100)", "paused at day end"),
        found,
        "Per inbox and sending day; the bounce rate is over the inbox's last 100 sends as of that day's end.",
    )


def intents_section(connection: duckdb.DuckDBPyConnection) -> Section:
    found = _rows(
        connection,
        "SELECT intent, bool_or(is_human), CAST(sum(replies) AS BIGINT) AS replies FROM mart_reply_intents"
        " GROUP BY intent ORDER BY replies DESC, intent",
    )
    total = sum(row[2] for row in found)
    figure = _layout(go.Figure(go.Bar(x=[row[0] for row in found], y=[row[2] for row in found])))
    rows = [(intent, "yes" if human else "no", replies, replies / total) for intent, human, replies in found]
    return Section(
        "reply_intents",
        "Replies by intent",
        figure if found else None,
        ("intent", "from a person", "replies", "share"),
        rows,
        "Every stored inbound message, by the classifier's intent ('unclassified' until it has run).",
    )


def costs_section(connection: duckdb.DuckDBPyConnection) -> Section:
    found = _rows(
        connection,
        "SELECT provider, is_total, calls, ok_calls, cache_hits, failed_calls, cost_units, cost_per_website_found,"
        " cost_per_verified_email, cost_per_sent_message FROM mart_provider_costs ORDER BY is_total, provider",
    )
    providers = [row for row in found if not row[1]]
    figure = _layout(
        go.Figure(go.Bar(x=[row[0] for row in providers], y=[row[6] for row in providers])),
        yaxis={"title": {"text": "cost units"}},
    )
    rows = [(row[0], *row[2:]) for row in found]
    return Section(
        "provider_costs",
        "Provider cost",
        figure if providers else None,
        (
            "provider",
            "calls",
            "ok",
            "cache hits",
            "failed",
            "cost units",
            "per website found",
            "per verified email",
            "per sent message",
        ),
        rows,
        "Cost units from the provider ledger; the last row sets all providers' units against each output.",
    )


def time_to_reply_section(connection: duckdb.DuckDBPyConnection) -> Section:
    found = _rows(
        connection,
        "SELECT CASE WHEN is_total THEN '(all campaigns)' ELSE campaign_id || ' · step ' || step END, replied_sends,"
        " p50_hours, p75_hours, p90_hours, mean_hours FROM mart_time_to_reply ORDER BY is_total, campaign_id, step",
    )
    return Section(
        "time_to_reply",
        "Hours from a send to its first human reply",
        None,
        ("campaign · step", "replied sends", "median", "p75", "p90", "mean"),
        found,
        "Percentiles over the sends that drew a human reply.",
        charted=False,
    )


SECTIONS: tuple[Callable[[duckdb.DuckDBPyConnection], Section], ...] = (
    funnel_section,
    variants_section,
    inbox_section,
    intents_section,
    costs_section,
    time_to_reply_section,
)
RATE_HEADINGS = frozenset({"of imported", "reply rate", "interested rate", "share", "bounce rate (last 100)"})


def _float(value: float, heading: str) -> str:
    if heading in RATE_HEADINGS:
        return f"{value:.1%}"
    return f"{value:.3g}" if heading.startswith("p ") else f"{value:,.2f}"


def _cell(value: Any, heading: str) -> str:
    """One table cell's text, escaped: rates as percentages, counts with separators, NULL as a dash."""
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, float):
        text = _float(value, heading)
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, datetime | date):
        text = value.isoformat()
    else:
        text = str(value)
    return html.escape(text)


def _table(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(v, c)}</td>" for v, c in zip(row, columns, strict=True)) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section_html(section: Section) -> str:
    parts = [f'<section id="{section.key}"><h2>{html.escape(section.title)}</h2>']
    if section.note:
        parts.append(f"<p>{html.escape(section.note)}</p>")
    if section.figure is not None:
        figure = section.figure.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"figure-{section.key}", config=PLOTLY_CONFIG
        )
        parts.append(f'<div class="figure">{figure}</div>')
    elif section.charted:
        parts.append('<p class="empty">Nothing to chart yet.</p>')
    parts.append(_table(section.columns, section.rows) if section.rows else '<p class="empty">No rows yet.</p>')
    parts.append("</section>")
    return "".join(parts)


def render_report(path: Path) -> str:
    """The report of the warehouse published at ``path``, as one HTML document."""
    with open_warehouse(path) as connection:
        built_at, backend = _rows(connection, f"SELECT built_at, store_backend FROM {BUILD_TABLE}")[0]
        sections = [make(connection) for make in SECTIONS]
    body = "".join(_section_html(section) for section in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Jengu outreach report</title><style>{STYLE}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        "<h1>Jengu outreach report</h1>"
        f'<p class="built">From the warehouse built {html.escape(built_at.isoformat())} '
        f"from the {html.escape(backend)} CRM store.</p>"
        f"{body}</body></html>"
    )


def write_report(warehouse_path: Path, out: Path) -> int:
    """Write the report of the published warehouse to ``out`` (replaced whole); its size in bytes."""
    text = render_report(warehouse_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(out)
    return len(text.encode("utf-8"))
