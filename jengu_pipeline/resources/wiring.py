"""The Definitions' resources, configured from JENGU_* environment variables.

Secrets are wired as ``dg.EnvVar`` (resolved when a run starts, shown by name only in the UI); a secret whose
variable is unset leaves its provider unconfigured instead of failing every run. Base URLs and models are
not secret and are read here, so ``jengu sandbox``'s ``sandbox.env`` points every resource at the sandbox.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from jengu_pipeline.resources.alerts import AlertsResource
from jengu_pipeline.resources.call_policy import ProviderLimits
from jengu_pipeline.resources.llm import LlmResource
from jengu_pipeline.resources.pages import PageResource
from jengu_pipeline.resources.replies import ReplyMailboxResource
from jengu_pipeline.resources.search import SearchResource
from jengu_pipeline.resources.sending import SendingResource
from jengu_pipeline.resources.store import CrmStoreResource
from jengu_pipeline.resources.verify import VerifierResource


def secret(variable: str) -> dg.EnvVar | str:
    """The variable as an EnvVar when it is set, else empty (the provider stays off)."""
    return dg.EnvVar(variable) if os.environ.get(variable) else ""


def overrides(**fields: str) -> dict[str, Any]:
    """Non-secret fields whose variable is set; unset ones keep the resource's production default."""
    return {field: os.environ[variable] for field, variable in fields.items() if os.environ.get(variable)}


def sandbox_mode() -> bool:
    """JENGU_SANDBOX=1 (set by `jengu sandbox` / the demo): every provider is a loopback emulator."""
    return os.environ.get("JENGU_SANDBOX") == "1"


SANDBOX_LIMITS = ProviderLimits(concurrency=8, rate_per_second=200.0, burst=20)
"""A loopback emulator needs no politeness: sandbox runs go as fast as the machine."""


def sandbox_limits(*fields: str) -> dict[str, Any]:
    """Production keeps each provider's own (polite or contractual) rates; against the sandbox they are lifted."""
    return dict.fromkeys(fields, SANDBOX_LIMITS) if sandbox_mode() else {}


def llm_resource() -> LlmResource:
    return LlmResource(
        api_key=secret("JENGU_LLM_API_KEY"),
        anthropic_api_key=secret("JENGU_ANTHROPIC_API_KEY"),
        **overrides(
            base_url="JENGU_LLM_BASE_URL",
            model="JENGU_LLM_MODEL",
            anthropic_base_url="JENGU_ANTHROPIC_BASE_URL",
            anthropic_model="JENGU_ANTHROPIC_MODEL",
        ),
    )


def sending_resource() -> SendingResource:
    return SendingResource(
        sandbox=sandbox_mode(),
        sandbox_smtp_port=int(os.environ.get("JENGU_SMTP_PORT") or 0),
        **overrides(inbox_file="JENGU_INBOX_FILE", sandbox_smtp_host="JENGU_SMTP_HOST"),
    )


def mailbox_resource(sending: SendingResource | None = None) -> ReplyMailboxResource:
    """The reply mailboxes, reading the inbox file of ``sending`` (the same instance in the Definitions)."""
    return ReplyMailboxResource(
        sending=sending or sending_resource(),
        llm=llm_resource(),
        llm_intent=os.environ.get("JENGU_REPLY_LLM") == "1",
        **overrides(
            maildir="JENGU_MAILDIR",
            console_url="JENGU_CONSOLE_URL",
            forward_to="JENGU_FORWARD_TO",
            forward_categories="JENGU_FORWARD_CATEGORIES",
        ),
    )


def resources() -> dict[str, dg.ConfigurableResource]:
    sending = sending_resource()
    return {
        "store": CrmStoreResource(),
        "search": SearchResource(
            llm=llm_resource(),
            brave_api_key=secret("JENGU_BRAVE_API_KEY"),
            google_api_key=secret("JENGU_GOOGLE_CSE_API_KEY"),
            google_enabled=bool(os.environ.get("JENGU_GOOGLE_CSE_API_KEY")),
            **overrides(
                brave_base_url="JENGU_BRAVE_BASE_URL",
                google_base_url="JENGU_GOOGLE_CSE_BASE_URL",
                google_cx="JENGU_GOOGLE_CSE_CX",
                searxng_base_url="JENGU_SEARXNG_BASE_URL",
                duckduckgo_base_url="JENGU_DUCKDUCKGO_BASE_URL",
            ),
            **sandbox_limits("searxng_limits", "duckduckgo_limits"),
        ),
        "verifier": VerifierResource(
            millionverifier_api_key=secret("JENGU_MILLIONVERIFIER_API_KEY"),
            **overrides(millionverifier_base_url="JENGU_MILLIONVERIFIER_BASE_URL", mx_table_path="JENGU_MX_TABLE"),
            **sandbox_limits("millionverifier_limits"),
        ),
        "llm": llm_resource(),
        "pages": PageResource(sandbox=sandbox_mode(), **overrides(site_base_url="JENGU_SITE_BASE_URL")),
        "alerts": AlertsResource(webhook_url=secret("JENGU_ALERT_WEBHOOK_URL")),
        "sending": sending,
        "mailboxes": mailbox_resource(sending),
    }
