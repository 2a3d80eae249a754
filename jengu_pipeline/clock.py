"""The product's one clock: every "now" (sending windows, delays, warm-up days, pauses, reply dates) comes
from here, so that a test or the demo can run days forward and every process agrees on the time.

``JENGU_CLOCK`` moves the clock: ``<ISO 8601 instant>@<unix seconds>`` means "it was that instant at that real
moment", and time then runs at real speed from there. Because the anchor is a real moment rather than a
process's start, the CLI, Dagster's step processes and the sandbox's servers all read the same simulated time.
Unset, the clock is the system's.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

CLOCK_VARIABLE = "JENGU_CLOCK"

Clock = Callable[[], datetime]


class ClockError(ValueError):
    """``JENGU_CLOCK`` is not of the form ``<ISO 8601 instant>@<unix seconds>``."""


def _parse(value: str) -> tuple[datetime, float]:
    instant, separator, anchor = value.rpartition("@")
    try:
        at = datetime.fromisoformat(instant)
        real = float(anchor)
    except ValueError as error:
        raise ClockError(f"{CLOCK_VARIABLE}={value!r}: expected <ISO 8601 instant>@<unix seconds>") from error
    if not separator or at.tzinfo is None:
        raise ClockError(f"{CLOCK_VARIABLE}={value!r}: expected an instant with its UTC offset, then @<unix seconds>")
    return at.astimezone(UTC), real


def now() -> datetime:
    """The current instant (timezone-aware, UTC)."""
    value = os.environ.get(CLOCK_VARIABLE)
    if not value:
        return datetime.now(UTC)
    at, real = _parse(value)
    return at.fromtimestamp(at.timestamp() + time.time() - real, UTC)


def clock_setting(at: datetime) -> str:
    """The ``JENGU_CLOCK`` value that makes :func:`now` read ``at`` at this moment."""
    if at.tzinfo is None:
        raise ClockError(f"{at!r}: a simulated instant needs its UTC offset")
    return f"{at.astimezone(UTC).isoformat()}@{time.time():.6f}"


@contextmanager
def running_at(at: datetime) -> Iterator[None]:
    """Within the block, this process and the processes it starts read a clock that starts at ``at``."""
    before = os.environ.get(CLOCK_VARIABLE)
    os.environ[CLOCK_VARIABLE] = clock_setting(at)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(CLOCK_VARIABLE, None)
        else:
            os.environ[CLOCK_VARIABLE] = before
