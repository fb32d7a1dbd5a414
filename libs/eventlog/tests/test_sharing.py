"""Partitioned batch consumers against a real NATS server: every entity falls in exactly one
partition; two replicas split the partitions between them and each entity's messages are
handled by one of them, in log order; when one replica stops, the other takes its partitions
up and nothing is lost."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

import pytest

from eventlog.batches import BatchConsumer
from eventlog.sharing import Partition
from eventlog.sql import create_engine, create_tables
from eventlog.stored import RawStored

pytestmark = pytest.mark.integration

PARTITIONS = 4


def test_every_entity_falls_in_exactly_one_partition():
    partitions = [Partition(i, PARTITIONS, (1, 2)) for i in range(PARTITIONS)]
    subjects = [f"evidence.d{n % 3}.lrn-{n}.mastery" for n in range(400)]
    for subject in subjects:
        assert sum(p.holds(subject) for p in partitions) == 1
    sizes = [sum(p.holds(s) for s in subjects) for p in partitions]
    assert min(sizes) > 50, f"the learners spread over the partitions: {sizes}"
    same_learner = "evidence.d1.lrn-7.mastery", "evidence.d1.lrn-7.recorded"
    assert [p.holds(same_learner[0]) for p in partitions] == [
        p.holds(same_learner[1]) for p in partitions
    ]


class Replica:
    """One replica's partitioned consumers and what its handler saw, per learner."""

    def __init__(self, name: str, seen: dict[str, list[tuple[str, int]]]) -> None:
        self.name = name
        self.seen = seen
        self.consumers = BatchConsumer.partitioned(
            "sharing-test",
            count=PARTITIONS,
            tokens=(1, 2),
            stream="EVIDENCE",
            subjects=("evidence.*.*.mastery",),
            handler=self.handle,
            batch=32,
            lease_ttl=1.5,
            poll=0.2,
        )

    async def handle(self, batch: Sequence[RawStored]) -> list[Exception | None]:
        for message in batch:
            learner = message.subject.split(".")[2]
            self.seen[learner].append((self.name, int(message.body)))
        await asyncio.sleep(0.01)
        return [None] * len(batch)

    async def start(self, js, engine) -> None:
        for consumer in self.consumers:
            await consumer.start(js, engine, ack_wait=1.0, lease_ttl=1.5)

    async def stop(self) -> None:
        for consumer in self.consumers:
            await consumer.stop()

    def holding(self) -> int:
        return sum(1 for c in self.consumers if c.lease is not None and c.lease.held)


async def test_two_replicas_share_the_partitions_and_each_learner_stays_in_order(
    js, tmp_path, until
):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    await create_tables(engine)
    seen: dict[str, list[tuple[str, int]]] = defaultdict(list)
    first, second = Replica("first", seen), Replica("second", seen)
    await first.start(js, engine)
    await until(lambda: first.holding() == PARTITIONS)
    await second.start(js, engine)
    await until(lambda: first.holding() == second.holding() == PARTITIONS // 2, timeout=20)

    for n in range(300):
        await js.publish(f"evidence.d1.lrn-{n % 30}.mastery", str(n).encode())
    await until(lambda: sum(len(v) for v in seen.values()) >= 300, timeout=30)
    workers = {name for handled in seen.values() for name, _ in handled}
    assert workers == {"first", "second"}, "both replicas took decisions in"
    for learner, handled in seen.items():
        assert len({name for name, _ in handled}) == 1, f"{learner} stays with one replica"
        numbers = [n for _, n in handled]
        assert numbers == sorted(numbers), f"{learner} in log order"

    await second.stop()
    await until(lambda: first.holding() == PARTITIONS, timeout=20)
    for n in range(300, 360):
        await js.publish(f"evidence.d1.lrn-{n % 30}.mastery", str(n).encode())
    await until(lambda: sum(len(v) for v in seen.values()) >= 360, timeout=30)
    assert all(name == "first" for handled in seen.values() for name, n in handled if n >= 300)
    assert sorted(n for handled in seen.values() for _, n in handled) == list(range(360))
    await first.stop()
    await engine.dispose()
