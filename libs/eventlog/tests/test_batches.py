"""Leases and batch consumers, against a real NATS server and database: one replica works the
consumer at a time, a failed message is retried without holding the others back, and a standby
takes over when the holder goes away."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from eventlog.batches import BatchConsumer
from eventlog.lease import Lease
from eventlog.redelivery import RetryPolicy
from eventlog.sql import create_engine, create_tables
from eventlog.stored import RawStored

pytestmark = pytest.mark.integration


async def test_a_lease_has_one_holder_until_it_expires_or_is_released(js):
    first = Lease(js, "intake", "replica-1", ttl=0.6)
    second = Lease(js, "intake", "replica-2", ttl=0.6)

    assert await first.acquire()
    assert not await second.acquire()
    assert (await second.holding()).holder == "replica-1"
    assert await first.renew()

    await asyncio.sleep(0.8)  # the holder stopped renewing: it died
    assert not first.held
    assert await second.acquire()
    assert not await first.renew(), "a lease taken over cannot be renewed by its old holder"
    assert not await first.acquire()

    await second.release()
    assert await second.holding() is None
    assert await first.acquire(), "a released lease is free at once"


async def test_a_batch_consumer_retries_a_failed_message_ahead_of_newer_ones(js, tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    await create_tables(engine)
    for n in range(40):
        await js.publish("ingest.p.native", str(n).encode(), stream="INGEST")
    batches: list[list[int]] = []
    failures = {"7": 1}  # message 7 fails once, then succeeds

    async def handler(batch: Sequence[RawStored]) -> list[Exception | None]:
        batches.append([int(m.body) for m in batch])
        results: list[Exception | None] = []
        for message in batch:
            key = message.body.decode()
            if failures.get(key, 0) > 0:
                failures[key] -= 1
                results.append(RuntimeError("store unavailable"))
            else:
                results.append(None)
        return results

    consumer = BatchConsumer(
        "test-batch",
        stream="INGEST",
        subjects=("ingest.*.*",),
        handler=handler,
        batch=16,
        retry=RetryPolicy(max_deliver=3, backoff=(0.2,)),
        poll=0.2,
    )
    await consumer.start(js, engine)
    try:
        for _ in range(100):
            info = await js.consumer_info("INGEST", "test-batch")
            if info.num_pending == 0 and info.num_ack_pending == 0 and len(batches) > 1:
                break
            await asyncio.sleep(0.05)
    finally:
        await consumer.stop()
        await engine.dispose()

    seen = [n for batch in batches for n in batch]
    assert max(len(b) for b in batches) > 1, "messages arrive several at a time"
    assert max(len(b) for b in batches) <= 16
    assert sorted(set(seen)) == list(range(40))
    assert seen.count(7) == 2, "the failed message came back once; the others only once"
    retried_at = len(seen) - 1 - seen[::-1].index(7)
    assert retried_at < seen.index(16), "the failed message came back before newer ones"
    assert len(seen) == 41
    info = await js.consumer_info("INGEST", "test-batch")
    assert info.num_pending == 0 and info.num_ack_pending == 0


async def test_a_standby_replica_works_the_consumer_only_once_the_holder_has_gone(js, tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}")
    await create_tables(engine)
    seen: dict[str, list[int]] = {"a": [], "b": []}

    def handler_of(replica: str):
        async def handler(batch: Sequence[RawStored]) -> list[Exception | None]:
            seen[replica] += [int(m.body) for m in batch]
            return [None] * len(batch)

        return handler

    def replica(name: str) -> BatchConsumer:
        return BatchConsumer(
            "test-standby",
            stream="INGEST",
            subjects=("ingest.*.*",),
            handler=handler_of(name),
            batch=8,
            lease_ttl=1.0,
            poll=0.1,
        )

    a, b = replica("a"), replica("b")
    await a.start(js, engine)
    for _ in range(50):
        if a.lease and a.lease.held:
            break
        await asyncio.sleep(0.05)
    await b.start(js, engine)
    try:
        for n in range(20):
            await js.publish("ingest.p.native", str(n).encode(), stream="INGEST")
        for _ in range(100):
            if len(seen["a"]) == 20:
                break
            await asyncio.sleep(0.05)
        await a.stop()  # gives the lease up
        for n in range(20, 30):
            await js.publish("ingest.p.native", str(n).encode(), stream="INGEST")
        for _ in range(100):
            if len(seen["b"]) == 10:
                break
            await asyncio.sleep(0.05)
    finally:
        await b.stop()
        await engine.dispose()

    assert seen["a"] == list(range(20)), "only the holder worked while it held the lease"
    assert seen["b"] == list(range(20, 30))


async def test_items_of_a_key_go_in_order_and_fail_behind_a_failure_while_other_keys_flow():
    from eventlog.batches import in_order_per_key

    done: list[str] = []

    async def step(key: str, item: str) -> None:
        await asyncio.sleep(0.001 if key == "a" else 0)
        if item == "a2":
            raise ValueError("a2 refused")
        done.append(item)

    results: list[Exception | None] = [None] * 5
    groups = {"a": [(0, "a1"), (2, "a2"), (4, "a3")], "b": [(1, "b1"), (3, "b2")]}
    await in_order_per_key(groups, step, results)
    assert "a1" in done and "a3" not in done
    assert [d for d in done if d.startswith("b")] == ["b1", "b2"]
    assert [type(r).__name__ if r else None for r in results] == [
        None,
        None,
        "ValueError",
        None,
        "ValueError",
    ]
    assert results[2] is results[4]


async def test_a_keys_work_waits_for_its_earlier_work_and_is_told_how_it_ended():
    """Across batches in hand at once: a key's later work starts after its earlier work and
    hears of its failure — or of its cancellation, as a failure, never as a success."""
    from eventlog.batches import EarlierWorkStopped, PerKeyLine

    line: PerKeyLine[str] = PerKeyLine()
    order: list[str] = []
    release = asyncio.Event()

    def work(name: str, fails: bool = False):
        async def run(failed: Exception | None) -> Exception | None:
            order.append(f"{name} after {type(failed).__name__ if failed else 'nothing'}")
            if name == "a1":
                await release.wait()
            return ValueError(name) if fails else failed

        return run

    a1 = line.start("a", work("a1", fails=True))
    a2 = line.start("a", work("a2"))
    b1 = line.start("b", work("b1"))
    assert await b1 is None, "another key does not wait"
    assert order == ["a1 after nothing", "b1 after nothing"]
    release.set()
    assert isinstance(await a2, ValueError) and isinstance(await a1, ValueError)
    assert order[-1] == "a2 after ValueError"

    stuck = line.start("c", work("a1"))  # waits on `release` again
    release.clear()
    behind = line.start("c", work("c2"))
    await asyncio.sleep(0)
    stuck.cancel()
    assert isinstance(await behind, EarlierWorkStopped)
