"""Import batch identity: a readable, URL-safe partition key derived from a file's name and content."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

HASH_CHARS = 12
_SLUG_MAX = 40
_KEY = re.compile(rf"^[a-z0-9]+(?:-[a-z0-9]+)*-[0-9a-f]{{{HASH_CHARS}}}$")


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes, read in chunks so large exports stay out of memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def slug(text: str) -> str:
    """Lower-case ASCII words joined by hyphens: safe in partition keys, URLs and file names."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return "-".join(words)[:_SLUG_MAX].strip("-") or "batch"


def batch_key(name: str, digest: str) -> str:
    """``<slug of the file name>-<first 12 hex of its content hash>``; only ``[a-z0-9-]`` (see Dagster #19845)."""
    return f"{slug(Path(name).stem)}-{digest[:HASH_CHARS]}"


def key_hash(key: str) -> str:
    """The content-hash part of a batch key: equal for two files with the same bytes."""
    return key.rsplit("-", 1)[-1]


def is_batch_key(key: str) -> bool:
    return bool(_KEY.match(key))
