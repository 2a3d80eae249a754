"""The warehouse built from a seeded store on DuckDB and PostgreSQL: every mart's figures worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from jengu_pipeline.domain.inboxes import SendingRules
from jengu_pipeline.domain.stats import two_proportion_test, wilson_interval
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.warehouse import BUILD_TABLE, WAREHOUSE_TABLES, publish_warehouse

BUILT_AT = datetime(2025, 2, 1, 6, 0, tzinfo=UTC)
ANNA, BEN = "anna@jengu.test", "ben@jengu.test"


def publish(store: CrmStore, path: Path, **options: Any) -> duckdb.DuckDBPyConnection:
    publish_warehouse(store, path, built_at=BUILT_AT, **options)
    return duckdb.connect(str(path), read_only=True)


def rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in connection.execute(sql).fetchall()]


def test_published_tables_and_build_row(seeded: CrmStore, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    result = publish_warehouse(seeded, path, built_at=BUILT_AT)
    assert result.path == path
    assert list(result.tables) == list(WAREHOUSE_TABLES)
    assert result.tables["dim_prospects"] == 12
    assert result.tables["fct_sends"] == 8
    assert result.tables["fct_replies"] == 7
    assert result.tables["fct_provider_calls"] == 11
    assert result.snapshot.ledger == {"sent": 6, "bounced": 1, "unknown": 1}
    with duckdb.connect(str(path), read_only=True) as warehouse:
        tables = {row[0] for row in warehouse.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert tables == {*WAREHOUSE_TABLES, BUILD_TABLE}  # no staging table leaks into the published file
        built = warehouse.execute(f"SELECT built_at, ledger_sent, store_backend FROM {BUILD_TABLE}").fetchone()
        assert built == (BUILT_AT, 7, seeded.backend)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_dim_prospects_reach_the_stages_worked_out_by_hand(seeded: CrmStore, tmp_path: Path) -> None:
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb")
    stages = dict(rows(warehouse, "SELECT prospect_id, funnel_stage FROM dim_prospects"))
    # p01 interested; p02 not_interested; p03 sent + auto-reply; p04 bounced; p05 unknown send, queued message;
    # p06 rejected message; p07 sent; p08 nothing; p09 sent, reply unclassified; p10 website, invalid address;
    # p11 address from the import only; p12 address from the import and a message awaiting approval.
    assert stages == {
        "p01": 6,
        "p02": 5,
        "p03": 4,
        "p04": 4,
        "p05": 3,
        "p06": 2,
        "p07": 4,
        "p08": 0,
        "p09": 4,
        "p10": 1,
        "p11": 2,
        "p12": 3,
    }
    campaigns = dict(rows(warehouse, "SELECT prospect_id, campaign_id FROM dim_prospects"))
    assert {p for p, c in campaigns.items() if c is None} == {"p08", "p10", "p11"}
    assert campaigns["p09"] == campaigns["p12"] == "solo"
    assert rows(
        warehouse, "SELECT email_domain, website_confidence, import_week FROM dim_prospects WHERE prospect_id = 'p01'"
    ) == [("hotel-p01.test", 0.9, date(2025, 1, 6))]


def test_mart_funnel(seeded: CrmStore, tmp_path: Path) -> None:
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb")
    found = rows(
        warehouse,
        "SELECT batch_id, campaign_id, import_week, imported, website_found, email_verified,"
        " message_ready, sent, replied, interested, email_ok, email_risky FROM mart_funnel"
        " ORDER BY batch_id, campaign_id NULLS FIRST",
    )
    assert found == [
        ("b1", None, date(2025, 1, 6), 1, 0, 0, 0, 0, 0, 0, 0, 0),
        ("b1", "spring", date(2025, 1, 6), 7, 7, 7, 6, 5, 2, 1, 6, 1),
        ("b2", None, date(2025, 1, 13), 2, 2, 1, 0, 0, 0, 0, 1, 0),
        ("b2", "solo", date(2025, 1, 13), 2, 2, 2, 2, 1, 0, 0, 2, 0),
    ]
    spring = rows(
        warehouse, "SELECT sent_rate, reply_rate, interested_rate FROM mart_funnel WHERE campaign_id = 'spring'"
    )
    assert spring == [(5 / 7, 2 / 5, 1 / 5)]
    assert rows(warehouse, "SELECT reply_rate FROM mart_funnel WHERE batch_id = 'b1' AND campaign_id IS NULL") == [
        (None,)
    ]


def test_mart_campaign_variants(seeded: CrmStore, tmp_path: Path) -> None:
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb")
    found = rows(
        warehouse,
        "SELECT campaign_id, step, variant, arm_rank, is_baseline, baseline_variant, sent, bounced,"
        " replies, interested FROM mart_campaign_variants",
    )
    # spring step 1: arm a sent s01 and s03 (s05 is unknown, not sent), one interested reply; arm b sent s02, s04
    # (bounced) and s06, one not_interested reply; step 2 only s07 (arm a); solo has no arms.
    assert found == [
        ("solo", 1, "(none)", 1, True, "(none)", 1, 0, 0, 0),
        ("spring", 1, "a", 1, True, "a", 2, 0, 1, 1),
        ("spring", 1, "b", 2, False, "a", 3, 1, 1, 0),
        ("spring", 2, "a", 1, True, "a", 1, 0, 0, 0),
    ]
    a, b = (
        dict(zip(("rate", "low", "high", "z", "p", "irate", "ilow", "ihigh", "iz", "ip", "diff"), row, strict=True))
        for row in rows(
            warehouse,
            "SELECT reply_rate, reply_rate_low, reply_rate_high, reply_z, reply_p_value,"
            " interested_rate, interested_rate_low, interested_rate_high, interested_z,"
            " interested_p_value, reply_rate_diff FROM mart_campaign_variants"
            " WHERE campaign_id = 'spring' AND step = 1 ORDER BY arm_rank",
        )
    )
    assert (a["rate"], round(a["low"], 4), round(a["high"], 4)) == (0.5, 0.0945, 0.9055)  # Wilson 1 of 2
    assert a["z"] is None
    assert a["p"] is None
    assert a["diff"] is None
    one_of_three = wilson_interval(1, 3)
    assert one_of_three is not None
    assert (b["rate"], b["low"], b["high"]) == (1 / 3, one_of_three.low, one_of_three.high)
    test = two_proportion_test(1, 2, 1, 3)
    assert test is not None
    assert (b["z"], b["p"], b["diff"]) == pytest.approx((test.z, test.p_value, 1 / 3 - 1 / 2))
    assert round(b["z"], 4) == -0.3727  # (1/3 - 1/2) / sqrt(0.4 * 0.6 * (1/2 + 1/3))
    assert (b["irate"], b["ilow"]) == (0.0, 0.0)
    interested = two_proportion_test(1, 2, 0, 3)
    assert interested is not None
    assert (b["iz"], b["ip"]) == pytest.approx((interested.z, interested.p_value))


def test_mart_inbox_health(seeded: CrmStore, tmp_path: Path) -> None:
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb")
    found = rows(
        warehouse,
        "SELECT inbox, day, cap, warmup_stage, sent, counted_against_cap, risky_sent,"
        " hard_bounces, soft_bounces, rolling_window_sends, rolling_hard_bounces,"
        " rolling_bounce_rate, pauses, resumes, paused_at_day_end FROM mart_inbox_health",
    )
    d = date
    # Anna warms up from 2025-01-01 by 5/10/15/20/25 a week (ceiling 30): day 19 is stage 3 (15), day 21 stage 4 (20).
    # On the 20th she sent s01-s04 (s04 bounced) and claimed s05 (unknown: counted against the cap, not sent);
    # paused on the 21st, resumed on the 22nd, s07 on the 23rd: her last 100 sends hold 1 bounce in 4, then in 5.
    # Ben warmed up from 2024-12-01 (ceiling 50): 7 weeks on, 25 + 5 * 3 = 40 a day, stage 8. s06 (risky) on the
    # 20th, s08 on the 21st, and the soft bounce of s06 arrived on the 22nd.
    assert found == [
        (ANNA, d(2025, 1, 20), 15, 3, 4, 5, 0, 1, 0, 4, 1, 0.25, 0, 0, False),
        (ANNA, d(2025, 1, 21), 15, 3, 0, 0, 0, 0, 0, 4, 1, 0.25, 1, 0, True),
        (ANNA, d(2025, 1, 22), 20, 4, 0, 0, 0, 0, 0, 4, 1, 0.25, 0, 1, False),
        (ANNA, d(2025, 1, 23), 20, 4, 1, 1, 0, 0, 0, 5, 1, 0.2, 0, 0, False),
        (BEN, d(2025, 1, 20), 40, 8, 1, 1, 1, 0, 0, 1, 0, 0.0, 0, 0, False),
        (BEN, d(2025, 1, 21), 40, 8, 1, 1, 0, 0, 0, 2, 0, 0.0, 0, 0, False),
        (BEN, d(2025, 1, 22), 40, 8, 0, 0, 0, 0, 1, 2, 0, 0.0, 0, 0, False),
    ]
    assert rows(
        warehouse, "SELECT cap_used_rate FROM mart_inbox_health WHERE day = DATE '2025-01-20' ORDER BY inbox"
    ) == [(5 / 15,), (1 / 40,)]


def test_mart_inbox_health_rolls_over_the_last_100_sends(store: CrmStore, tmp_path: Path) -> None:
    """150 sends, the first 10 bounced: by the last day the bounces have left the window of 100."""

    def write(tx: Any) -> None:
        tx.execute("INSERT INTO inboxes (inbox, daily_cap, warmup_start) VALUES (?, 50, ?)", [ANNA, date(2024, 1, 1)])
        for index in range(150):
            prospect = f"q{index:03d}"
            claimed = datetime(2025, 3, 3 + index // 50, 9, index % 50, tzinfo=UTC)
            tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES (?)", [prospect])
            tx.execute(
                "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
                " rfc_message_id, status, claimed_at, sent_at) VALUES (?, ?, 'c', 1, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f"x{index:03d}",
                    prospect,
                    f"m{index}",
                    ANNA,
                    f"{prospect}@h.test",
                    f"<{index}@j.test>",
                    "bounced" if index < 10 else "sent",
                    claimed,
                    claimed,
                ],
            )

    store.run(write)
    warehouse = publish(store, tmp_path / "warehouse.duckdb")
    assert rows(
        warehouse,
        "SELECT day, sent, hard_bounces, rolling_window_sends, rolling_hard_bounces,"
        " rolling_bounce_rate FROM mart_inbox_health ORDER BY day",
    ) == [
        (date(2025, 3, 3), 50, 10, 50, 10, 0.2),
        (date(2025, 3, 4), 50, 0, 100, 10, 0.1),
        (date(2025, 3, 5), 50, 0, 100, 0, 0.0),
    ]


def test_mart_provider_costs(seeded: CrmStore, tmp_path: Path) -> None:
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb")
    found = rows(
        warehouse,
        "SELECT provider, is_total, calls, ok_calls, cache_hits, failed_calls, cost_units,"
        " websites_found, verified_emails, sent_messages, cost_per_website_found,"
        " cost_per_verified_email, cost_per_sent_message, cache_hit_rate FROM mart_provider_costs",
    )
    # 9 prospects have a website row (p01-p07, p09, p10), 10 an ok or risky address, 7 sends reached a server.
    assert found == [
        ("brave", False, 5, 3, 1, 1, 3, 9, 10, 7, 3 / 9, 3 / 10, 3 / 7, 1 / 5),
        ("millionverifier", False, 6, 5, 1, 0, 5, 9, 10, 7, 5 / 9, 5 / 10, 5 / 7, 1 / 6),
        ("(all providers)", True, 11, 8, 2, 1, 8, 9, 10, 7, 8 / 9, 8 / 10, 8 / 7, 2 / 11),
    ]


def test_mart_reply_intents_and_fct_replies(seeded: CrmStore, tmp_path: Path) -> None:
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb")
    assert rows(
        warehouse,
        "SELECT campaign_id, intent, is_human, replies, prospects, intent_share"
        " FROM mart_reply_intents ORDER BY campaign_id NULLS FIRST, intent",
    ) == [
        (None, "other", True, 1, 0, 1.0),
        ("solo", "unclassified", False, 1, 1, 1.0),
        ("spring", "auto_reply", False, 1, 1, 0.2),
        ("spring", "bounce_hard", False, 1, 1, 0.2),
        ("spring", "bounce_soft", False, 1, 1, 0.2),
        ("spring", "interested", True, 1, 1, 0.2),
        ("spring", "not_interested", True, 1, 1, 0.2),
    ]
    assert rows(
        warehouse,
        "SELECT reply_id, variant, inbox, hours_after_send, failed_recipients,"
        " hard_failed_recipients FROM fct_replies WHERE reply_id IN ('r2', 'r4', 'r5')"
        " ORDER BY reply_id",
    ) == [("r2", "b", ANNA, 24.0, 0, 0), ("r4", "b", ANNA, 1.75, 1, 1), ("r5", "b", BEN, 45.0, 1, 0)]


def test_mart_time_to_reply(seeded: CrmStore, tmp_path: Path) -> None:
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb")
    # Human first replies: s01 after 6 h (interested), s02 after 24 h (not_interested); the auto-reply, the bounces,
    # the unclassified reply and the unmatched one do not count.
    expected = (2, 15.0, 19.5, 22.2, 15.0, 6.0, 24.0)
    found = rows(
        warehouse,
        "SELECT campaign_id, step, is_total, replied_sends, p50_hours, p75_hours, p90_hours,"
        " mean_hours, min_hours, max_hours FROM mart_time_to_reply",
    )
    assert [(c, s, t) for c, s, t, *_ in found] == [("spring", 1, False), (None, None, True)]
    for row in found:
        assert row[3:] == pytest.approx(expected)
    assert rows(
        warehouse,
        "SELECT send_id, first_reply_intent, hours_to_first_reply FROM fct_sends"
        " WHERE hours_to_first_reply IS NOT NULL ORDER BY send_id",
    ) == [("s01", "interested", 6.0), ("s02", "not_interested", 24.0)]


def test_dim_campaigns_and_fct_sends(seeded: CrmStore, tmp_path: Path) -> None:
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb")
    assert rows(
        warehouse,
        "SELECT campaign_id, status, steps, variants, members_ever, members FROM dim_campaigns ORDER BY campaign_id",
    ) == [("solo", "active", 1, None, 2, 2), ("spring", "active", 2, "a, b", 7, 7)]
    assert rows(
        warehouse,
        "SELECT status, count(*), count(*) FILTER (WHERE is_sent),"
        " count(*) FILTER (WHERE counts_against_cap) FROM fct_sends GROUP BY status"
        " ORDER BY status",
    ) == [("bounced", 1, 1, 1), ("sent", 6, 6, 6), ("unknown", 1, 0, 1)]
    assert rows(
        warehouse,
        "SELECT send_id, variant, recipient_domain, send_day FROM fct_sends"
        " WHERE send_id IN ('s07', 's08') ORDER BY send_id",
    ) == [("s07", "a", "hotel-p01.test", date(2025, 1, 23)), ("s08", None, "hotel-p09.test", date(2025, 1, 21))]


def test_small_pages_copy_the_same_rows(seeded: CrmStore, tmp_path: Path) -> None:
    """Keyset pages of 2 rows (composite keys for members) give the same warehouse as one page per table."""
    whole = publish(seeded, tmp_path / "whole.duckdb")
    paged = publish(seeded, tmp_path / "paged.duckdb", page_rows=2)
    for table in WAREHOUSE_TABLES:
        order = ", ".join(str(i + 1) for i in range(len(whole.execute(f"SELECT * FROM {table} LIMIT 0").description)))
        expected = rows(whole, f"SELECT * FROM {table} ORDER BY {order}")
        assert rows(paged, f"SELECT * FROM {table} ORDER BY {order}") == expected, table


def test_sending_days_follow_the_schedule_time_zone(seeded: CrmStore, tmp_path: Path) -> None:
    """s08 was claimed at 09:00 UTC on the 21st, which is still the 20th in Honolulu (UTC-10)."""
    warehouse = publish(seeded, tmp_path / "warehouse.duckdb", rules=SendingRules(schedule_timezone="Pacific/Honolulu"))
    assert rows(warehouse, "SELECT send_day FROM fct_sends WHERE send_id = 's08'") == [(date(2025, 1, 20),)]
    assert rows(
        warehouse, "SELECT day, sent FROM mart_inbox_health WHERE inbox = ? ORDER BY day".replace("?", f"'{BEN}'")
    ) == [(date(2025, 1, 20), 2), (date(2025, 1, 21), 0)]
