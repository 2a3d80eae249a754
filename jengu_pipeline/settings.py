"""Runtime settings: one pydantic-settings model, environment prefix ``JENGU_``, read once.

Only non-secret knobs live here. Provider secrets are read by the resources through
``dagster.EnvVar`` so that they never show up in the UI, logs or the store.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where Jengu keeps its state and which CRM store backend it talks to."""

    model_config = SettingsConfigDict(env_prefix="JENGU_", extra="ignore")

    home: Path = Field(
        default=Path(".jengu"),
        description="Holds all runtime state: drop folder, DuckDB store, warehouse, Maildir, sandbox data.",
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql://... switches the CRM store to PostgreSQL; unset means DuckDB under home.",
    )
    require_services: bool = Field(
        default=False,
        description="Tests fail instead of skipping when a service they need (PostgreSQL, ...) is missing.",
    )
    drop_max_files_per_tick: int = Field(default=20, ge=1, description="Files one drop-folder tick registers.")

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def drop_dir(self) -> Path:
        return self.home / "inbox"

    @property
    def duckdb_path(self) -> Path:
        return self.home / "crm.duckdb"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def sandbox_dir(self) -> Path:
        return self.home / "sandbox"

    @property
    def store_url(self) -> str:
        """The CRM store's URL: the PostgreSQL URL when set, else ``duckdb:///<home>/crm.duckdb``."""
        return self.database_url or f"duckdb:///{self.duckdb_path}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
