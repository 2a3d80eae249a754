"""`jengu report`: one self-contained HTML page from the published warehouse, on DuckDB and PostgreSQL stores.

The page is read as markup (every script inline, the only one with URLs in it being the exact plotly.js bundle,
nothing else naming any URL), its figures' data are compared with the warehouse, and a real headless Chromium
(Debian's) renders it with no console error and no request besides the file itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner
from plotly.offline import get_plotlyjs

from jengu_pipeline.cli import main
from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.warehouse import FUNNEL_STAGES, publish_warehouse
from jengu_pipeline.store.warehouse_report import write_report
from tests.conftest import missing_service  # skip loudly; a failure under JENGU_REQUIRE_SERVICES=1

FIGURES = ("funnel", "variants", "inbox_health", "reply_intents", "provider_costs")
CHROMIUM = "/usr/bin/chromium"
HOSTILE = "</script><script>document.title='owned'</script><img src=https://attacker.example/x>"


@pytest.fixture
def cli_home(seeded: CrmStore, store_env: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("JENGU_HOME", str(tmp_path))
    monkeypatch.setenv("JENGU_INBOX_FILE", str(tmp_path / "no-inboxes.yaml"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def publish_and_report(home: Path) -> Path:
    assert CliRunner().invoke(main, ["warehouse", "publish"]).exit_code == 0
    out = home / "out" / "report.html"
    result = CliRunner().invoke(main, ["report", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"wrote {out} (")
    return out


class Markup(HTMLParser):
    """Every tag with its attributes, and the text of every script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def figures(text: str) -> dict[str, list[dict[str, Any]]]:
    """Each figure's data (its traces) as the page hands them to Plotly.newPlot."""
    found = {}
    decoder = json.JSONDecoder()
    for match in re.finditer(r'Plotly\.newPlot\(\s*"figure-(\w+)",\s*', text):
        found[match[1]], _ = decoder.raw_decode(text, match.end())
    return found


def test_the_page_is_self_contained(cli_home: Path) -> None:
    text = publish_and_report(cli_home).read_text(encoding="utf-8")
    markup = Markup()
    markup.feed(text)
    tags = {tag for tag, _ in markup.tags}
    assert not tags & {"link", "img", "iframe", "object", "embed", "base", "source", "audio", "video", "form"}
    assert all("src" not in attrs and "href" not in attrs for _, attrs in markup.tags)
    bundle = get_plotlyjs()
    assert [script for script in markup.scripts if script == bundle] == [bundle]  # inlined once, unchanged
    rest = text.replace(bundle, "")
    assert len(rest) < len(text) - 1_000_000
    for reference in ("http:", "https:", "//cdn", "url(", "@import", "ftp:", "ws:", "wss:"):
        assert reference not in rest.lower(), reference
    assert set(figures(text)) == set(FIGURES)


def test_the_figures_and_tables_match_the_warehouse(cli_home: Path) -> None:
    text = publish_and_report(cli_home).read_text(encoding="utf-8")
    shown = figures(text)
    with duckdb.connect(str(cli_home / "warehouse.duckdb"), read_only=True) as warehouse:

        def column(sql: str) -> list[Any]:
            return [row[0] for row in warehouse.execute(sql).fetchall()]

        funnel = warehouse.execute(
            f"SELECT {', '.join(f'sum({s})' for s in FUNNEL_STAGES)} FROM mart_funnel"
        ).fetchone()
        arms = "FROM mart_campaign_variants ORDER BY campaign_id, step, arm_rank"
        reply_rates = column(f"SELECT reply_rate {arms}")
        reply_highs = column(f"SELECT reply_rate_high - reply_rate {arms}")
        interested_rates = column(f"SELECT interested_rate {arms}")
        intents = warehouse.execute(
            "SELECT intent, sum(replies) AS n FROM mart_reply_intents GROUP BY intent ORDER BY n DESC, intent"
        ).fetchall()
        costs = warehouse.execute(
            "SELECT provider, cost_units FROM mart_provider_costs WHERE NOT is_total ORDER BY provider"
        ).fetchall()
        anna = warehouse.execute(
            "SELECT CAST(day AS VARCHAR), sent, cap, rolling_bounce_rate FROM mart_inbox_health"
            " WHERE inbox = 'anna@jengu.test' ORDER BY day"
        ).fetchall()
    assert shown["funnel"][0]["x"] == [int(v) for v in funnel]
    assert shown["funnel"][0]["x"] == [12, 11, 10, 8, 6, 2, 1]
    reply, interested = shown["variants"]
    assert reply["y"] == pytest.approx(reply_rates)
    assert reply["error_y"]["array"] == pytest.approx(reply_highs)
    assert interested["y"] == pytest.approx(interested_rates)
    assert reply["x"] == ["solo · step 1 · (none)", "spring · step 1 · a", "spring · step 1 · b", "spring · step 2 · a"]
    assert list(zip(shown["reply_intents"][0]["x"], shown["reply_intents"][0]["y"], strict=True)) == intents
    assert list(zip(shown["provider_costs"][0]["x"], shown["provider_costs"][0]["y"], strict=True)) == costs
    traces = {trace["name"]: trace for trace in shown["inbox_health"]}
    assert traces["anna@jengu.test sent"]["x"] == [day for day, *_ in anna]
    assert traces["anna@jengu.test sent"]["y"] == [sent for _, sent, _, _ in anna]
    assert traces["anna@jengu.test cap"]["y"] == [cap for _, _, cap, _ in anna]
    assert traces["anna@jengu.test bounce rate"]["y"] == pytest.approx([rate for *_, rate in anna])
    # the tables behind the charts carry the same figures
    assert "<tr><td>interested</td><td>1</td><td>8.3%</td></tr>" in text
    assert "<tr><td>spring · step 1 · a</td><td>2</td><td>1</td><td>50.0%</td>" in text
    assert "<tr><td>(all providers)</td><td>11</td><td>8</td><td>2</td><td>1</td><td>8</td>" in text


def test_store_text_cannot_break_out_of_the_page(seeded: CrmStore, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(seeded, path, built_at=seeded.query("SELECT now() AS t")["t"][0])
    with duckdb.connect(str(path)) as warehouse:  # what a hostile campaign or inbox name would put there
        warehouse.execute("UPDATE mart_campaign_variants SET campaign_id = ? WHERE campaign_id = 'solo'", [HOSTILE])
        warehouse.execute("UPDATE mart_inbox_health SET inbox = ? WHERE inbox = 'ben@jengu.test'", [HOSTILE])
    out = tmp_path / "report.html"
    write_report(path, out)
    text = out.read_text(encoding="utf-8")
    assert HOSTILE not in text
    assert "attacker.example" in text  # it is there, as text only
    markup = Markup()
    markup.feed(text)
    assert all(tag != "img" for tag, _ in markup.tags)
    assert len(markup.scripts) == 1 + len(FIGURES)  # plotly.js, then one per figure
    assert HOSTILE in figures(text)["variants"][0]["x"][0]


def test_an_empty_store_reports_nothing_to_chart(store: CrmStore, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    publish_warehouse(store, path, built_at=store.query("SELECT now() AS t")["t"][0])
    out = tmp_path / "report.html"
    write_report(path, out)
    text = out.read_text(encoding="utf-8")
    assert figures(text) == {}
    assert text.count("Nothing to chart yet.") == len(FIGURES)


def test_report_without_a_published_warehouse_says_so(jengu_home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "report.html")])
    assert result.exit_code == 1
    assert "no warehouse published yet (run `jengu warehouse publish`)" in result.output
    assert not (tmp_path / "report.html").exists()


def browser_visit(page_path: Path) -> dict[str, Any]:
    """Open the page in headless Chromium with the network cut: what it requested, logged and drew."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.route(
                "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
            )
            page.on("request", lambda request: requests.append(request.url))
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(page_path.as_uri())
            page.wait_for_function(
                f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(FIGURES)}", timeout=60_000
            )
            drawn = page.evaluate(
                "Object.fromEntries(Array.from(document.querySelectorAll('.js-plotly-plot'))"
                ".map(d => [d.id, {traces: d.data.length, marks: d.querySelectorAll('.trace').length, x: d.data[0].x}]))"
            )
            title = page.title()
        finally:
            browser.close()
    return {"requests": requests, "problems": problems, "drawn": drawn, "title": title}


def test_chromium_renders_every_chart_with_no_error_and_no_request(cli_home: Path) -> None:
    if not Path(CHROMIUM).exists():
        missing_service("no Debian chromium at /usr/bin/chromium (apt-get install chromium)")
    out = publish_and_report(cli_home)
    seen = browser_visit(out)
    assert seen["requests"] == [out.as_uri()]
    assert seen["problems"] == []
    assert seen["title"] == "Jengu outreach report"
    drawn = seen["drawn"]
    assert set(drawn) == {f"figure-{key}" for key in FIGURES}
    assert all(figure["marks"] >= figure["traces"] > 0 for figure in drawn.values()), drawn
    assert drawn["figure-funnel"]["x"] == [12, 11, 10, 8, 6, 2, 1]
