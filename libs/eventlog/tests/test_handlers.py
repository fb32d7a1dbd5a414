"""FastStream handlers on durable consumers, against a real NATS server and database."""

from __future__ import annotations

import asyncio

import pytest
from faststream.nats import NatsBroker
from sqlalchemy import select

from eventlog.event_store import EventStore
from eventlog.handlers import EventHandlers
from eventlog.redelivery import RetryPolicy
from eventlog.sql import create_engine, create_tables, parked_events
from eventlog.stored import StoredEvent
from shared_events import Timeline

from .events_for_tests import recorded

pytestmark = pytest.mark.integration


async def test_a_raising_handler_is_redelivered_with_backoff_then_parked_and_the_rest_flow(
    js, nats_url, tmp_path
):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    await create_tables(engine)
    handlers = EventHandlers("pathways")
    seen: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()

    @handlers.on(
        "mastery",
        stream="EVIDENCE",
        subjects=("evidence.*.*.recorded",),
        retry=RetryPolicy(max_deliver=3, backoff=(0.3, 0.6)),
    )
    async def on_recorded(event: StoredEvent) -> None:
        seen.append((event.envelope.data.evidence_id, loop.time()))
        if event.envelope.data.evidence_id == "ev-a-1":
            raise RuntimeError("pathway store unavailable")

    store = EventStore(js)
    for n in (1, 2):
        await store.append(Timeline("evidence", "d1", "a"), [recorded("a", n)])

    await handlers.prepare(js, engine)
    broker = NatsBroker(nats_url)
    broker.include_router(handlers.router)
    await broker.start()
    try:
        for _ in range(200):
            async with engine.connect() as conn:
                parked = (await conn.execute(select(parked_events))).mappings().all()
            if parked and any(e == "ev-a-2" for e, _ in seen):
                break
            await asyncio.sleep(0.05)
    finally:
        await broker.stop()
        await engine.dispose()

    failing = [t for e, t in seen if e == "ev-a-1"]
    assert len(failing) == 3
    assert failing[1] - failing[0] >= 0.25 and failing[2] - failing[1] >= 0.5
    assert "ev-a-2" in [e for e, _ in seen]
    assert len(parked) == 1
    assert parked[0]["consumer"] == "pathways-mastery"
    assert parked[0]["deliveries"] == 3
    assert "pathway store unavailable" in parked[0]["reason"]


async def test_the_trace_of_an_append_continues_in_the_handler(js, nats_url, tmp_path):
    from opentelemetry import trace

    from eventlog.telemetry import setup_telemetry

    setup_telemetry("test")
    tracer = trace.get_tracer("test")
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 't.db'}")
    await create_tables(engine)
    handlers = EventHandlers("profiles")
    seen: list[int] = []

    @handlers.on("evidence", stream="EVIDENCE", subjects=("evidence.*.*.recorded",))
    async def on_recorded(event: StoredEvent) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    await handlers.prepare(js, engine)
    broker = NatsBroker(nats_url)
    broker.include_router(handlers.router)
    await broker.start()
    try:
        with tracer.start_as_current_span("POST /v1/evidence") as request:
            await EventStore(js).append(Timeline("evidence", "d1", "a"), [recorded("a", 1)])
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
    finally:
        await broker.stop()
        await engine.dispose()

    stored = await js.get_msg("EVIDENCE", seq=1)
    assert stored.headers["traceparent"].split("-")[1] == format(
        request.get_span_context().trace_id, "032x"
    )
    assert seen == [request.get_span_context().trace_id]


def test_the_pull_loop_widening_in_handlers_is_still_needed():
    """`eventlog.handlers` widens the TimeoutError FastStream 0.7.8's pull loop suppresses:
    it names nats-py's own, but nats-py 2.16's single-message fetch re-raises the builtin one
    when no answer at all came in time (a reconnect, a busy server). When FastStream catches
    the builtin one itself, or nats-py's is the builtin again, this fails: drop the widening."""
    import inspect

    import nats.errors
    from faststream.nats.subscriber.usecases import stream_pull_subscriber

    assert not issubclass(TimeoutError, nats.errors.TimeoutError)
    source = inspect.getsource(stream_pull_subscriber)
    assert "from nats.errors import ConnectionClosedError, TimeoutError" in source
    assert stream_pull_subscriber.TimeoutError is TimeoutError, "the widening is in place"
