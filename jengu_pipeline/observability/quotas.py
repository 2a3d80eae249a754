"""The daily quota each provider is configured with, read from the Definitions' resources (never from the store,
which only knows what was used)."""

from __future__ import annotations

from collections.abc import Mapping

from jengu_pipeline.resources.call_policy import ProviderLimits

QUOTA_FIELDS: dict[str, tuple[str, str]] = {
    "google_cse": ("search", "google_limits"),
    "brave": ("search", "brave_limits"),
    "duckduckgo": ("search", "duckduckgo_limits"),
    "searxng": ("search", "searxng_limits"),
    "millionverifier": ("verifier", "millionverifier_limits"),
    "smtp_probe": ("verifier", "smtp_limits"),
    "anthropic": ("llm", "anthropic_limits"),
    "webhook": ("alerts", "limits"),
}
"""Provider name (as in provider_quota) -> (resource key, field holding its ProviderLimits)."""


def configured_daily_quotas(resources: Mapping[str, object]) -> dict[str, int]:
    """Providers with a daily quota and its size; the main LLM's under its own provider name."""
    found: dict[str, int] = {}
    for provider, (key, field) in QUOTA_FIELDS.items():
        limits = getattr(resources.get(key), field, None)
        if isinstance(limits, ProviderLimits) and limits.daily_quota is not None:
            found[provider] = limits.daily_quota
    llm = resources.get("llm")
    limits = getattr(llm, "limits", None)
    name = getattr(llm, "provider_name", None)
    if isinstance(limits, ProviderLimits) and limits.daily_quota is not None and isinstance(name, str):
        found[name] = limits.daily_quota
    return found
