"""Projectors: keep a read model in SQL up to date with a stream, exactly once in effect.

Each batch is applied in one transaction that also moves the projection's checkpoint; messages are
acknowledged only after the commit. A redelivered message at or below the checkpoint (the process
died between commit and ack) is acknowledged without being applied again. A failing event is
NAKed with backoff; after its last delivery it is parked with the reason and the projector moves
on. `rebuild` empties the read model and replays the stream from sequence 1.

A projection marked `exclusive` (a heavy per-learner read model) is applied by one replica at a
time among those sharing a database, under a lease: the others stand by without reading the
stream, and the one that takes the lease up reads on from the checkpoint. Replicas then share
the work of the services instead of each applying every event of every read model.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Sequence
from typing import Protocol

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from eventlog.consumers import ConsumerSpec, ensure_consumer
from eventlog.lease import Lease
from eventlog.redelivery import RetryPolicy, park, reason_of
from eventlog.sql import checkpoints, sessions
from eventlog.stored import StoredEvent
from eventlog.tasks import cancel_and_wait

log = logging.getLogger(__name__)

INACTIVE_CONSUMER_SECONDS = 600.0


class Projection(Protocol):
    """A read model fed from one stream."""

    @property
    def name(self) -> str:
        """Unique per read model; also names its checkpoint and durable consumer."""

    @property
    def stream(self) -> str: ...

    @property
    def subjects(self) -> tuple[str, ...]: ...

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        """Fold one event into the read model (inside the projector's transaction)."""

    async def reset(self, session: AsyncSession) -> None:
        """Delete every row of the read model, before a rebuild."""


class _FailedAt(Exception):
    def __init__(self, index: int, cause: BaseException) -> None:
        self.index, self.cause = index, cause


class Projector:
    def __init__(
        self,
        projection: Projection,
        js: JetStreamContext,
        engine: AsyncEngine,
        *,
        retry: RetryPolicy | None = None,
        batch: int = 256,
        fetch_timeout: float = 1.0,
        scope: str = "",
        lease_ttl: float = 10.0,
    ) -> None:
        """`scope` names the database the read model lives in: exclusive projections of
        replicas with the same scope take turns under one lease."""
        self.projection = projection
        self.js = js
        self.sessions = sessions(engine)
        self.retry = retry or RetryPolicy()
        self.batch = batch
        self.fetch_timeout = fetch_timeout
        # A projection may let events gather for a moment after a short batch (seconds): fewer,
        # larger transactions under a steady trickle, for that much more read-model lag.
        self.linger: float = getattr(projection, "linger", 0.0)
        # Every running projector reads the whole stream through a consumer of its own, starting
        # after the checkpoint; replicas sharing a database skip what another already applied
        # (the checkpoint is read and written in the same transaction as the rows). A shared
        # durable would split the events between replicas and break their order. A consumer
        # left behind by a stopped process is removed by the server once it is inactive.
        self.consumer = ConsumerSpec(
            name=f"projector-{projection.name}-{uuid.uuid4().hex[:8]}",
            stream=projection.stream,
            subjects=projection.subjects,
            retry=self.retry,
            description=f"read model {projection.name}",
            inactive_threshold=INACTIVE_CONSUMER_SECONDS,
            # Applied in order and committed with the checkpoint: the last message of what was
            # committed acknowledges everything before it (one ack a batch, not one an event).
            ack_policy=AckPolicy.ALL,
        )
        self.lease: Lease | None = None
        if getattr(projection, "exclusive", False):
            holder = self.consumer.name.rsplit("-", 1)[-1]
            self.lease = Lease(
                js, f"projector-{projection.name}-{scope or 'local'}", holder, lease_ttl
            )
        self._task: asyncio.Task[None] | None = None
        self._opened = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self._opened = self.lease is None or await self._hold()
        if self._opened:
            await self._open()
        self._task = asyncio.create_task(self._run(), name=self.consumer.name)

    async def _open(self) -> None:
        """The consumer, from the event after the checkpoint (again, after a standby)."""
        checkpoint = await self.checkpoint()
        if self.lease is not None:
            with contextlib.suppress(NotFoundError):
                await self.js.delete_consumer(self.consumer.stream, self.consumer.name)
        await ensure_consumer(self.js, self.consumer, start_sequence=checkpoint + 1)

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])
            self._task = None
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(self.consumer.stream, self.consumer.name)
        if self.lease is not None:
            with contextlib.suppress(Exception):
                await self.lease.release()  # a standby takes the read model up at once

    async def rebuild(self) -> None:
        """Forget the read model and the consumer; replay the whole stream into it."""
        running = self._task is not None
        await self.stop()
        async with self.sessions() as session, session.begin():
            await self.projection.reset(session)
            await self._write_checkpoint(session, 0)
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.consumer.stream, self.consumer.name)
        if running:
            await self.start()

    async def checkpoint(self) -> int:
        async with self.sessions() as session:
            value = await session.scalar(
                select(checkpoints.c.last_sequence).where(
                    checkpoints.c.projection == self.projection.name
                )
            )
        return int(value or 0)

    async def caught_up(self) -> bool:
        """Every event delivered so far is applied (or parked) and nothing is waiting (on a
        standby: every event stored so far is applied, by whichever replica holds the lease)."""
        if self.lease is not None and not self.lease.held:
            return await self.checkpoint() >= await self._last_stored()
        try:
            info = await self.js.consumer_info(self.consumer.stream, self.consumer.name)
        except NotFoundError:  # the lease just taken, the consumer not yet opened
            return await self.checkpoint() >= await self._last_stored()
        delivered = info.delivered.stream_seq if info.delivered else 0
        return not info.num_pending and await self.checkpoint() >= delivered

    async def _last_stored(self) -> int:
        """The stream sequence of the last event the projection reads (0: none yet)."""
        last = 0
        for subject in self.projection.subjects:
            with contextlib.suppress(NotFoundError):
                found = await self.js.get_last_msg(self.consumer.stream, subject, direct=True)
                last = max(last, int(found.seq or 0))
        return last

    async def wait_caught_up(self, timeout: float = 10.0) -> None:
        """Wait until the read model reflects the log, before deciding from it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not await self.caught_up():
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"read model {self.projection.name} is still catching up")
            await asyncio.sleep(0.02)

    async def lag(self) -> int:
        """How many stored events of its subjects the projection has not applied yet (on a
        standby: at most that many)."""
        if self.lease is None or self.lease.held:
            with contextlib.suppress(NotFoundError):
                info = await self.js.consumer_info(self.consumer.stream, self.consumer.name)
                return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        return max(0, await self._last_stored() - await self.checkpoint())

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        opened = self._opened
        sub = None
        try:
            while True:
                if self.lease is not None and not await self._hold():
                    if sub is not None:  # another replica holds the read model now
                        with contextlib.suppress(Exception):
                            await sub.unsubscribe()
                        sub, opened = None, False
                    await asyncio.sleep(self.lease.ttl / 4)
                    continue
                if sub is None:
                    if not opened:
                        await self._open()
                    opened = True
                    sub = await self.js.pull_subscribe_bind(
                        durable=self.consumer.name, stream=self.consumer.stream
                    )
                try:
                    msgs = await sub.fetch(self.batch, timeout=self.fetch_timeout)
                except (TimeoutError, NatsTimeout):
                    continue
                try:
                    await self.handle(msgs)
                    if self.linger and len(msgs) < self.batch:
                        await asyncio.sleep(self.linger)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The database is unreachable or similar: nothing was acked, so the batch
                    # comes back after ack_wait. Pause instead of spinning.
                    log.exception("projector %s: batch failed", self.projection.name)
                    await asyncio.sleep(1.0)
        finally:
            if sub is not None:
                with contextlib.suppress(Exception):
                    await sub.unsubscribe()

    async def _hold(self) -> bool:
        """Hold the lease, renewing it once a third of its time has passed."""
        assert self.lease is not None
        if self.lease.held and self.lease.remaining > self.lease.ttl * 2 / 3:
            return True
        try:
            return await self.lease.acquire()
        except Exception as exc:
            log.warning("projector %s: lease check failed: %s", self.projection.name, exc)
            return False

    async def handle(self, msgs: Sequence[Msg]) -> None:
        """Apply a fetched batch: commit, then ack; NAK or park what fails."""
        pending = list(msgs)
        while pending:
            try:
                await self._commit(pending)
            except _FailedAt as failure:
                done, failed, rest = (
                    pending[: failure.index],
                    pending[failure.index],
                    pending[failure.index + 1 :],
                )
                if done:
                    await self._commit(done)
                    await self._ack(done)
                deliveries = failed.metadata.num_delivered
                if self.retry.exhausted(deliveries):
                    async with self.sessions() as session, session.begin():
                        await park(session, self.projection.name, failed, reason_of(failure.cause))
                        await self._write_checkpoint(session, failed.metadata.sequence.stream)
                    await self._ack([failed])
                    pending = rest
                    continue
                delay = self.retry.delay(deliveries)
                log.warning(
                    "projector %s: event at %d failed (delivery %d), retry in %.1fs: %s",
                    self.projection.name,
                    failed.metadata.sequence.stream,
                    deliveries,
                    delay,
                    reason_of(failure.cause),
                )
                # Everything behind the failed event goes back too, so order is kept; the pause
                # lets the redeliveries come back before any newer event is fetched.
                for msg in [failed, *rest]:
                    await msg.nak(delay=delay)
                await asyncio.sleep(delay)
                return
            else:
                await self._ack(pending)
                return

    async def _commit(self, msgs: Sequence[Msg]) -> None:
        """Apply and move the checkpoint in one transaction. A projection with `apply_batch`
        gets the whole batch at once; if that fails, the batch is applied again one event at a
        time, to find the event that fails."""
        batched = getattr(self.projection, "apply_batch", None)
        if batched is not None and len(msgs) > 1:
            try:
                async with self.sessions() as session, session.begin():
                    checkpoint = await self._read_checkpoint(session)
                    fresh = [m for m in msgs if m.metadata.sequence.stream > checkpoint]
                    if fresh:
                        await batched(session, [StoredEvent.from_msg(m) for m in fresh])
                        await self._write_checkpoint(session, fresh[-1].metadata.sequence.stream)
                return
            except Exception as exc:
                log.info(
                    "projector %s: batch failed (%s); one event at a time",
                    self.projection.name,
                    reason_of(exc),
                )
        async with self.sessions() as session, session.begin():
            checkpoint = await self._read_checkpoint(session)
            for index, msg in enumerate(msgs):
                sequence = msg.metadata.sequence.stream
                if sequence <= checkpoint:
                    continue  # applied before a crash; its ack was lost
                try:
                    await self.projection.apply(session, StoredEvent.from_msg(msg))
                except Exception as exc:
                    raise _FailedAt(index, exc) from exc
                checkpoint = sequence
            await self._write_checkpoint(session, checkpoint)

    async def _ack(self, msgs: Sequence[Msg]) -> None:
        if msgs:
            await msgs[-1].ack()  # the consumer acknowledges all: everything up to this one

    async def _read_checkpoint(self, session: AsyncSession) -> int:
        value = await session.scalar(
            select(checkpoints.c.last_sequence)
            .where(checkpoints.c.projection == self.projection.name)
            .with_for_update()
        )
        return int(value or 0)

    async def _write_checkpoint(self, session: AsyncSession, sequence: int) -> None:
        updated = await session.execute(
            checkpoints.update()
            .where(checkpoints.c.projection == self.projection.name)
            .values(last_sequence=sequence)
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            await session.execute(
                checkpoints.insert().values(
                    projection=self.projection.name,
                    stream=self.projection.stream,
                    last_sequence=sequence,
                )
            )
