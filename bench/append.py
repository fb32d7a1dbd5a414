"""Foundation benchmark: appends with concurrency checks, and projector throughput into SQLite.

Each figure is printed beside raw nats-py doing the same publishes / fetches in the same run on
the same server, so the ratio can be read on a noisy machine. Not a test: nothing is asserted.

    make bench            # or: .venv/bin/python bench/append.py --events 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nats
from nats.js import JetStreamContext
from sqlalchemy import Column, Integer, MetaData, String, Table

from eventlog.embedded_nats import EmbeddedNats, free_port
from eventlog.event_store import EventStore
from eventlog.loop import run
from eventlog.projector import Projector
from eventlog.redelivery import RetryPolicy
from eventlog.sql import create_engine, create_tables
from eventlog.stored import StoredEvent
from eventlog.stream_setup import ensure_streams
from shared_events import Envelope, Timeline, encode
from shared_events.events.evidence import EvidenceRecorded

metadata = MetaData()
counts = Table(
    "bench_counts",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("n", Integer, nullable=False),
)


def evidence(learner: str, n: int) -> Envelope:
    now = datetime.now(UTC)
    event = EvidenceRecorded(
        evidence_id=f"ev-{learner}-{n}",
        learner_id=learner,
        competency_id="math.fractions.1",
        score=0.75,
        observed_at=now,
        recorded_at=now,
        partner="bench",
        source_id=f"src-{learner}-{n}",
        source_format="native",
        ingest_sequence=n + 1,
    )
    return Envelope.wrap(event, source="evidence", subject=learner, district="d1")


async def reset(js: JetStreamContext) -> None:
    for info in await js.streams_info():
        await js.delete_stream(info.config.name)
    await ensure_streams(js)


async def ledger_appends(
    js: JetStreamContext, learners: int, per_learner: int, tasks: int
) -> float:
    store = EventStore(js)
    last = dict.fromkeys(range(learners), 0)

    async def worker(ids: list[int]) -> None:
        for n in range(per_learner):
            for i in ids:
                result = await store.append(
                    Timeline("evidence", "d1", f"l{i}"), [evidence(f"l{i}", n)], last[i]
                )
                last[i] = result.last_sequence

    groups = [list(range(learners))[k::tasks] for k in range(tasks)]
    start = time.perf_counter()
    await asyncio.gather(*(worker(g) for g in groups))
    return time.perf_counter() - start


async def raw_publishes(js: JetStreamContext, learners: int, per_learner: int, tasks: int) -> float:
    async def worker(ids: list[int]) -> None:
        for n in range(per_learner):
            for i in ids:
                body, headers = encode(evidence(f"l{i}", n))
                await js.publish(f"evidence.d1.l{i}.recorded", body, headers=headers)

    groups = [list(range(learners))[k::tasks] for k in range(tasks)]
    start = time.perf_counter()
    await asyncio.gather(*(worker(g) for g in groups))
    return time.perf_counter() - start


class BenchCounts:
    name = "bench-counts"
    stream = "EVIDENCE"
    subjects = ("evidence.*.*.recorded",)

    async def apply(self, session, event: StoredEvent) -> None:  # type: ignore[no-untyped-def]
        learner = event.envelope.subject
        updated = await session.execute(
            counts.update().where(counts.c.learner_id == learner).values(n=counts.c.n + 1)
        )
        if updated.rowcount == 0:
            await session.execute(counts.insert().values(learner_id=learner, n=1))

    async def reset(self, session) -> None:  # type: ignore[no-untyped-def]
        await session.execute(counts.delete())


async def projector_run(js: JetStreamContext, total: int, db: Path) -> float:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await create_tables(engine, metadata)
    projector = Projector(BenchCounts(), js, engine, retry=RetryPolicy(), batch=256)
    start = time.perf_counter()
    await projector.start()
    while await projector.checkpoint() < total:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    await projector.stop()
    await engine.dispose()
    return elapsed


async def raw_fetch(js: JetStreamContext, total: int) -> float:
    sub = await js.pull_subscribe("evidence.*.*.recorded", durable="bench-raw", stream="EVIDENCE")
    start = time.perf_counter()
    seen = 0
    while seen < total:
        msgs = await sub.fetch(256, timeout=2)
        for msg in msgs:
            await msg.ack()
        seen += len(msgs)
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    return elapsed


async def raw_fetch_with_sql(js: JetStreamContext, total: int, db: Path) -> float:
    """The same SQL as the projection, hand-written over raw nats-py: no checkpoint, no decode."""
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await create_tables(engine, metadata)
    sub = await js.pull_subscribe("evidence.*.*.recorded", durable="bench-sql", stream="EVIDENCE")
    start = time.perf_counter()
    seen = 0
    while seen < total:
        msgs = await sub.fetch(256, timeout=2)
        async with engine.begin() as conn:
            for msg in msgs:
                learner = json.loads(msg.data)["subject"]
                updated = await conn.execute(
                    counts.update().where(counts.c.learner_id == learner).values(n=counts.c.n + 1)
                )
                if updated.rowcount == 0:
                    await conn.execute(counts.insert().values(learner_id=learner, n=1))
        for msg in msgs:
            await msg.ack()
        seen += len(msgs)
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    await engine.dispose()
    return elapsed


def line(label: str, events: int, ours: list[float], raw: list[float]) -> str:
    o, r = statistics.median(ours), statistics.median(raw)
    return (
        f"{label:<44} {events / o:>10.0f} ev/s   raw nats-py {events / r:>10.0f} ev/s"
        f"   ratio {r / o:>5.2f}"
    )


async def main(events: int, learners: int, rounds: int) -> None:
    per_learner = max(1, events // learners)
    total = per_learner * learners
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats", port=free_port())
        url = server.start()
        nc = await nats.connect(url)
        js = nc.jetstream()
        results: dict[str, tuple[list[float], list[float]]] = {}
        try:
            for tasks in (1, 16):
                label = f"append, expected-sequence check, {tasks} task(s)"
                ours, raw = [], []
                for _ in range(rounds):
                    await reset(js)
                    ours.append(await ledger_appends(js, learners, per_learner, tasks))
                    await reset(js)
                    raw.append(await raw_publishes(js, learners, per_learner, tasks))
                results[label] = (ours, raw)
            ours, raw = [], []
            for r in range(rounds):
                await reset(js)
                await raw_publishes(js, learners, per_learner, 16)
                ours.append(await projector_run(js, total, Path(tmp) / f"proj{r}.db"))
                raw.append(await raw_fetch(js, total))
            results["projector into SQLite (batch 256)"] = (ours, raw)
            ours, raw = [], []
            for r in range(rounds):
                await reset(js)
                await raw_publishes(js, learners, per_learner, 16)
                ours.append(await projector_run(js, total, Path(tmp) / f"p{r}.db"))
                raw.append(await raw_fetch_with_sql(js, total, Path(tmp) / f"s{r}.db"))
            results["projector vs the same SQL over raw nats-py"] = (ours, raw)
        finally:
            await nc.close()
            server.stop()
    print(
        f"{total} events over {learners} learners, median of {rounds} rounds, nats-server embedded"
    )
    print("ratio = ledger throughput / raw nats-py throughput (1.00 = as fast as raw)")
    for label, (ours, raw) in results.items():
        print(line(label, total, ours, raw))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(main(args.events, args.learners, args.rounds))
