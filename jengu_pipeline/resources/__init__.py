"""Dagster resources: the CRM store and every external provider (search, verification, LLM, alerts)."""
