"""Sender-domain preflight against a real DNS server on loopback: good, missing, weak and unanswered records."""

from __future__ import annotations

import time
from datetime import date

import pytest
from dns_server import dns_server, silent_dns_server

from jengu_pipeline.domain.inboxes import InboxConfig, SmtpConfig
from jengu_pipeline.resources.sender_dns import check_inboxes, check_sender_domain

DKIM_KEY = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 9  # > 255 bytes: split in DNS

GOOD = {
    "hotel.test": {
        "MX": ["10 mx1.hotel.test.", "20 mx2.hotel.test."],
        "TXT": ["site-verification=x", "v=spf1 mx -all"],
    },
    "s1._domainkey.hotel.test": {"TXT": [DKIM_KEY]},
    "_dmarc.hotel.test": {"TXT": ["v=DMARC1; p=quarantine; rua=mailto:dmarc@hotel.test"]},
}


def zone_without(*removed: tuple[str, str]) -> dict[str, dict[str, list[str]]]:
    zone = {owner: {kind: list(values) for kind, values in kinds.items()} for owner, kinds in GOOD.items()}
    for owner, kind in removed:
        zone[owner].pop(kind)
    return zone


def test_a_domain_with_mx_spf_dkim_and_dmarc_passes() -> None:
    with dns_server(GOOD) as resolver:
        check = check_sender_domain("Hotel.test.", dkim_selector="s1", resolver=resolver)
    assert check.status == "passed"
    assert (check.problems, check.warnings, check.unknown) == ([], [], [])
    assert check.record("mx").value == "mx1.hotel.test, mx2.hotel.test"
    assert check.record("spf").value == "v=spf1 mx -all"
    assert check.record("dkim").value == DKIM_KEY  # the 255-byte pieces joined again
    assert check.dmarc_policy == "quarantine"


@pytest.mark.parametrize(
    ("removed", "expected"),
    [
        (("hotel.test", "TXT"), "spf: no v=spf1 TXT record at hotel.test: receivers cannot tell who may send"),
        (("_dmarc.hotel.test", "TXT"), "dmarc: no v=DMARC1 record at _dmarc.hotel.test"),
        (("s1._domainkey.hotel.test", "TXT"), "dkim: no DKIM key at s1._domainkey.hotel.test"),
        (("hotel.test", "MX"), "mx: no MX record at hotel.test"),
    ],
)
def test_each_missing_record_is_named_and_fails(removed: tuple[str, str], expected: str) -> None:
    with dns_server(zone_without(removed)) as resolver:
        check = check_sender_domain("hotel.test", dkim_selector="s1", resolver=resolver)
    assert check.status == "failed"
    assert len(check.problems) == 1
    assert check.problems[0].startswith(expected)


def test_a_selector_the_domain_does_not_publish_fails() -> None:
    with dns_server(GOOD) as resolver:
        check = check_sender_domain("hotel.test", dkim_selector="google", resolver=resolver)
    assert check.problems == ["dkim: no DKIM key at google._domainkey.hotel.test: signatures cannot be verified"]


def test_weak_records_are_warnings_not_failures() -> None:
    zone = zone_without()
    zone["_dmarc.hotel.test"]["TXT"] = ["v=DMARC1; p=none"]
    zone["hotel.test"]["TXT"] = ["v=spf1 include:_spf.mail.test ?all"]
    with dns_server(zone) as resolver:
        check = check_sender_domain("hotel.test", dkim_selector=None, resolver=resolver)
    assert check.status == "passed"
    assert check.dmarc_policy == "none"
    assert check.warnings == [
        "spf: no -all or ~all: mail from any other server is neutral",
        "dkim: no dkim_selector configured, so DKIM was not looked up",
        "dmarc: p=none only monitors: mail forged in this domain's name is still delivered",
    ]


@pytest.mark.parametrize(
    ("owner", "records", "expected"),
    [
        ("hotel.test", ["v=spf1 +all"], "spf: +all lets any server"),
        ("hotel.test", ["v=spf1 a -all", "v=spf1 mx -all"], "spf: 2 SPF records"),
        ("s1._domainkey.hotel.test", ["v=DKIM1; p="], "dkim: the key at s1._domainkey.hotel.test is revoked"),
        ("_dmarc.hotel.test", ["v=DMARC1; rua=mailto:x@hotel.test"], "dmarc: p=(missing)"),
    ],
)
def test_invalid_records_fail(owner: str, records: list[str], expected: str) -> None:
    zone = zone_without()
    zone[owner]["TXT"] = records
    with dns_server(zone) as resolver:
        check = check_sender_domain("hotel.test", dkim_selector="s1", resolver=resolver)
    assert check.status == "failed"
    assert [problem for problem in check.problems if problem.startswith(expected)]


def test_a_domain_that_does_not_exist_fails_on_every_record() -> None:
    with dns_server(GOOD) as resolver:
        check = check_sender_domain("nowhere.test", dkim_selector="s1", resolver=resolver)
    assert [record.state for record in check.records] == ["missing"] * 4


def test_a_null_mx_is_invalid() -> None:
    zone = zone_without()
    zone["hotel.test"]["MX"] = ["0 ."]
    with dns_server(zone) as resolver:
        check = check_sender_domain("hotel.test", dkim_selector="s1", resolver=resolver)
    assert check.problems == ["mx: null MX at hotel.test: it accepts no mail, so no replies"]


def test_dns_that_never_answers_is_unknown_not_failed() -> None:
    started = time.monotonic()
    with silent_dns_server(lifetime=0.2) as resolver:
        check = check_sender_domain("hotel.test", dkim_selector="s1", resolver=resolver, lifetime=0.2)
    assert time.monotonic() - started < 3
    assert check.status == "unknown"
    assert check.problems == []
    assert [record.state for record in check.records] == ["unknown"] * 4
    assert check.unknown[0] == "mx: hotel.test: no answer from DNS within 0.2 s"


def test_inboxes_sharing_a_domain_ask_dns_once_each() -> None:
    def inbox(address: str, selector: str | None) -> InboxConfig:
        smtp = SmtpConfig(host="smtp.hotel.test", port=587)
        return InboxConfig(
            address=address, display_name="Mia", smtp=smtp, warmup_start=date(2027, 1, 4), dkim_selector=selector
        )

    with dns_server(GOOD) as resolver:
        checks = check_inboxes(
            [inbox("mia@hotel.test", "s1"), inbox("leo@hotel.test", "s1"), inbox("ana@hotel.test", None)],
            resolver=resolver,
        )
    assert checks["mia@hotel.test"] is checks["leo@hotel.test"]
    assert checks["mia@hotel.test"].status == "passed"
    assert checks["ana@hotel.test"].record("dkim").state == "unchecked"
