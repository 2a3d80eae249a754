"""Alerts to a Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat, Discord's /slack).

The webhook URL is itself a credential, so it is registered for redaction and never logged; alert
texts are redacted too (an alert is a log line someone else reads), so addresses show as z***@domain.
"""

from __future__ import annotations

import httpx
from pydantic import Field, PrivateAttr

from jengu_pipeline.resources.call_ledger import CallStore
from jengu_pipeline.resources.call_policy import ProviderLimits
from jengu_pipeline.resources.calls import ProviderCaller, ProviderError
from jengu_pipeline.resources.http_provider import HttpProvider, HttpRequest
from jengu_pipeline.resources.redaction import redact, redacting_logger
from jengu_pipeline.resources.runtime import ProviderResource

log = redacting_logger(__name__)


class WebhookAlerter(HttpProvider):
    """Posts ``{"text": ...}``; Slack answers 200 ``ok``, errors are 4xx with a plain-text reason."""

    def __init__(self, caller: ProviderCaller, *, webhook_url: str) -> None:
        super().__init__(caller, webhook_url, secrets=[webhook_url])

    async def send(self, text: str, *, batch_id: str | None = None) -> None:
        await self.request("post", HttpRequest("POST", json={"text": redact(text)}), self._parse, batch_id=batch_id)

    @staticmethod
    def _parse(response: httpx.Response) -> str:
        # Slack says "ok"; other chat tools answer 200/204 with another body or none.
        return response.text.strip()


class AlertsResource(ProviderResource):
    """The ``alerts`` resource; with no webhook configured, alerts go to the log only."""

    webhook_url: str = Field(default="", description="Incoming webhook URL (secret, EnvVar); empty = log only.")
    limits: ProviderLimits = ProviderLimits(concurrency=1, rate_per_second=1.0, daily_quota=500, max_attempts=3)

    _alerter: WebhookAlerter | None = PrivateAttr(default=None)

    def _open(self, store: CallStore) -> None:
        if self.webhook_url:
            self._alerter = WebhookAlerter(ProviderCaller("webhook", store, self.limits), webhook_url=self.webhook_url)
            self._closers.append(self._alerter.aclose)

    def send(self, text: str) -> bool:
        """Posts the alert; False (and a logged error) when it could not be delivered, so alerting never
        fails the run that raised it.
        """
        log.warning("ALERT: %s", redact(text))
        if self._alerter is None:
            return False
        try:
            self._run(self._alerter.send(text))
        except ProviderError as error:
            log.error("alert not delivered: %s", error)
            return False
        return True
