"""The CRM store: schema, migrations and one repository API over DuckDB and PostgreSQL."""

from jengu_pipeline.store.engine import StaleVersionError, StoreBusyError, StoreError, Tx
from jengu_pipeline.store.repository import CrmStore, add_activity, open_store

__all__ = ["CrmStore", "StaleVersionError", "StoreBusyError", "StoreError", "Tx", "add_activity", "open_store"]
