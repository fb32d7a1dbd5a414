"""Projectors against a real JetStream server and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select

from eventlog.event_store import EventStore
from eventlog.projector import Projector
from eventlog.redelivery import RetryPolicy
from eventlog.sql import create_engine, create_tables, parked_events
from eventlog.stored import StoredEvent
from shared_events import Timeline

from .events_for_tests import recorded

pytestmark = pytest.mark.integration

metadata = MetaData()
evidence_counts = Table(
    "evidence_counts",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
)


class EvidenceCounts:
    """Counts evidence per learner: applying an event twice would show as a double count."""

    name = "evidence_counts"
    stream = "EVIDENCE"
    subjects = ("evidence.*.*.recorded",)

    def __init__(self, poison: set[str] | None = None) -> None:
        self.poison = poison or set()
        self.attempts: dict[str, int] = {}

    async def apply(self, session, event: StoredEvent) -> None:
        evidence_id = event.envelope.data.evidence_id
        self.attempts[evidence_id] = self.attempts.get(evidence_id, 0) + 1
        if evidence_id in self.poison:
            raise ValueError(f"cannot project {evidence_id}")
        learner = event.envelope.subject
        updated = await session.execute(
            evidence_counts.update()
            .where(evidence_counts.c.learner_id == learner)
            .values(count=evidence_counts.c.count + 1)
        )
        if updated.rowcount == 0:
            await session.execute(evidence_counts.insert().values(learner_id=learner, count=1))

    async def reset(self, session) -> None:
        await session.execute(evidence_counts.delete())


async def counts(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(evidence_counts.c.learner_id, evidence_counts.c.count))
        return dict(rows.all())


async def append_evidence(js, learner: str, numbers) -> None:
    store = EventStore(js)
    timeline = Timeline("evidence", "d1", learner)
    for n in numbers:
        await store.append(timeline, [recorded(learner, n)])


@pytest.fixture
async def engine(database_url):
    engine = create_engine(database_url)
    await create_tables(engine, metadata)
    yield engine
    await engine.dispose()


class CrashBeforeAck(Exception):
    pass


async def test_a_projector_killed_between_commit_and_ack_counts_once_after_restart(
    js, engine, until
):
    await append_evidence(js, "learner-a", range(1, 6))
    fast = RetryPolicy(ack_wait=1.0)

    first = Projector(EvidenceCounts(), js, engine, retry=fast)

    async def die_before_ack(msgs):
        raise CrashBeforeAck

    first._ack = die_before_ack  # the process "dies" right after its SQL commit
    await first.start()
    await until(lambda: _at(first, 5))
    await first.stop()
    assert await counts(engine) == {"learner-a": 5}

    second = Projector(EvidenceCounts(), js, engine, retry=fast)
    await second.start()
    await append_evidence(js, "learner-a", [6])
    await until(lambda: _lag_zero(second))
    await second.stop()

    assert await counts(engine) == {"learner-a": 6}
    assert await second.checkpoint() == 6


async def _at(projector: Projector, sequence: int) -> bool:
    return await projector.checkpoint() >= sequence


async def _lag_zero(projector: Projector) -> bool:
    return await projector.lag() == 0 and await projector.checkpoint() > 0


async def test_a_failing_event_is_retried_with_backoff_then_parked_and_the_rest_flow(
    js, engine, until
):
    await append_evidence(js, "learner-a", [1, 2, 3])
    projection = EvidenceCounts(poison={"ev-learner-a-2"})
    projector = Projector(
        projection, js, engine, retry=RetryPolicy(max_deliver=3, backoff=(0.2, 0.4), ack_wait=5)
    )
    started = asyncio.get_running_loop().time()
    await projector.start()
    await until(lambda: _at(projector, 3))
    elapsed = asyncio.get_running_loop().time() - started
    await projector.stop()

    assert projection.attempts["ev-learner-a-2"] == 3
    assert elapsed >= 0.2 + 0.4  # it waited between deliveries instead of spinning
    assert await counts(engine) == {"learner-a": 2}
    async with engine.connect() as conn:
        parked = (await conn.execute(select(parked_events))).mappings().all()
    assert len(parked) == 1
    assert parked[0]["sequence"] == 2
    assert parked[0]["deliveries"] == 3
    assert "cannot project ev-learner-a-2" in parked[0]["reason"]


async def test_a_restarted_projector_resumes_from_its_checkpoint(js, engine, until):
    await append_evidence(js, "learner-a", [1, 2])
    projection = EvidenceCounts()
    projector = Projector(projection, js, engine)
    await projector.start()
    await until(lambda: _at(projector, 2))
    await projector.stop()

    await append_evidence(js, "learner-b", [1])
    again = EvidenceCounts()
    restarted = Projector(again, js, engine)
    await restarted.start()
    await until(lambda: _at(restarted, 3))
    await restarted.stop()

    assert list(again.attempts) == ["ev-learner-b-1"]
    assert await counts(engine) == {"learner-a": 2, "learner-b": 1}


async def test_rebuild_replays_the_stream_from_the_first_event(js, engine, until):
    await append_evidence(js, "learner-a", [1, 2])
    projector = Projector(EvidenceCounts(), js, engine)
    await projector.start()
    await until(lambda: _at(projector, 2))
    async with engine.begin() as conn:  # the read model is damaged or its schema changed
        await conn.execute(evidence_counts.update().values(count=99))

    await projector.rebuild()
    await until(lambda: _at(projector, 2))
    await projector.stop()

    assert await counts(engine) == {"learner-a": 2}
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(evidence_counts)) == 1


class ExclusiveCounts(EvidenceCounts):
    """The same read model, applied by one replica at a time."""

    exclusive = True


async def test_an_exclusive_read_model_is_applied_by_one_replica_and_taken_up_by_another(
    js, engine, until
):
    """Two replicas sharing a database: one applies, the other stands by without reading the
    stream; when the first stops, the second reads on from the checkpoint — every event counted
    once, and the standby says when the read model has caught up all the same."""
    projections = [ExclusiveCounts(), ExclusiveCounts()]
    first, second = (Projector(p, js, engine, scope="db1", lease_ttl=1.0) for p in projections)
    await first.start()
    await second.start()
    await append_evidence(js, "learner-a", range(1, 6))
    await until(lambda: _at(first, 5))
    assert await second.caught_up(), "the standby knows the read model is current"
    assert sum(projections[1].attempts.values()) == 0, "the standby applied nothing"
    consumers = {c.name for c in await js.consumers_info("EVIDENCE")}
    assert first.consumer.name in consumers
    assert second.consumer.name not in consumers

    await first.stop()  # gives the lease back
    await append_evidence(js, "learner-a", range(6, 9))
    await until(lambda: _at(second, 8), timeout=10)
    await second.stop()
    assert await counts(engine) == {"learner-a": 8}
    assert projections[0].attempts == {f"ev-learner-a-{n}": 1 for n in range(1, 6)}
    assert projections[1].attempts == {f"ev-learner-a-{n}": 1 for n in range(6, 9)}


async def test_exclusive_read_models_in_different_databases_are_each_applied(
    js, engine, until, tmp_path
):
    """The lease is per database: replicas with read models of their own each keep theirs."""
    other = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    await create_tables(other, metadata)
    projections = [ExclusiveCounts(), ExclusiveCounts()]
    first = Projector(projections[0], js, engine, scope="db1", lease_ttl=1.0)
    second = Projector(projections[1], js, other, scope="db2", lease_ttl=1.0)
    await first.start()
    await second.start()
    try:
        await append_evidence(js, "learner-b", range(1, 4))
        await until(lambda: _attempted(projections, 3))
    finally:
        await first.stop()
        await second.stop()
        await other.dispose()
    assert await counts(engine) == await counts(other) == {"learner-b": 3}


async def _attempted(projections, each: int) -> bool:
    return all(sum(p.attempts.values()) >= each for p in projections)
