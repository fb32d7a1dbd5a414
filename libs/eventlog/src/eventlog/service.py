"""A service at run time: its connections, event store, projectors and handlers, with one
lifecycle. Built from settings by the service's `app.py`; nothing connects until `start()`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from eventlog import heap
from eventlog.batches import BatchConsumer
from eventlog.connection import connect
from eventlog.event_store import EventStore
from eventlog.handlers import EventHandlers
from eventlog.handover import Handover
from eventlog.projector import Projection, Projector
from eventlog.settings import Settings
from eventlog.sql import create_engine, create_tables, sessions
from eventlog.stream_setup import ensure_streams
from eventlog.tasks import cancel_and_wait
from shared_events.streams import ALL

log = logging.getLogger(__name__)


@dataclass
class ServiceParts:
    """What a service is made of; its `app.py` lists them."""

    name: str
    projections: Sequence[Projection] = ()
    read_models: Sequence[MetaData] = ()
    handlers: EventHandlers | None = None
    batches: Sequence[BatchConsumer] = ()
    handovers: Sequence[Handover] = ()
    """Work the batch consumers hand to the replica owning it (`eventlog.handover`)."""
    tasks: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
    """Long-running jobs (e.g. a periodic sweep), started last and cancelled first."""
    extra: dict[str, Any] = field(default_factory=dict)


class NotStarted(RuntimeError):
    pass


class Service:
    def __init__(self, parts: ServiceParts, settings: Settings) -> None:
        self.parts = parts
        self.settings = settings
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._engine: AsyncEngine | None = None
        self._broker: NatsBroker | None = None
        self.projectors: list[Projector] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._settled = False
        self.stopping = False
        """Set when `stop` begins: long-running jobs check it between steps, because a library
        that swallows a cancellation (an SMTP client timing out at the same moment) would
        otherwise keep a job running after its service is gone."""

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise NotStarted(f"{self.parts.name} is not started")
        return self._js

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise NotStarted(f"{self.parts.name} is not started")
        return self._engine

    @property
    def store(self) -> EventStore:
        return EventStore(self.js, client=self._nc)

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return sessions(self.engine)

    def projector(self, name: str) -> Projector:
        for projector in self.projectors:
            if projector.projection.name == name:
                return projector
        raise KeyError(f"no projector {name!r} in {self.parts.name}")

    async def start(self) -> None:
        name = self.parts.name
        self.stopping = False
        self._nc = await connect(self.settings.nats_url, name=name)
        self._js = self._nc.jetstream()
        await ensure_streams(self._js, ALL, replicas=self.settings.stream_replicas)
        self._engine = create_engine(self.settings.sqlalchemy_url())
        await create_tables(self._engine, *self.parts.read_models)
        scope = hashlib.blake2b(self.settings.sqlalchemy_url().encode(), digest_size=6).hexdigest()
        self.projectors = [
            Projector(p, self._js, self._engine, scope=scope, lease_ttl=self.settings.lease_ttl)
            for p in self.parts.projections
        ]
        for projector in self.projectors:
            await projector.start()
        if self.parts.handlers and self.parts.handlers.subscriptions:
            await self.parts.handlers.prepare(
                self._js, self._engine, ack_wait=self.settings.handler_ack_wait
            )
            # Per-message access logs go to DEBUG: they halve throughput and say little.
            self._broker = NatsBroker(
                self.settings.nats_url, max_reconnect_attempts=-1, log_level=logging.DEBUG
            )
            self._broker.include_router(self.parts.handlers.router)
            await self._broker.start()
        for handover in self.parts.handovers:
            await handover.start(
                self._nc, self._js, uuid.uuid4().hex[:8], ttl=self.settings.lease_ttl
            )
        for batch in self.parts.batches:
            await batch.start(
                self._js,
                self._engine,
                ack_wait=self.settings.batch_ack_wait,
                lease_ttl=self.settings.lease_ttl,
                reconnects=self._reconnects,
            )
        self._tasks = [
            asyncio.create_task(job(), name=f"{name} {getattr(job, '__name__', 'task')}")
            for job in self.parts.tasks
        ]
        if not self._settled:
            heap.settle(self.settings.gc_threshold)
            self._settled = True
        log.info("%s started", name)

    def _reconnects(self) -> int:
        return int(self._nc.stats["reconnects"]) if self._nc is not None else 0

    async def stop(self) -> None:
        """Stop consuming, then close connections; a step that hangs is logged and skipped so
        shutdown always completes (the log keeps everything a restart needs)."""
        self.stopping = True
        if self._tasks:
            stuck = await cancel_and_wait(self._tasks, timeout=10.0)
            for task in stuck:
                frames = "; ".join(f"{f.f_code.co_filename}:{f.f_lineno}" for f in task.get_stack())
                log.error(
                    "%s: %s did not stop in 10s (at %s)", self.parts.name, task.get_name(), frames
                )
        self._tasks = []
        for handover in self.parts.handovers:
            await self._bounded(f"handover {handover.service}", handover.stop())
        for batch in self.parts.batches:
            await self._bounded(f"batch consumer {batch.spec.name}", batch.stop())
        if self._broker is not None:
            await self._bounded("handlers", self._broker.stop())
            self._broker = None
        for projector in self.projectors:
            await self._bounded(f"projector {projector.projection.name}", projector.stop())
        if self._nc is not None:
            await self._bounded("nats connection", self._nc.drain())
            self._nc = self._js = None
        if self._engine is not None:
            await self._bounded("database engine", self._engine.dispose())
            self._engine = None
        if self._settled:
            heap.release()
            self._settled = False

    async def _bounded(self, what: str, step: Awaitable[object], timeout: float = 10.0) -> None:
        try:
            await asyncio.wait_for(step, timeout)
        except TimeoutError:
            log.error(
                "%s: stopping the %s took over %.0fs; going on", self.parts.name, what, timeout
            )
        except Exception as exc:
            log.warning("%s: stopping the %s failed: %s", self.parts.name, what, exc)

    async def readiness(self) -> dict[str, Any]:
        """What /readyz reports: NATS connected, streams present, projectors caught up."""
        checks: dict[str, Any] = {}
        connected = self._nc is not None and self._nc.is_connected
        checks["nats"] = "connected" if connected else "disconnected"
        missing: list[str] = []
        if connected:
            for spec in ALL:
                try:
                    await self.js.stream_info(spec.name)
                except NotFoundError:
                    missing.append(spec.name)
        checks["streams"] = {"missing": missing}
        lags: dict[str, int | str] = {}
        for projector in self.projectors:
            try:
                lags[projector.projection.name] = await projector.lag()
            except Exception as exc:
                lags[projector.projection.name] = f"unknown: {type(exc).__name__}"
        checks["projectors"] = lags
        if self.parts.batches:
            checks["leases"] = {
                b.spec.name: "shared" if b.lease is None else "held" if b.lease.held else "standby"
                for b in self.parts.batches
            }
        bound = self.settings.ready_max_lag
        caught_up = all(isinstance(v, int) and v <= bound for v in lags.values())
        checks["ready"] = connected and not missing and caught_up
        return checks


class ServiceBound:
    """What a service's handlers and routes share; it exists before the Service it serves (the
    handlers are part of the service), so it is bound to it once both are built."""

    def __init__(self) -> None:
        self._service: Service | None = None

    def bind(self, service: Service) -> None:
        self._service = service

    @property
    def service(self) -> Service:
        if self._service is None:
            raise NotStarted(f"{type(self).__name__} is not bound to a service")
        return self._service
