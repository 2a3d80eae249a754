"""SANDBOX: the DuckDuckGo HTML emulator (``/html/``): result blocks, ads and the bot challenge."""

from __future__ import annotations

import hashlib
import html
from urllib.parse import quote

from jengu_pipeline.sandbox.providers.emulator import (
    HTML,
    Call,
    Provider,
    Reply,
    found_outcome,
    text_reply,
)
from jengu_pipeline.sandbox.state import SandboxState
from jengu_pipeline.sandbox.web import SearchHit

_DDG_CHALLENGE = (
    "<!DOCTYPE html><html><head><title>DuckDuckGo</title></head><body>\n"
    '<form id="challenge-form" action="//duckduckgo.com/anomaly.js?sv=html&amp;cc=sre" method="POST">\n'
    '<div class="anomaly-modal__title">Unfortunately, bots use DuckDuckGo too.</div>\n'
    '<div class="anomaly-modal__description">Please complete the following challenge to confirm this '
    "search was made by a human.</div>\n</form>\n</body></html>\n"
)


def _ddg_result(hit: SearchHit, index: int, *, ad: bool = False) -> str:
    """A ``div.result``; organic hrefs alternate between the target and the ``uddg`` redirect."""
    target = quote(hit.url, safe="")
    if ad:
        href = f"https://duckduckgo.com/y.js?ad_domain={hit.host}&amp;u3={target}"
    elif index % 2 == 0:
        href = f"//duckduckgo.com/l/?uddg={target}&amp;rut={hashlib.sha256(hit.url.encode()).hexdigest()}"
    else:
        href = html.escape(hit.url)
    kind = "result--ad" if ad else "web-result"
    title, host, snippet = html.escape(hit.title), html.escape(hit.host), html.escape(hit.snippet)
    return (
        f'<div class="result results_links results_links_deep {kind}">\n'
        f'  <div class="links_main links_deep result__body">\n'
        f'    <h2 class="result__title"><a rel="nofollow" class="result__a" href="{href}">{title}</a></h2>\n'
        f'    <div class="result__extras__url"><a class="result__url" href="{href}">{host}</a></div>\n'
        f'    <a class="result__snippet" href="{href}">{snippet}</a>\n'
        f"  </div>\n</div>"
    )


def duckduckgo_html(call: Call, state: SandboxState) -> Reply:
    query = (call.form() if call.method == "POST" else call.query).get("q", "")
    hits = state.search.search(query) if query.strip() else ()
    sponsored = next((hit for hit in hits if not hit.official), None)
    if hits:
        blocks = [_ddg_result(sponsored, 0, ad=True)] if sponsored else []
        blocks += [_ddg_result(hit, i) for i, hit in enumerate(hits)]
    else:
        blocks = ['<div class="no-results">No results.</div>']
    page = (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(query)} at DuckDuckGo</title></head>\n'
        f'<body class="body--html">\n<div id="links" class="results">\n'
        + "\n".join(blocks)
        + "\n</div>\n</body></html>\n"
    )
    return Reply(200, page.encode(), HTML, outcome=found_outcome(hits))


DUCKDUCKGO = Provider(
    name="duckduckgo",
    routes={"/html/": duckduckgo_html, "/html": duckduckgo_html},
    methods=frozenset({"GET", "POST"}),
    refuse=lambda call, state: text_reply(403, _DDG_CHALLENGE, HTML),
    rate_limited=lambda call, state: text_reply(202, _DDG_CHALLENGE, HTML),
    quota_exceeded=lambda call, state: text_reply(403, _DDG_CHALLENGE, HTML),
    server_error=lambda call, state: text_reply(503, "<html><body>Service Unavailable</body></html>", HTML),
    billed=False,
)
