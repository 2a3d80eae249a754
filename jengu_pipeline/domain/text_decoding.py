"""Bytes of a prospect file as UTF-8 text: by its byte-order mark, else strict UTF-8, else the legacy code page
it reads as; binary content refused.
"""

from __future__ import annotations

import codecs
import re
from typing import NamedTuple

import charset_normalizer
import polars as pl

_SAMPLE_BYTES = 64 * 1024  # what the binary check and the code-page guess look at
_MAX_CONTROL_SHARE = 0.05  # more control characters than this in the sample: binary
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f]")
_NON_ASCII_BYTE = re.compile(rb"[\x80-\xff]")
_NON_ASCII_LETTER_RUN = re.compile(r"[^\W\d_a-zA-Z]{3,}")
_BETWEEN_LETTERS = re.compile(r"(?<=[^\W\d_])[^\x00-\x7f](?=[^\W\d_])")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class NotText(ValueError):
    """The bytes are not text a CSV file could hold; str() says why (and at which byte)."""


class DecodedText(NamedTuple):
    """A file's text as UTF-8 bytes, which is what the parsers read (a str of a whole file is
    never kept: one emoji makes it four bytes a character), and its lines if already read."""

    payload: bytes
    encoding: str
    lines: pl.Series | None


def decode(data: bytes) -> DecodedText:
    """Decode by BOM, else strict UTF-8, else a legacy code page; reject binary content."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise NotText(f"not valid {encoding} text (bad bytes at byte {exc.start})") from None
            decoded = DecodedText(data[len(bom) :] if encoding == "utf-8-sig" else text.encode("utf-8"), encoding, None)
            break
    else:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise NotText(f"not a CSV file (binary content at byte {nul})")
        decoded = _decode_without_bom(data)
    payload, encoding, _ = decoded
    head = payload[:_SAMPLE_BYTES].decode("utf-8", errors="ignore")
    controls = _CONTROL.findall(head)
    nul = payload.find(b"\x00")
    if nul >= 0 or len(controls) > _MAX_CONTROL_SHARE * len(head):
        before = payload[:nul].decode("utf-8") if nul >= 0 else head[: head.index(controls[0])]
        offset = len(before.encode(encoding, errors="replace"))
        raise NotText(f"not a CSV file (binary content at byte {offset})")
    return decoded


def _decode_without_bom(data: bytes) -> DecodedText:
    """UTF-8 if valid; else cp1252 when it reads as Western text; else charset-normalizer's guess.

    charset-normalizer alone is unreliable on short Western European text (it reads
    "Prénom;Nom;Société / José;Peña" as cp1250, "François" as cp1006), and Excel on a Western
    Windows, by far the likeliest source of a non-UTF-8 prospect file, writes cp1252. So cp1252
    wins unless the text it gives looks like another script (runs of accented letters, as
    Cyrillic or Greek read as cp1252 produce, or symbols inside words, as Polish cp1250 does);
    then charset-normalizer decides. Latin-1 is the last resort: it decodes any byte.

    UTF-8 is checked by polars as it reads the lines, in parallel and twice as fast as Python's
    decoder; should polars fail, Python's decoder has the last word.
    """
    if not classic_mac(data):
        try:
            return DecodedText(data, "utf-8", line_bodies(data))
        except pl.exceptions.ComputeError:
            pass
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return DecodedText(data, "utf-8", None)
    sample = _non_ascii_lines(data)
    candidates = ["cp1252"] if _reads_as_western(sample) else [*_guess_encoding(sample), "cp1252"]
    for encoding in candidates:
        try:
            return DecodedText(data.decode(encoding).encode("utf-8"), encoding, None)
        except UnicodeDecodeError:
            continue
    return DecodedText(data.decode("latin-1").encode("utf-8"), "latin-1", None)


def _non_ascii_lines(data: bytes) -> bytes:
    """The lines holding non-ASCII bytes (up to the sample size): the only ones that tell code pages apart."""
    pieces: list[bytes] = []
    size = position = 0
    while size < _SAMPLE_BYTES:
        match = _NON_ASCII_BYTE.search(data, position)
        if match is None:
            break
        start = max(data.rfind(b"\n", 0, match.start()) + 1, match.start() - 2048)
        end = data.find(b"\n", match.end())
        end = min(len(data) if end < 0 else end + 1, match.end() + 2048)
        pieces.append(data[start:end])
        size += end - start
        position = end
    return b"".join(pieces)


def _reads_as_western(sample: bytes) -> bool:
    """Whether cp1252 turns the sample into plausible Western European text."""
    try:
        text = sample.decode("cp1252")
    except UnicodeDecodeError:
        return False
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    odd = sum(len(run) for run in _NON_ASCII_LETTER_RUN.findall(text))
    odd += sum(1 for char in _BETWEEN_LETTERS.findall(text) if not char.isalpha() and char not in "’‘´")
    return odd <= 0.1 * non_ascii


def _guess_encoding(sample: bytes) -> list[str]:
    """charset-normalizer's best guess, as a Python codec name, if it has one."""
    best = charset_normalizer.from_bytes(sample).best()
    return [] if best is None else [codecs.lookup(best.encoding).name]


def classic_mac(payload: bytes) -> bool:
    """Whether lines end with a lone CR only: polars, splitting at LF, would see one huge line."""
    return b"\n" not in payload and b"\r" in payload


def line_bodies(payload: bytes) -> pl.Series:
    """Every physical line split at \\n, without its \\n or \\r\\n ("" for an empty line).

    polars.read_csv with no quote character and a separator absent from the text (NUL: binary
    files were rejected) reads whole lines, in parallel, keeping blank ones as nulls.
    """
    if not payload:
        return pl.Series("body", [], dtype=pl.String)
    lines = pl.read_csv(payload, has_header=False, separator="\x00", quote_char=None, infer_schema=False)
    return lines.to_series().fill_null("").alias("body")
