"""The DNS MX lookup with a real dnspython resolver, pointed at a tiny authoritative server on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import dns.exception
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest

from jengu_pipeline.resources.verify import dns_mx_lookup

ZONE = {
    ("mail.test.", "MX"): ["20 mx2.mail.test.", "10 mx1.mail.test."],
    ("nullmx.test.", "MX"): ["0 ."],
    ("a-only.test.", "A"): ["192.0.2.10"],
}


def _answer(query: dns.message.Message) -> dns.message.Message:
    response = dns.message.make_response(query)
    question = query.question[0]
    name, kind = question.name.to_text(), dns.rdatatype.to_text(question.rdtype)
    if not any(owner == name for owner, _ in ZONE):
        response.set_rcode(dns.rcode.NXDOMAIN)
    elif (name, kind) in ZONE:
        response.answer.append(dns.rrset.from_text_list(name, 300, "IN", kind, ZONE[(name, kind)]))
    return response  # an existing name without that record: NOERROR, empty answer


@pytest.fixture
def resolver() -> Iterator[dns.resolver.Resolver]:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = server.recvfrom(4096)
            except TimeoutError:
                continue
            server.sendto(_answer(dns.message.from_wire(wire)).to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.getsockname()[1]
    yield resolver
    stop.set()
    thread.join()
    server.close()


def test_mx_hosts_come_by_preference(resolver: dns.resolver.Resolver) -> None:
    assert dns_mx_lookup(resolver)("mail.test") == ["mx1.mail.test", "mx2.mail.test"]


def test_missing_domain_and_null_mx_take_no_mail(resolver: dns.resolver.Resolver) -> None:
    lookup = dns_mx_lookup(resolver)
    assert lookup("gone.test") == []
    assert lookup("nullmx.test") == []


def test_a_domain_without_mx_is_its_own_implicit_mx(resolver: dns.resolver.Resolver) -> None:
    assert dns_mx_lookup(resolver)("a-only.test") == ["a-only.test"]


def test_an_unreachable_resolver_raises_for_the_caller_to_decide() -> None:
    silent = dns.resolver.Resolver(configure=False)
    silent.nameservers = ["127.0.0.1"]
    silent.port = 9
    with pytest.raises(dns.exception.DNSException):
        dns_mx_lookup(silent, lifetime=0.3)("mail.test")
