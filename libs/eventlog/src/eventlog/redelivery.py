"""What happens when handling an event fails: NAK with backoff, then park after the last try.

Parking records the event's position, id and the reason in SQL and acknowledges it, so the events
behind it keep flowing; an operator can read the parked list and replay from it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import parked_events
from shared_events.codec import MSG_ID

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_deliver: int = 5
    backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    ack_wait: float = 30.0

    def delay(self, deliveries: int) -> float:
        """The pause before delivery number `deliveries + 1`."""
        return self.backoff[min(deliveries, len(self.backoff)) - 1] if self.backoff else 0.0

    def exhausted(self, deliveries: int) -> bool:
        return deliveries >= self.max_deliver


def reason_of(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


async def park(session: AsyncSession, consumer: str, msg: Msg, reason: str) -> None:
    """Record a message that failed every delivery (caller commits, then acks)."""
    meta = msg.metadata
    await session.execute(
        parked_events.insert().values(
            consumer=consumer,
            stream=meta.stream,
            sequence=meta.sequence.stream,
            subject=msg.subject,
            event_id=(msg.headers or {}).get(MSG_ID),
            deliveries=meta.num_delivered,
            reason=reason,
        )
    )
    log.error(
        "parked event at %s:%d after %d deliveries: %s",
        meta.stream,
        meta.sequence.stream,
        meta.num_delivered,
        reason,
        extra={"consumer": consumer},
    )
