"""The CRM store as a Dagster resource."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from jengu_pipeline.store import CrmStore, open_store


class CrmStoreResource(dg.ConfigurableResource):
    """Opens the CRM store (DuckDB file or PostgreSQL) and migrates it before the first step uses it.

    ``url`` may carry a password, so definitions wire it from ``dg.EnvVar("JENGU_DATABASE_URL")`` when
    PostgreSQL is configured; the UI then shows only the variable's name.
    """

    url: str = Field(description="duckdb:///path/crm.duckdb or postgresql://... (from JENGU_DATABASE_URL)")

    def open(self) -> CrmStore:
        return open_store(self.url)
