"""What a verifier answers and how it is asked: shared by the verifiers (``verify``) and the finder that uses them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

VerificationResult = Literal["valid", "invalid", "catch_all", "unknown", "risky"]
MxLookup = Callable[[str], Sequence[str]]
"""Domain -> MX host names by preference ([] when the domain takes no mail); may raise DNSException."""


@dataclass(frozen=True)
class Verification:
    email: str
    result: VerificationResult
    provider: str
    detail: str = ""


class EmailVerifier(Protocol):
    @property
    def provider(self) -> str: ...

    async def verify(self, email: str, *, batch_id: str | None = None) -> Verification: ...

    async def aclose(self) -> None: ...
