"""Retrying one unit of work, alone, while what failed it is the infrastructure's fault.

A broker restart, a database lock or a lost acknowledgement says nothing about the input being
worked: the same work is tried again, here, after a pause, and nothing else waits on it but
what must come after it. Any other exception is the input's own (or a bug it triggers) and is
handed straight back, so the caller can answer for that one input.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from nats.errors import Error as NatsError
from nats.js.errors import APIError
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from eventlog.event_store import ConcurrencyConflict
from eventlog.redelivery import reason_of

log = logging.getLogger(__name__)

T = TypeVar("T")

PAUSES = (0.1, 0.25, 0.5, 1.0, 2.0)
"""Seconds between tries; the last repeats until the deadline."""


class StillFailing(Exception):
    """The infrastructure kept failing past the deadline; the input is handed back for a later
    delivery."""


def is_infrastructure(exc: BaseException) -> bool:
    """Whether `exc` says the broker or the database failed, not the input."""
    if isinstance(exc, APIError):
        # The server's answer about this very message (too big, malformed) is the input's;
        # a 503, a timeout or a missing stream is the server being away or not ready.
        return exc.code not in (400, 413)
    return isinstance(
        exc,
        TimeoutError
        | ConnectionError
        | OSError
        | NatsError
        | OperationalError
        | PoolTimeout
        | ConcurrencyConflict,
    ) or (isinstance(exc, DBAPIError) and exc.connection_invalidated)


async def retrying(
    work: Callable[[], Awaitable[T]],
    *,
    what: str,
    deadline: float = 120.0,
    stopping: Callable[[], bool] = lambda: False,
) -> T:
    """`await work()`, tried again after an infrastructure failure until it succeeds, `deadline`
    seconds have passed (StillFailing) or `stopping()` says the process is going down (the
    last failure is raised). Any other exception is raised at once."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    for attempt in range(1_000_000):
        try:
            return await work()
        except Exception as exc:
            if not is_infrastructure(exc):
                raise
            pause = PAUSES[min(attempt, len(PAUSES) - 1)]
            if stopping():
                raise
            if loop.time() + pause > give_up:
                raise StillFailing(f"{what}: {reason_of(exc)}") from exc
            if attempt in (0, 5, 20):
                log.warning(
                    "%s failed (try %d), trying again: %s", what, attempt + 1, reason_of(exc)
                )
            await asyncio.sleep(pause)
    raise AssertionError("unreachable")
