"""The one-click receiver over real HTTP: the URL from a really sent message's List-Unsubscribe header, POSTed
to the running server, suppresses at once; nothing else does (GET, forged tokens, forms without CSRF, floods).
Each test runs on DuckDB and PostgreSQL."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import dkim
import httpx
import pytest
from click.testing import CliRunner
from smtp_faults import FaultySmtpServer

from jengu_pipeline.domain.inboxes import parse_inbox_file
from jengu_pipeline.domain.unsubscribe import TokenSigner
from jengu_pipeline.resources.sending import Sender, SendingConfigError, simulated_clock
from jengu_pipeline.store import CrmStore
from tests.conftest import missing_service
from tests.unsubscribe.conftest import (
    NOW,
    SECRET,
    SentMessage,
    header_url,
    inbox_yaml,
    seed_queue,
    send_tick,
)

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def one_click(http: httpx.Client, url: str, method: str = "POST") -> httpx.Response:
    """What a mailbox provider sends when its user presses Unsubscribe (RFC 8058)."""
    return http.request(method, url, content=b"List-Unsubscribe=One-Click", headers=FORM)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, follow_redirects=False) as client:
        yield client


def rows(store: CrmStore, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return store.run(lambda tx: tx.fetch_all(sql, params or []))


def state(store: CrmStore) -> dict[str, list[tuple[Any, ...]]]:
    """Everything an unsubscribe may change."""
    return {
        "suppressions": rows(store, "SELECT email, reason, source FROM suppressions ORDER BY email, reason"),
        "activities": rows(
            store,
            "SELECT prospect_id, type, title FROM activities WHERE type NOT IN"
            " ('email_sent', 'flag_set') ORDER BY activity_id",
        ),
        "events": rows(store, "SELECT send_id, method, outcome FROM unsubscribe_events ORDER BY event_id"),
        "stages": rows(store, "SELECT prospect_id, stage FROM prospects ORDER BY prospect_id"),
        "members": rows(store, "SELECT prospect_id, stopped_at, stop_reason FROM campaign_members ORDER BY 1"),
    }


def unsubscribed(store: CrmStore, message: SentMessage) -> bool:
    return bool(
        rows(store, "SELECT 1 FROM suppressions WHERE email = ? AND reason = 'unsubscribe'", [message.recipient])
    )


# ---------------------------------------------------------------------------------------------- one click


def test_a_post_of_the_headers_url_suppresses_at_once_and_a_replay_changes_nothing(
    store: CrmStore, sent: list[SentMessage], receiver: str, http: httpx.Client
) -> None:
    first, second, third = sent
    assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert urlsplit(first.url).query.startswith("t=v1.")

    answer = one_click(http, first.on(receiver))
    assert answer.status_code == 200
    assert unsubscribed(store, first)
    assert rows(store, "SELECT source FROM suppressions WHERE email = ?", [first.recipient]) == [
        (f"one_click:{first.send_id}",)
    ]
    assert rows(store, "SELECT stage FROM prospects WHERE prospect_id = ?", [first.prospect_id]) == [("unsubscribed",)]
    ((stopped_at, reason),) = rows(
        store, "SELECT stopped_at, stop_reason FROM campaign_members WHERE prospect_id = ?", [first.prospect_id]
    )
    assert stopped_at is not None
    assert reason == "one_click:unsubscribe"
    assert not unsubscribed(store, second)
    assert not unsubscribed(store, third)
    after_first = state(store)

    replay = one_click(http, first.on(receiver))
    assert replay.status_code == 200
    again = state(store)
    assert {k: v for k, v in again.items() if k != "events"} == {k: v for k, v in after_first.items() if k != "events"}
    assert [row[1:] for row in again["events"]] == [("one_click", "suppressed"), ("one_click", "already_suppressed")]

    # Mailbox providers may send the same field as multipart/form-data (RFC 8058 allows both encodings).
    multipart = http.post(second.on(receiver), files={"List-Unsubscribe": (None, "One-Click")})
    assert multipart.status_code == 200
    assert unsubscribed(store, second)
    assert not unsubscribed(store, third)


def test_an_unsubscribe_takes_effect_before_the_next_send(
    store: CrmStore, sent: list[SentMessage], receiver: str, http: httpx.Client
) -> None:
    first = sent[0]
    assert one_click(http, first.on(receiver)).status_code == 200
    store.run(
        lambda tx: tx.execute(
            "INSERT INTO messages (message_id, prospect_id, campaign_id, step, subject, body, status)"
            " SELECT 'msg_follow_up', prospect_id, campaign_id, 2, 'Following up', body, 'queued' FROM messages"
            " WHERE prospect_id = ? AND step = 1",
            [first.prospect_id],
        )
    )
    with FaultySmtpServer() as server:
        report = send_tick(store, server, [("mia@jengu.test", "Mia from Jengu")])
        assert server.messages == []
    assert report["outcomes"] == {}
    assert rows(store, "SELECT count(*) FROM sends WHERE prospect_id = ?", [first.prospect_id]) == [(1,)]


# ---------------------------------------------------------------------------------------------- the page


def test_get_shows_a_confirmation_page_and_never_unsubscribes_but_its_button_does(
    store: CrmStore, sent: list[SentMessage], receiver: str, http: httpx.Client
) -> None:
    first = sent[0]
    before = state(store)
    for _ in range(3):  # a mail scanner prefetching the link, a person opening it twice
        page = http.get(first.on(receiver))
        assert page.status_code == 200
        assert http.head(first.on(receiver)).status_code == 200
    assert state(store) == before
    assert page.headers["content-type"].startswith("text/html")
    assert "g***@hotel0.test" in page.text
    assert first.recipient not in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "server" not in page.headers

    form = dict(re.findall(r'name="(nonce|csrf)" value="([^"]+)"', page.text))
    (action,) = re.findall(r'action="([^"]+)"', page.text)
    assert set(form) == {"nonce", "csrf"}
    assert http.post(f"{receiver}/u{action}", data=form).status_code == 200
    assert unsubscribed(store, first)
    assert rows(store, "SELECT method, outcome FROM unsubscribe_events") == [("confirm_page", "suppressed")]
    done = http.get(first.on(receiver))
    assert done.status_code == 200
    assert "<form" not in done.text
    assert "unsubscribed" in done.text


@pytest.mark.parametrize(
    "form",
    [
        {},
        {"nonce": "1790000000.00000000000000000000000000000000"},
        {"nonce": "1790000000.00000000000000000000000000000000", "csrf": "A" * 43},
        {"List-Unsubscribe": "one-click"},
        {"List-Unsubscribe": ["One-Click", "One-Click"]},
    ],
)
def test_a_form_without_a_valid_csrf_value_is_refused(
    store: CrmStore, sent: list[SentMessage], receiver: str, http: httpx.Client, form: dict[str, Any]
) -> None:
    before = state(store)
    answer = http.post(sent[0].on(receiver), content=urlencode(form, doseq=True), headers=FORM)
    assert answer.status_code == 403
    assert state(store) == before


def test_a_confirmation_form_from_another_sends_page_is_refused(
    store: CrmStore, sent: list[SentMessage], receiver: str, http: httpx.Client
) -> None:
    first, second = sent[:2]
    page = http.get(second.on(receiver)).text
    form = dict(re.findall(r'name="(nonce|csrf)" value="([^"]+)"', page))
    before = state(store)
    assert http.post(first.on(receiver), data=form).status_code == 403
    assert state(store) == before


def test_values_shown_on_the_page_are_escaped(store: CrmStore, receiver: str, http: httpx.Client) -> None:
    hostile = 'x@"><img src=x onerror=alert(1)><script>.test'

    def insert(tx: Any) -> None:
        tx.execute("INSERT INTO prospect_registry (prospect_id) VALUES ('pr_hostile')")
        tx.execute(
            "INSERT INTO sends (send_id, prospect_id, campaign_id, step, message_id, inbox, recipient,"
            " rfc_message_id, status, claimed_at) VALUES ('snd_hostile', 'pr_hostile', 'c', 1, 'm',"
            " 'mia@jengu.test', ?, '<x@jengu.test>', 'sent', now())",
            [hostile],
        )

    store.run(insert)
    page = http.get(f"{receiver}/u?t={TokenSigner(SECRET).token('snd_hostile')}")
    assert page.status_code == 200
    assert "<img" not in page.text
    assert "<script" not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;" in page.text


# ---------------------------------------------------------------------------------------------- hostile input


def forged_urls(message: SentMessage, other: SentMessage, base: str) -> dict[str, str]:
    url = message.on(base)
    token = urlsplit(message.url).query.removeprefix("t=")
    version, send_id, signature = token.split(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    other_signature = urlsplit(other.url).query.rsplit(".", 1)[1]
    path = f"{base}{urlsplit(message.url).path}"
    return {
        "truncated": url[:-5],
        "one character changed": f"{path}?t={version}.{send_id}.{flipped}",
        "another send's signature": f"{path}?t={version}.{send_id}.{other_signature}",
        "signed with another secret": f"{path}?t={TokenSigner('x' * 40).token(send_id)}",
        "the old unsigned link": f"{path}?s={send_id}",
        "no token": path,
        "two tokens": f"{url}&t={token}",
        "another version": f"{path}?t=v2.{send_id}.{signature}",
        "garbage": f"{path}?t=%00%ff%3Cscript%3E" + "A" * 300,
    }


@pytest.mark.parametrize(
    "case",
    [
        "truncated",
        "one character changed",
        "another send's signature",
        "signed with another secret",
        "the old unsigned link",
        "no token",
        "two tokens",
        "another version",
        "garbage",
    ],
)
def test_forged_or_broken_tokens_get_a_4xx_and_change_nothing(
    store: CrmStore, sent: list[SentMessage], receiver: str, http: httpx.Client, case: str
) -> None:
    url = forged_urls(sent[0], sent[1], receiver)[case]
    before = state(store)
    posted = one_click(http, url)
    shown = http.get(url)
    assert 400 <= posted.status_code < 500
    assert 400 <= shown.status_code < 500
    assert "<form" not in shown.text
    assert state(store) == before


def test_a_genuine_token_for_a_send_that_does_not_exist_is_a_404(
    store: CrmStore, sent: list[SentMessage], receiver: str, http: httpx.Client
) -> None:
    url = f"{receiver}/u?t={TokenSigner(SECRET).token('snd_never_sent')}"
    before = state(store)
    assert http.get(url).status_code == 404
    assert one_click(http, url).status_code == 404
    assert state(store)["suppressions"] == before["suppressions"]


def test_oversized_and_unexpected_bodies_are_refused(
    store: CrmStore, sent: list[SentMessage], receiver: str, http: httpx.Client
) -> None:
    url = sent[0].on(receiver)
    before = state(store)
    padded = b"List-Unsubscribe=One-Click&pad=" + b"x" * 5000
    assert http.post(url, content=padded, headers=FORM).status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        yield b"List-Unsubscribe=One-Click&pad="
        for _ in range(100):
            yield b"y" * 1000

    assert http.post(url, content=chunked(), headers=FORM).status_code == 413
    assert http.post(url, json={"List-Unsubscribe": "One-Click"}).status_code == 415
    assert one_click(http, url, "PUT").status_code == 405
    assert state(store) == before
    assert one_click(http, url).status_code == 200, "the server still answers after the floods"


# ---------------------------------------------------------------------------------------------- secrets and DKIM


def test_the_receiver_refuses_to_start_without_a_secret(monkeypatch: pytest.MonkeyPatch, jengu_home: Path) -> None:
    from jengu_pipeline.cli import main

    monkeypatch.delenv("JENGU_UNSUBSCRIBE_SECRET", raising=False)
    result = CliRunner().invoke(main, ["unsubscribe", "serve", "--port", "0"])
    assert result.exit_code == 1
    assert "JENGU_UNSUBSCRIBE_SECRET is not set" in result.output
    assert not (jengu_home / "crm.duckdb").exists(), "it refused before opening the store"


def test_the_sending_tick_refuses_to_start_without_a_secret(
    store: CrmStore, secret_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_queue(store, 1)
    monkeypatch.delenv("JENGU_UNSUBSCRIBE_SECRET")
    with FaultySmtpServer() as server, pytest.raises(SendingConfigError, match="JENGU_UNSUBSCRIBE_SECRET is not set"):
        send_tick(store, server, [("mia@jengu.test", "Mia from Jengu")])
    assert rows(store, "SELECT count(*) FROM sends") == [(0,)]


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    openssl = shutil.which("openssl")
    if openssl is None:
        missing_service("no openssl command to make a DKIM key (Debian: apt-get install openssl)")
    assert openssl is not None
    path = tmp_path_factory.mktemp("dkim") / "private.pem"
    subprocess.run([openssl, "genrsa", "-out", str(path), "2048"], check=True, capture_output=True)
    public = subprocess.run(
        [openssl, "rsa", "-in", str(path), "-pubout", "-outform", "DER"], check=True, capture_output=True
    ).stdout
    return path.read_bytes(), public


def test_the_signed_link_is_inside_the_dkim_signature(
    store: CrmStore, secret_env: str, dkim_key: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    private_pem, public_der = dkim_key
    monkeypatch.setenv("JENGU_TEST_DKIM_KEY", private_pem.decode())
    seed_queue(store, 1)
    with FaultySmtpServer() as server:
        text = inbox_yaml(server.port, [("mia@jengu.test", "Mia from Jengu")]).replace(
            "  warmup_start: '2020-01-01'",
            "  warmup_start: '2020-01-01'\n  dkim_selector: s1\n  dkim_key_env: JENGU_TEST_DKIM_KEY",
        )
        config = parse_inbox_file(text, "test inboxes")
        assert config.inboxes[0].dkim_selector == "s1"
        Sender(store, config, alert=lambda _: None, clock=simulated_clock(NOW), claimed_by="t").tick()
        (stored,) = server.messages
    records = {b"s1._domainkey.jengu.test.": b"v=DKIM1; k=rsa; p=" + base64.b64encode(public_der)}

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        return records.get(name)

    assert dkim.verify(stored.raw, dnsfunc=dns)
    url = header_url(stored.raw)
    assert urlsplit(url).query.startswith("t=v1.")
    signed_headers = re.search(rb"h=([^;]+);", stored.raw.replace(b"\r\n ", b"").replace(b"\r\n\t", b""))
    assert signed_headers is not None
    assert b"list-unsubscribe" in signed_headers.group(1).lower()
    swapped = stored.raw.replace(url.encode(), url[:-1].encode() + (b"A" if not url.endswith("A") else b"B"))
    assert swapped != stored.raw
    assert not dkim.verify(swapped, dnsfunc=dns), "a relay cannot swap the link without breaking the signature"
