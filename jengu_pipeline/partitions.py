"""Partition definitions shared by assets, sensors and the CLI."""

import dagster as dg

prospect_batches = dg.DynamicPartitionsDefinition(name="prospect_batches")
"""One partition per imported prospect file: ``<readable name>-<content hash>``."""
