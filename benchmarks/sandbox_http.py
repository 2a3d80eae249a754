"""Benchmark: how many requests a second the SANDBOX's HTTP server answers on loopback.

Starts the sandbox (latency 0, no faults) in this process, then hammers it from a separate
process with a bounded number of keep-alive connections for a bounded time, only on
127.0.0.1. The load is a mix of every provider's calls (searches, verifications, Hunter,
hotel pages, LLM and webhook posts). The sandbox's own call counters are cross-checked
against what the load generator received.

    .venv/bin/python benchmarks/sandbox_http.py [--seconds N] [--concurrency C] [--json]

With ``--json`` the last line is one JSON object: requests, seconds, requests_per_second,
concurrency, statuses, latency percentiles, and the server's call count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

LOOPBACK = "127.0.0.1"
CONTENT_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


def request_mix(port: int) -> list[bytes]:
    """Raw HTTP/1.1 keep-alive requests covering every provider, over 20 live hotels of the seed-7 world."""
    from jengu_pipeline.sandbox import GOOGLE_CSE_CX, SANDBOX_KEYS, build_world

    host = f"Host: {LOOPBACK}:{port}\r\n"

    def get(path: str, params: dict[str, str], headers: str = "") -> bytes:
        return f"GET {path}?{urlencode(params)} HTTP/1.1\r\n{host}{headers}\r\n".encode()

    def post(path: str, body: bytes, content_type: str, headers: str = "") -> bytes:
        length = f"Content-Length: {len(body)}\r\n"
        return f"POST {path} HTTP/1.1\r\n{host}{headers}Content-Type: {content_type}\r\n{length}\r\n".encode() + body

    mix: list[bytes] = []
    for hotel in [hotel for hotel in build_world(7).hotels if hotel.has_mx][:20]:
        query = f"{hotel.name} {hotel.city}"
        person = hotel.staff[0]
        prompt = {"model": "sandbox-llm", "messages": [{"role": "user", "content": f"Write to {person.full_name}"}]}
        mix += [
            get("/res/v1/web/search", {"q": query}, f"X-Subscription-Token: {SANDBOX_KEYS['brave']}\r\n"),
            get("/customsearch/v1", {"q": query, "key": SANDBOX_KEYS["google_cse"], "cx": GOOGLE_CSE_CX}),
            get("/search", {"q": query, "format": "json"}),
            post("/html/", urlencode({"q": query}).encode(), "application/x-www-form-urlencoded"),
            get("/api/v3/", {"api": SANDBOX_KEYS["millionverifier"], "email": person.email}),
            get("/api/v3/", {"api": SANDBOX_KEYS["millionverifier"], "email": f"info@{hotel.domain}"}),
            get("/v2/domain-search", {"domain": hotel.domain, "api_key": SANDBOX_KEYS["hunter"]}),
            get(f"/site/{hotel.domain}/", {}),
            get(f"/site/{hotel.domain}/contact", {}),
            post(
                "/v1/chat/completions",
                json.dumps(prompt).encode(),
                "application/json",
                f"Authorization: Bearer {SANDBOX_KEYS['openai']}\r\n",
            ),
            post(f"/webhook/{SANDBOX_KEYS['webhook']}", b'{"text": "benchmark"}', "application/json"),
        ]
    return mix


async def _connection(port: int, requests: list[bytes], start: int, deadline: float, result: dict[str, Any]) -> None:
    reader, writer = await asyncio.open_connection(LOOPBACK, port)
    index = start
    try:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            writer.write(requests[index % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = CONTENT_LENGTH.search(head)
            await reader.readexactly(int(length.group(1)) if length else 0)
            result["latencies"].append(time.perf_counter() - sent)
            result["statuses"][int(head[9:12])] += 1
            index += 1
    finally:
        writer.close()


async def _load(port: int, seconds: float, concurrency: int) -> dict[str, Any]:
    requests = request_mix(port)
    result: dict[str, Any] = {"statuses": Counter(), "latencies": []}
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(_connection(port, requests, i * 7, deadline, result) for i in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies = sorted(result["latencies"])

    def percentile(share: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000, 2) if latencies else 0.0

    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "concurrency": concurrency,
        "statuses": {str(code): count for code, count in sorted(result["statuses"].items())},
        "latency_ms": {"p50": percentile(0.5), "p99": percentile(0.99)},
    }


def worker(port: int, seconds: float, concurrency: int) -> None:
    """The load generator, run in its own process so it does not share the server's GIL."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_load(port, seconds, concurrency))))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="How long to send load (default 5).")
    parser.add_argument("--concurrency", type=int, default=32, help="Keep-alive connections (default 32).")
    parser.add_argument("--json", action="store_true", help="End with one JSON line.")
    parser.add_argument("--worker-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not 0 < args.seconds <= 300 or not 0 < args.concurrency <= 512:
        parser.error("--seconds must be in (0, 300] and --concurrency in (0, 512]")
    if args.worker_port:
        worker(args.worker_port, args.seconds, args.concurrency)
        return 0

    from jengu_pipeline.sandbox import start_sandbox

    with tempfile.TemporaryDirectory(prefix="jengu-sandbox-bench-") as home, start_sandbox(Path(home)) as sandbox:
        command = [
            sys.executable,
            __file__,
            "--worker-port",
            str(sandbox.http_port),
            "--seconds",
            str(args.seconds),
            "--concurrency",
            str(args.concurrency),
        ]
        load = subprocess.run(command, capture_output=True, text=True, check=True, timeout=args.seconds + 60)
        result = json.loads(load.stdout.strip().splitlines()[-1])
        result["server_calls"] = sum(p["calls"] for p in sandbox.stats()["providers"].values())
    result["benchmark"] = "sandbox_http"
    errors = sum(count for status, count in result["statuses"].items() if status != "200")
    print(
        f"SANDBOX HTTP: {result['requests']} requests in {result['seconds']} s = "
        f"{result['requests_per_second']} requests/s ({args.concurrency} connections, "
        f"p50 {result['latency_ms']['p50']} ms, p99 {result['latency_ms']['p99']} ms, non-200: {errors})"
    )
    if args.json:
        print(json.dumps(result))
    return 0 if errors == 0 and result["server_calls"] == result["requests"] else 1


if __name__ == "__main__":
    sys.exit(main())
