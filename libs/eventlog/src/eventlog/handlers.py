"""Event handlers on FastStream: one router per service, each handler a durable consumer.

`EventHandlers.on(...)` reads like a table row: consumer name, stream, subjects, function. The
function receives a decoded `StoredEvent`. Acknowledgement is explicit: ack after the function
returns; on an exception NAK with the retry policy's backoff; after the last delivery park the
event with its reason (in SQL) and ack it, so the events behind it keep flowing.

Handlers are pull consumers shared by every replica of the service, with one message in flight
by default: a NAKed message stays pending, so nothing behind it is delivered before it — events
are handled in log order even across a retry, and a killed replica's message comes back to the
others after `ack_wait`. The durable is created and reconciled by `eventlog.consumers` before
FastStream binds to it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any

from faststream import AckPolicy
from faststream.nats import JStream, NatsMessage, NatsRouter, PullSub
from faststream.nats.subscriber.usecases import stream_pull_subscriber
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from eventlog.consumers import ConsumerSpec, ensure_consumer
from eventlog.redelivery import RetryPolicy, park, reason_of
from eventlog.sql import sessions
from eventlog.stored import RawStored, StoredEvent
from eventlog.telemetry import context_from_headers, tracer

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

# FastStream 0.7.8 stops its pull loop on an empty fetch: it suppresses nats.errors.TimeoutError,
# but nats-py 2.16 raises the builtin TimeoutError (its parent class) there, so the loop dies and
# is restarted with an error log every poll. Widening the name it catches restores the loop.
stream_pull_subscriber.TimeoutError = TimeoutError  # type: ignore[misc,assignment]

Handler = Callable[[StoredEvent], Awaitable[None]]
RawHandler = Callable[[RawStored], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    spec: ConsumerSpec
    handler: Handler | RawHandler


class EventHandlers:
    """The handlers of one service and the FastStream router that carries them."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.router = NatsRouter()
        self.subscriptions: list[Subscription] = []
        self._engine: AsyncEngine | None = None

    def on(
        self,
        name: str,
        *,
        stream: str,
        subjects: tuple[str, ...],
        retry: RetryPolicy | None = None,
        in_flight: int = 1,
        raw: bool = False,
    ) -> Callable[[Any], Any]:
        """Register a handler; with `raw=True` it receives undecoded `RawStored` messages."""
        durable = f"{self.service}-{name}"
        spec = ConsumerSpec(
            name=durable,
            stream=stream,
            subjects=subjects,
            retry=retry or RetryPolicy(),
            max_ack_pending=in_flight,
            description=f"{self.service} handler {name}",
        )

        def register(handler: Any) -> Any:
            self.subscriptions.append(Subscription(spec, handler))
            self.router.subscriber(
                subjects[0],
                stream=JStream(stream, declare=False),
                durable=spec.name,
                pull_sub=PullSub(batch_size=1, timeout=1.0),
                ack_policy=AckPolicy.MANUAL,
                title=spec.name,
                description=handler.__doc__,
            )(self._delivery(spec, handler, raw))
            return handler

        return register

    async def prepare(
        self, js: JetStreamContext, engine: AsyncEngine, ack_wait: float | None = None
    ) -> None:
        """Create or reconcile every durable before the broker binds; remember where to park."""
        self._engine = engine
        for subscription in self.subscriptions:
            spec = subscription.spec
            if ack_wait is not None:
                spec = replace(spec, retry=replace(spec.retry, ack_wait=ack_wait))
            await ensure_consumer(js, spec)

    def _delivery(
        self, spec: ConsumerSpec, handler: Any, raw_delivery: bool
    ) -> Callable[[NatsMessage], Awaitable[None]]:
        async def deliver(message: NatsMessage) -> None:
            raw = message.raw_message
            try:
                with _tracer.start_as_current_span(
                    f"handle {spec.name}",
                    context=context_from_headers(raw.headers),
                    kind=SpanKind.CONSUMER,
                    attributes={
                        "messaging.system": "nats",
                        "messaging.destination.name": spec.stream,
                        "messaging.consumer.group.name": spec.name,
                        "ledger.sequence": raw.metadata.sequence.stream,
                    },
                ):
                    decoded = RawStored.from_msg(raw) if raw_delivery else StoredEvent.from_msg(raw)
                    await handler(decoded)
            except Exception as exc:
                deliveries = raw.metadata.num_delivered
                if not spec.retry.exhausted(deliveries) or self._engine is None:
                    await message.nack(delay=spec.retry.delay(deliveries))
                    log.warning(
                        "%s: event at %d failed (delivery %d): %s",
                        spec.name,
                        raw.metadata.sequence.stream,
                        deliveries,
                        reason_of(exc),
                    )
                    return
                async with sessions(self._engine)() as session, session.begin():
                    await park(session, spec.name, raw, reason_of(exc))
                await message.ack()
                return
            await message.ack()

        deliver.__name__ = spec.name.replace("-", "_")
        return deliver
