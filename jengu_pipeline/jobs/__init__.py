"""Op-based jobs: operator actions launched from the Dagster UI with run config."""
