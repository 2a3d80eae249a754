"""SANDBOX: the SearXNG emulator (``/search?format=json``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from jengu_pipeline.sandbox.providers.emulator import (
    HTML,
    RETRY,
    Call,
    Provider,
    Reply,
    found_outcome,
    json_reply,
    query_int,
    text_reply,
)
from jengu_pipeline.sandbox.state import SandboxState


def searxng_search(call: Call, state: SandboxState) -> Reply:
    if call.query.get("format") != "json":
        return text_reply(400, "The sandbox SearXNG emulates format=json only.")
    query, page = call.query.get("q", ""), query_int(call.query.get("pageno"), 1)
    hits = state.search.search(query) if query.strip() and page == 1 else ()
    results = [
        {
            "url": hit.url,
            "title": hit.title,
            "content": hit.snippet,
            "engine": "brave",
            "engines": ["brave", "duckduckgo"],
            "score": round(2.0 / (rank + 1), 4),
            "category": "general",
            "positions": [rank + 1],
            "parsed_url": [*urlsplit(hit.url)[:3], "", "", ""],
            "template": "default.html",
            "publishedDate": None,
            "thumbnail": "",
        }
        for rank, hit in enumerate(hits)
    ]
    body = {
        "query": query,
        "number_of_results": 0,
        "results": results,
        "answers": [],
        "corrections": [],
        "infoboxes": [],
        "suggestions": [],
        "unresponsive_engines": [],
    }
    return json_reply(200, body, outcome=found_outcome(hits))


SEARXNG = Provider(
    name="searxng",
    routes={"/search": searxng_search},
    methods=frozenset({"GET", "POST"}),
    refuse=lambda call, state: text_reply(403, "<html><body><h1>403 Forbidden</h1></body></html>", HTML),
    rate_limited=lambda call, state: text_reply(429, "Too Many Requests", headers=RETRY),
    quota_exceeded=lambda call, state: text_reply(429, "Too Many Requests", headers=RETRY),
    server_error=lambda call, state: text_reply(500, "Internal Server Error"),
    billed=False,
)
