"""Partition definitions shared by assets, sensors and the CLI."""

import dagster as dg

PROSPECT_BATCHES = "prospect_batches"
prospect_batches = dg.DynamicPartitionsDefinition(name=PROSPECT_BATCHES)
"""One partition per imported prospect file: ``<readable name>-<content hash>``."""
