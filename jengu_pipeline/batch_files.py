"""The archive of imported files: each batch's exact bytes under ``$JENGU_HOME/batches/<key>/``.

Both the drop-folder sensor and ``jengu import`` stage a file here before launching its run, so a batch can
be re-materialised or backfilled later even after the original file moved or changed.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from jengu_pipeline.domain.batches import batch_key, content_hash, key_hash


class BatchFileError(Exception):
    """A batch's archived file is missing or ambiguous."""


@dataclass(frozen=True)
class StagedBatch:
    key: str
    path: Path
    content_hash: str


def batches_dir(home: Path) -> Path:
    return home / "batches"


def stage_file(source: Path, home: Path, known_keys: list[str] | None = None) -> StagedBatch:
    """Archive ``source`` under its batch key; a file whose bytes were imported before maps to that batch."""
    digest = content_hash(source)
    same_content = [k for k in known_keys or [] if key_hash(k) == digest[: len(key_hash(k))]]
    key = same_content[0] if same_content else batch_key(source.name, digest)
    folder = batches_dir(home) / key
    archived = _archived(folder)
    if archived:
        return StagedBatch(key, archived[0], digest)
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{source.name}.partial"
    shutil.copyfile(source, partial)
    target = partial.replace(folder / source.name)
    return StagedBatch(key, target, digest)


def _archived(folder: Path) -> list[Path]:
    """Committed files only: a copy in progress is hidden until its atomic rename."""
    if not folder.exists():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def batch_file(home: Path, key: str) -> Path:
    """The archived file of batch ``key``."""
    folder = batches_dir(home) / key
    files = _archived(folder)
    if len(files) != 1:
        raise BatchFileError(f"batch {key}: expected one archived file in {folder}, found {len(files)}")
    return files[0]
