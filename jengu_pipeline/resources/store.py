"""The CRM store as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from jengu_pipeline.settings import get_settings
from jengu_pipeline.store import CrmStore, open_store


class CrmStoreResource(dg.ConfigurableResource):
    """Opens the CRM store (DuckDB file or PostgreSQL) and migrates it before the first step uses it.

    Without an explicit ``url`` the store is resolved when a step runs, from ``JENGU_DATABASE_URL`` (which may
    carry a password, so it never enters run config or the UI) or else the DuckDB file under ``JENGU_HOME``.
    """

    url: str | None = Field(default=None, description="Override: duckdb:///path/crm.duckdb or postgresql://...")

    def open(self) -> CrmStore:
        return open_store(self.url or get_settings().store_url)
