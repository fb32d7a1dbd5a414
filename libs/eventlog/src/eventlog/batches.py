"""A durable consumer worked a batch at a time by the one replica holding its lease.

For input whose order matters per entity but whose entity is only known after reading it (raw
partner submissions name their learner inside the body), one message in flight at a time keeps
order but caps throughput at one round trip per message. Here the replica holding the lease
fetches up to `batch` messages at once and hands them all to the handler, which may work on
independent ones concurrently as long as it keeps each entity's messages in order. With
`depth` above one, the next batch is fetched and handed over while earlier ones still run; the
handler then orders each entity's messages across batches too. The other
replicas stand by and take the lease over when the holder stops renewing it (a crash) or gives
it up (a shutdown). A new holder fetches nothing until the messages the previous one had in
hand are acknowledged or due again (`ack_wait`), so they are handled before anything newer.

The handler returns one result per message: None to acknowledge it, or the exception that
failed it — NAKed with the retry policy's backoff, parked after the last delivery. After a
failure nothing new is fetched until the failed message is due again, so it comes back ahead of
the messages behind it (JetStream hands out redeliveries before new messages).

A consumer that is not `exclusive` has no lease: every replica fetches from it, and the handler
keeps order within its own process. Either way, messages in hand are kept from redelivery by
progress notices (`in_progress`) every third of `ack_wait`, so `ack_wait` can be short and a
dead replica's messages come back within seconds; a message delivered again while this process
still has it in hand (after a broker restart) is not handed over twice, and is acknowledged with
the first. On its last failed delivery, a message is handed to `on_parked` (to record a verdict)
before it is parked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from eventlog.consumers import ConsumerSpec, ensure_consumer
from eventlog.lease import Lease
from eventlog.redelivery import RetryPolicy, park, reason_of
from eventlog.sharing import FairShare, Partition
from eventlog.sql import sessions
from eventlog.stored import RawStored
from eventlog.telemetry import tracer
from shared_events import Envelope
from shared_events.codec import UndecodableEvent, decode

log = logging.getLogger(__name__)
_tracer = tracer(__name__)

REQUEUE_MARGIN = 0.5  # seconds
SHARED_BY = 4
"""Replicas a consumer that is not exclusive leaves room in flight for."""

BatchHandler = Callable[[Sequence[RawStored]], Awaitable[Sequence[Exception | None]]]
ParkedHandler = Callable[[RawStored, str], Awaitable[None]]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def decoded(
    batch: Sequence[RawStored], results: list[Exception | None]
) -> list[tuple[int, Envelope]]:
    """The batch's events with their positions; what does not decode gets its error as its
    result (it is retried, then parked)."""
    found = []
    for index, raw in enumerate(batch):
        try:
            found.append((index, decode(raw.body)))
        except UndecodableEvent as exc:
            results[index] = exc
    return found


async def in_order_per_key(
    groups: Mapping[K, Sequence[tuple[int, T]]],
    step: Callable[[K, T], Awaitable[None]],
    results: list[Exception | None],
) -> None:
    """Work the groups concurrently and each group's items in order (`(position, item)`). A
    failed item's exception is its result, and every later item of its group fails with it,
    so they come back behind it."""

    async def one_group(key: K, items: Sequence[tuple[int, T]]) -> None:
        failed: Exception | None = None
        for index, item in items:
            if failed is None:
                try:
                    await step(key, item)
                    continue
                except Exception as exc:
                    failed = exc
            results[index] = failed

    await asyncio.gather(*(one_group(key, items) for key, items in groups.items()))


class EarlierWorkStopped(Exception):
    """The work before this one on its key was cancelled: this one comes again behind it."""


class PerKeyLine(Generic[K]):
    """Work on each key in the order it was started, across batches in hand at once: a key's
    work starts when the key's work started before it has ended, and is told how that ended
    (its failure, or None). Keys are worked side by side. Nothing is remembered of a key once
    its last work has ended."""

    def __init__(self) -> None:
        self._last: dict[K, asyncio.Task[Exception | None]] = {}

    def start(
        self, key: K, work: Callable[[Exception | None], Awaitable[Exception | None]]
    ) -> asyncio.Task[Exception | None]:
        """Start `work(earlier failure)` behind the key's earlier work; the task's result is
        the failure `work` returns (an exception it raises counts as returned)."""
        task = asyncio.create_task(self._after(self._last.get(key), work))
        self._last[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))
        return task

    @staticmethod
    async def _after(
        before: asyncio.Task[Exception | None] | None,
        work: Callable[[Exception | None], Awaitable[Exception | None]],
    ) -> Exception | None:
        failed: Exception | None = None
        if before is not None:
            await asyncio.wait([before])  # however it ended
            failed = EarlierWorkStopped() if before.cancelled() else before.result()
        try:
            return await work(failed)
        except Exception as exc:
            return exc

    def _forget(self, key: K, done: asyncio.Task[Exception | None]) -> None:
        if self._last.get(key) is done:
            del self._last[key]


class BatchConsumer:
    def __init__(
        self,
        name: str,
        *,
        stream: str,
        subjects: tuple[str, ...],
        handler: BatchHandler,
        batch: int = 256,
        depth: int = 1,
        retry: RetryPolicy | None = None,
        lease_ttl: float = 10.0,
        poll: float = 1.0,
        description: str = "",
        exclusive: bool = True,
        on_parked: ParkedHandler | None = None,
        partition: Partition | None = None,
        share: FairShare | None = None,
    ) -> None:
        self.spec = ConsumerSpec(
            name=name,
            stream=stream,
            subjects=subjects,
            retry=retry or RetryPolicy(),
            # Shared by every replica fetching from it: room for several replicas' batches.
            max_ack_pending=batch * depth * (1 if exclusive or partition else SHARED_BY),
            description=description or f"batch consumer {name}",
        )
        self.handler = handler
        self.exclusive = exclusive or partition is not None
        self.partition = partition
        self.share = share
        if share is not None:
            share.partitions.append(self)
        self.on_parked = on_parked
        self.batch = batch
        self.depth = depth
        self.lease_ttl = lease_ttl
        self.poll = poll
        self.lease: Lease | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._engine: AsyncEngine | None = None
        self._resume_at = 0.0
        self._in_hand: dict[int, list[Msg]] = {}  # stream sequence → its deliveries in hand
        self._touched: dict[int, float] = {}  # stream sequence → when the server last heard of it

    async def start(
        self,
        js: JetStreamContext,
        engine: AsyncEngine,
        ack_wait: float | None = None,
        lease_ttl: float | None = None,
        reconnects: Callable[[], int] = lambda: 0,
    ) -> None:
        """Start fetching. `reconnects()` counts the connection's reconnects: after one, what
        the server had sent and this process never got is let come back first."""
        if ack_wait is not None:
            self.spec = replace(self.spec, retry=replace(self.spec.retry, ack_wait=ack_wait))
        self.lease_ttl = lease_ttl or self.lease_ttl
        await ensure_consumer(js, self.spec)
        self._engine = engine
        self._reconnects = reconnects
        replica = self.share.replica if self.share is not None else uuid.uuid4().hex[:8]
        if self.exclusive:
            self.lease = Lease(js, self.spec.name, f"{self.spec.name}-{replica}", self.lease_ttl)
        if self.share is not None:
            self.share.join(js, self.lease_ttl)
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(js), name=f"batch {self.spec.name}")

    async def stop(self) -> None:
        """Finish the batch in hand, then give the lease up."""
        self._stopping.set()
        if self._task is not None:
            if not self._task.done():
                await asyncio.wait([self._task])
            if not self._task.cancelled() and self._task.exception() is not None:
                log.error(
                    "%s: the consumer had stopped: %r", self.spec.name, self._task.exception()
                )
            self._task = None
        if self.lease is not None:
            with contextlib.suppress(Exception):
                await self.lease.release()
        if self.share is not None:
            await self.share.leave()

    @classmethod
    def partitioned(
        cls, name: str, *, count: int, tokens: tuple[int, ...], **options: Any
    ) -> list[BatchConsumer]:
        """`count` consumers of the same subjects, partition `i` taking the entities whose
        subject tokens at `tokens` hash to `i`; replicas share them (`eventlog.sharing`)."""
        share = FairShare(name, count)
        return [
            cls(
                f"{name}-{index + 1}of{count}",
                partition=Partition(index, count, tokens),
                share=share,
                **options,
            )
            for index in range(count)
        ]

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self, js: JetStreamContext) -> None:
        sub = await js.pull_subscribe_bind(self.spec.name, stream=self.spec.stream)
        running: set[asyncio.Task[None]] = set()
        heartbeat = asyncio.create_task(self._keep_in_hand(), name=f"{self.spec.name} progress")

        def reap() -> None:
            for task in [t for t in running if t.done()]:
                running.discard(task)
                task.result()  # a handler that died takes the consumer with it

        held = False
        held_back: list[Msg] = []
        reconnects = self._reconnects()
        try:
            while not self._stopping.is_set():
                reap()
                if len(running) >= self.depth:
                    await asyncio.wait(running, return_when="FIRST_COMPLETED")
                    continue
                if not await self._hold():
                    held = False
                    await self._pause(self.lease_ttl / 4)
                    continue
                if not held or reconnects != self._reconnects():
                    # A lease just taken, the first fetch, or the first since a reconnect:
                    # messages sent before (to a dead holder, or lost with the connection)
                    # come back ahead of anything newer.
                    held, reconnects = True, self._reconnects()
                    await self._take_over(js)
                    continue
                wait = self._resume_at - asyncio.get_running_loop().time()
                if wait > 0:
                    # A message failed: let it come back before anything newer is fetched.
                    await self._pause(wait)
                    continue
                try:
                    msgs = held_back + await sub.fetch(self.batch, timeout=self.poll)
                except TimeoutError:
                    if not held_back:
                        continue
                    msgs = held_back  # what failed did not come back (parked): go on without it
                except Exception as exc:
                    log.warning("%s: fetch failed: %s", self.spec.name, reason_of(exc))
                    await self._pause(self.poll)
                    continue
                reap()  # not a message more if a batch died while this one was fetched
                if self._resume_at > asyncio.get_running_loop().time():
                    # A message failed while these were fetched: they wait for it to come back
                    # and are handed over with it, in log order.
                    held_back = msgs
                    continue
                held_back = []
                msgs = self._new_in_hand(msgs)
                if msgs:
                    running.add(asyncio.create_task(self._handle(msgs)))
            if running:
                await asyncio.wait(running)
        except BaseException:
            for task in running:
                task.cancel()  # dying: the batches in hand are dropped, unacknowledged
            raise
        finally:
            heartbeat.cancel()
            self._in_hand.clear()
            self._touched.clear()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def _new_in_hand(self, msgs: list[Msg]) -> list[Msg]:
        """The fetched messages not already in hand, in log order; a second delivery of one in
        hand is kept with it, to be answered with it."""
        new = []
        now = asyncio.get_running_loop().time()
        for msg in sorted(msgs, key=lambda m: m.metadata.sequence.stream):
            deliveries = self._in_hand.setdefault(msg.metadata.sequence.stream, [])
            deliveries.append(msg)
            self._touched[msg.metadata.sequence.stream] = now
            if len(deliveries) == 1:
                new.append(msg)
        return new

    async def _keep_in_hand(self) -> None:
        """Tell the server that the messages in hand for a quarter of ack_wait or more are
        being worked on (at most half of ack_wait after it last heard of them), so only a dead
        process's messages are delivered again — and a message answered soon costs nothing.
        Not once the lease is lost: a replica stuck on a batch lets it go to the new holder."""
        period = self.spec.retry.ack_wait / 4
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            if self.lease is not None and not self.lease.held:
                continue  # the partition is another replica's now: let its messages go there
            due = loop.time() - period
            for sequence, deliveries in list(self._in_hand.items()):
                if self._touched.get(sequence, 0.0) > due:
                    continue
                self._touched[sequence] = loop.time()
                with contextlib.suppress(Exception):  # disconnected: redelivery will tell
                    await deliveries[-1].in_progress()

    async def _take_over(self, js: JetStreamContext) -> None:
        """Wait until nothing is awaiting acknowledgement but what this process has in hand,
        or until the rest is due again (`ack_wait`), so it is handled before anything newer."""
        loop = asyncio.get_running_loop()
        ack_wait = self.spec.retry.ack_wait
        # Past ack_wait, with a margin for the server's own check of what is overdue.
        deadline = loop.time() + ack_wait + REQUEUE_MARGIN
        while not self._stopping.is_set() and loop.time() < deadline:
            try:
                info = await js.consumer_info(self.spec.stream, self.spec.name)
            except Exception as exc:
                log.warning("%s: consumer info failed: %s", self.spec.name, reason_of(exc))
                info = None
            if info is not None and (info.num_ack_pending or 0) <= len(self._in_hand):
                return
            await self._pause(min(0.5, deadline - loop.time()))
        log.info("%s: a previous holder's messages are due again; taking over", self.spec.name)

    async def _hold(self) -> bool:
        """Hold the lease, renewing it once a third of its time has passed (always, when the
        consumer is not exclusive)."""
        if self.lease is None:
            return True
        try:
            if self.share is not None and not await self.share.may_hold(self):
                if self.lease.held:
                    await self.lease.release()  # beyond this replica's share: hand it on
                return False
            if self.lease.held and self.lease.remaining > self.lease_ttl * 2 / 3:
                return True
            return await self.lease.acquire()
        except Exception as exc:
            log.warning("%s: lease check failed: %s", self.spec.name, reason_of(exc))
            return False

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _handle(self, msgs: list[Msg]) -> None:
        with _tracer.start_as_current_span(
            f"handle {self.spec.name}",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": self.spec.stream,
                "messaging.consumer.group.name": self.spec.name,
                "messaging.batch.message_count": len(msgs),
            },
        ):
            results: list[Exception | None] = [None] * len(msgs)
            mine = [i for i, m in enumerate(msgs) if self._mine(m)]
            try:
                handled = (
                    await self.handler([RawStored.from_msg(msgs[i]) for i in mine]) if mine else []
                )
            except Exception as exc:
                handled = [exc] * len(mine)
            for index, result in zip(mine, handled, strict=True):
                results[index] = result
        for msg, result in zip(msgs, results, strict=True):
            deliveries = self._in_hand.pop(msg.metadata.sequence.stream, [msg])
            self._touched.pop(msg.metadata.sequence.stream, None)
            for delivery in deliveries[:-1]:  # superseded by the last delivery
                with contextlib.suppress(Exception):
                    await delivery.ack()
            if result is None:
                await deliveries[-1].ack()
            else:
                await self._failed(deliveries[-1], result)

    def _mine(self, msg: Msg) -> bool:
        return self.partition is None or self.partition.holds(msg.subject)

    async def _failed(self, msg: Msg, exc: Exception) -> None:
        deliveries = msg.metadata.num_delivered
        retry = self.spec.retry
        if not retry.exhausted(deliveries) or self._engine is None:
            delay = retry.delay(deliveries)
            await msg.nak(delay=delay)
            loop_time = asyncio.get_running_loop().time()
            # Past its redelivery time, with a margin for the server to queue it again.
            self._resume_at = max(self._resume_at, loop_time + delay + REQUEUE_MARGIN)
            log.warning(
                "%s: message at %d failed (delivery %d): %s",
                self.spec.name,
                msg.metadata.sequence.stream,
                deliveries,
                reason_of(exc),
            )
            return
        if self.on_parked is not None:
            try:
                await self.on_parked(RawStored.from_msg(msg), reason_of(exc))
            except Exception as hook_failed:
                log.warning("%s: could not record a verdict: %s", self.spec.name, hook_failed)
                await msg.nak(delay=retry.delay(deliveries))
                return
        async with sessions(self._engine)() as session, session.begin():
            await park(session, self.spec.name, msg, reason_of(exc))
        await msg.ack()
