"""A tiny authoritative DNS server on loopback UDP, so tests ask real DNS questions through dnspython.

Zone data is a dict: owner name -> record type -> values in presentation format, except TXT values, which are
plain text (split into 255-byte strings as publishers must for long DKIM keys). A name not in the zone is
NXDOMAIN; a known name without the asked type answers NOERROR with no records.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.TXT
import dns.resolver
import dns.rrset

Zone = Mapping[str, Mapping[str, Sequence[str]]]


def _rdata(kind: str, value: str) -> dns.rdata.Rdata:
    if kind == "TXT":
        raw = value.encode()
        return dns.rdtypes.ANY.TXT.TXT(
            dns.rdataclass.IN, dns.rdatatype.TXT, [raw[start : start + 255] for start in range(0, len(raw), 255)]
        )
    return dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(kind), value)


def answer(zone: Zone, query: dns.message.Message) -> dns.message.Message:
    """The authoritative response to one query."""
    records = {dns.name.from_text(owner): kinds for owner, kinds in zone.items()}
    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    question = query.question[0]
    kinds = records.get(question.name)
    if kinds is None:
        response.set_rcode(dns.rcode.NXDOMAIN)
        return response
    values = kinds.get(dns.rdatatype.to_text(question.rdtype), [])
    if values:
        kind = dns.rdatatype.to_text(question.rdtype)
        response.answer.append(dns.rrset.from_rdata_list(question.name, 300, [_rdata(kind, v) for v in values]))
    return response


def loopback_resolver(port: int, lifetime: float = 2.0) -> dns.resolver.Resolver:
    """A resolver that asks only 127.0.0.1 on ``port``, ignoring the machine's configuration."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = port
    resolver.lifetime = lifetime
    resolver.timeout = lifetime
    return resolver


@contextmanager
def dns_server(zone: Zone) -> Iterator[dns.resolver.Resolver]:
    """Serve ``zone`` on a free loopback port while the block runs; yields a resolver pointed at it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                wire, peer = server.recvfrom(4096)
            except TimeoutError:
                continue
            server.sendto(answer(zone, dns.message.from_wire(wire)).to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield loopback_resolver(server.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        server.close()


@contextmanager
def silent_dns_server(lifetime: float) -> Iterator[dns.resolver.Resolver]:
    """A bound port that never answers: every lookup times out after ``lifetime`` seconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        yield loopback_resolver(silent.getsockname()[1], lifetime)
