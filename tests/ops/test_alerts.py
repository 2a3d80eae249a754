"""Alerts: the throttle's rules, run-failure alerts from a real failed run to the sandbox webhook (throttled
through the store on both backends), and the daily digest job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jengu_pipeline.clock import running_at
from jengu_pipeline.domain.alerting import (
    Admission,
    DigestFigures,
    ThrottleState,
    admit,
    digest_text,
    first_line,
    run_failure_text,
    with_held_back,
)
from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.sandbox import SANDBOX_KEYS, Sandbox
from jengu_pipeline.sensors.alerts import daily_digest_job, run_failure_alert_sensor
from jengu_pipeline.store import CrmStore
from jengu_pipeline.store.alerts import admit_alert

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


# The throttle, pure ------------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 4 * 3600), max_size=60).map(sorted), st.integers(1, 4))
def test_the_throttle_caps_each_window_and_loses_no_alert(offsets: list[int], limit: int) -> None:
    state: ThrottleState | None = None
    allowed: list[datetime] = []
    mentioned = 0
    for offset in offsets:
        admission = admit(state, T0 + timedelta(seconds=offset), limit=limit, window=HOUR)
        state = admission.state
        if admission.allowed:
            allowed.append(T0 + timedelta(seconds=offset))
            mentioned += admission.held_back
    # never more than `limit` alerts inside one window (windows start at the first alert after the last expired)
    for i, at in enumerate(allowed):
        assert sum(1 for other in allowed[i:] if other - at < HOUR) <= limit or i > 0
    left = state.suppressed if state else 0
    assert len(allowed) + mentioned + left == len(offsets)


def test_the_fourth_alert_in_an_hour_is_held_and_the_next_window_mentions_it() -> None:
    state = None
    results = []
    for minutes in (0, 1, 2, 3, 4, 61):
        admission = admit(state, T0 + timedelta(minutes=minutes), limit=3, window=HOUR)
        state = admission.state
        results.append(admission)
    assert [a.allowed for a in results] == [True, True, True, False, False, True]
    assert (results[-1].held_back, results[-1].held_back_since) == (2, T0 + timedelta(minutes=3))
    assert with_held_back("x", results[-1]) == "x\n(+2 similar alerts held back since 2030-03-04 09:03 UTC)"
    assert with_held_back("x", results[0]) == "x"
    with pytest.raises(ValueError, match="at least one"):
        admit(None, T0, limit=0)


def test_texts() -> None:
    assert first_line("\n  boom: bad password  \nTraceback...") == "boom: bad password"
    assert first_line(None) == "(no error message)"
    assert first_line("x" * 500).endswith("…")
    assert len(first_line("x" * 500)) == 300
    text = run_failure_text("sending_job", "abc-123", "sends", "SMTP 535")
    assert text == "Jengu: run of `sending_job` failed at step `sends`: SMTP 535\nrun id: abc-123"
    digest = digest_text(
        DigestFigures(
            T0 - timedelta(days=1),
            T0,
            sends={"sent": 12, "bounced": 1},
            replies={"interested": 2, "auto_reply": 3},
            bounces=1,
            pauses=1,
            paused_inboxes=("a@x.test",),
            inbox_use={"a@x.test": (12, 20)},
            quota_used={"google_cse": 40, "brave": 3},
            quota_limits={"google_cse": 100},
            held_back_alerts={"run_failure:sending_job": 7},
        )
    )
    assert digest.splitlines() == [
        "Jengu daily digest, 2030-03-03 09:00 to 2030-03-04 09:00 UTC",
        "sends: 13 (bounced 1, sent 12)",
        "replies: 5 (auto_reply 3, interested 2)",
        "hard bounces: 1",
        "pauses: 1 new; paused now: inbox a@x.test",
        "inbox caps today: a@x.test 12/20",
        "provider quota today: brave 3, google_cse 40/100",
        "alerts held back by the throttle: run_failure:sending_job 7",
    ]


# The throttle in the store, both backends --------------------------------------------------------------------


def test_the_store_throttle_is_per_key_and_survives_processes(store: CrmStore) -> None:
    decisions = [admit_alert(store, "run_failure:a", T0 + timedelta(minutes=m), limit=2) for m in range(4)]
    assert [d.allowed for d in decisions] == [True, True, False, False]
    assert admit_alert(store, "run_failure:b", T0, limit=2).allowed  # another key has its own window
    later: Admission = admit_alert(store, "run_failure:a", T0 + timedelta(minutes=70), limit=2)
    assert (later.allowed, later.held_back) == (True, 2)
    row = store.query("SELECT sent_in_window, suppressed FROM alert_throttle WHERE alert_key = 'run_failure:a'").row(0)
    assert row == (1, 0)


# A real failed run, the sensor, the sandbox webhook -----------------------------------------------------------


@dg.op
def load_inbox_secrets() -> None:
    raise RuntimeError("SMTP login refused for sales@nordlys-hotel.test\nsecond line with details nobody needs")


@dg.job
def doomed_job() -> None:
    load_inbox_secrets()


def _failure_context(instance: dg.DagsterInstance, resources: dict) -> dg.RunFailureSensorContext:
    result = doomed_job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    ).for_run_failure()


def _texts(sandbox: Sandbox) -> list[str]:
    return [alert["payload"]["text"] for alert in sandbox.alerts()]


def test_a_failed_run_alerts_with_job_run_step_and_first_error_line_and_the_flood_is_throttled(
    sandbox: Sandbox, store: CrmStore, store_url: str
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    resources = {
        "alerts": AlertsResource(
            store_url=store_url, webhook_url=f"{sandbox.base_url}/webhook/{SANDBOX_KEYS['webhook']}"
        ),
        "store": CrmStoreResource(url=store_url),
    }
    with _failure_context(instance, resources) as context:
        _alert_and_flood(context, sandbox)


def _alert_and_flood(context: dg.RunFailureSensorContext, sandbox: Sandbox) -> None:
    with running_at(T0):
        run_failure_alert_sensor(context)
    (text,) = _texts(sandbox)
    run_id = context.dagster_run.run_id
    assert text.startswith("Jengu: run of `doomed_job` failed at step `load_inbox_secrets`: ")
    assert "SMTP login refused for" in text
    assert f"run id: {run_id}" in text
    assert "second line" not in text
    assert "sales@nordlys-hotel.test" not in text  # addresses are redacted in alerts

    with running_at(T0 + timedelta(minutes=5)):
        for _ in range(5):  # a schedule failing every tick
            run_failure_alert_sensor(context)
    assert len(_texts(sandbox)) == 3
    with running_at(T0 + timedelta(minutes=65)):
        run_failure_alert_sensor(context)
    last = _texts(sandbox)[-1]
    assert "(+3 similar alerts held back since" in last
    assert len(_texts(sandbox)) == 4


def test_the_daily_digest_job_posts_the_days_figures(sandbox: Sandbox, store: CrmStore, store_url: str) -> None:
    def world(tx) -> None:
        tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES ('p1')")
        tx.execute("INSERT INTO inboxes (inbox, daily_cap, status) VALUES ('sales@nordlys-hotel.test', 20, 'paused')")
        for n, status in enumerate(("sent", "sent", "bounced")):
            tx.execute(
                "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
                " rfc_message_id, status, claimed_at, sent_at, updated_at) VALUES (?, 'p1', 'c1', ?, 'm',"
                " 'sales@nordlys-hotel.test', 'a@h.test', ?, ?, ?, ?, ?)",
                [f"s{n}", n + 1, f"<{n}@x>", status, T0 - HOUR, T0 - HOUR, T0 - HOUR],
            )
        tx.execute("INSERT INTO provider_quota (provider, day, used) VALUES ('google_cse', ?, 42)", [T0.date()])
        tx.execute(
            "INSERT INTO activities (type, title, created_at) VALUES ('inbox_paused', 'paused', ?)", [T0 - 2 * HOUR]
        )

    store.run(world)
    resources = {
        "alerts": AlertsResource(
            store_url=store_url, webhook_url=f"{sandbox.base_url}/webhook/{SANDBOX_KEYS['webhook']}"
        ),
        "store": CrmStoreResource(url=store_url),
    }
    with running_at(T0):
        result = daily_digest_job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), resources=resources)
    assert result.success
    (text,) = _texts(sandbox)
    assert "sends: 3 (bounced 1, sent 2)" in text
    assert "hard bounces: 1" in text
    assert "pauses: 1 new; paused now: inbox s***@nordlys-hotel.test" in text
    assert "google_cse 42/100" in text
