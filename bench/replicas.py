"""One replica of a service against two, as separate OS processes: what the benchmarks share.

- The servers: nats-server as `EmbeddedNats` configures it (`sync_interval: always`) and with
  nats-server's default sync interval (`SERVERS`, named for print by `SETTING`).
- The replicas: `python -m <service>` processes with their settings in the environment, their
  logs in a file (printed on failure), ready when `/readyz` answers 200; the database they share
  (a fresh PostgreSQL database when PostgreSQL answers on 127.0.0.1:5432, else SQLite).
- The table: rounds alternating which of 1 and 2 replicas goes first, each run's rate and CPU
  seconds, the medians per server setting and their ratio 2/1 (`one_against_two`).
- The run of a service taking MasteryDecided through partitioned consumers (pathways,
  notifications; `eventlog.sharing`): the set-up done by the service in this process, the
  intake's consumers paused while the decisions are published, the replicas started, the clock
  started once they are ready and hold their fair share of the partitions, stopped once every
  decision is taken in (`partitioned_run`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from baseline import cpu_seconds
from fastapi import FastAPI
from nats.js import JetStreamContext

from eventlog.embedded_nats import EmbeddedNats, free_port
from eventlog.event_store import EventStore
from eventlog.settings import Settings
from eventlog.stream_setup import ensure_streams
from shared_events import Envelope, Timeline
from shared_events.streams import ALL

# -- the server, two ways --------------------------------------------------------------------

SYNC_ALWAYS = "  sync_interval: always\n"


class DefaultSyncNats(EmbeddedNats):
    """`EmbeddedNats` without its `sync_interval: always`: nats-server's default (fsync every
    two minutes), so a write is acknowledged before it is on disk."""

    def config(self) -> str:
        config = super().config()
        if SYNC_ALWAYS not in config:
            raise RuntimeError("EmbeddedNats no longer sets sync_interval: always; update bench")
        return config.replace(SYNC_ALWAYS, "")


SERVERS: dict[str, type[EmbeddedNats]] = {"always": EmbeddedNats, "default": DefaultSyncNats}
SETTING = {"always": "sync_interval: always", "default": "server default sync"}


@contextlib.contextmanager
def running(sync: str, tmp: Path) -> Iterator[EmbeddedNats]:
    """A fresh server with the `sync` setting, its store in `tmp`, stopped on leaving."""
    server = SERVERS[sync](tmp / "nats", port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


# -- replicas as processes -------------------------------------------------------------------


@dataclass
class Replica:
    """A service process: its name in the bench's output, HTTP port, process and log file."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path


def start_replica(service: str, name: str, env: Mapping[str, str], tmp: Path) -> Replica:
    """`python -m <service>` with `env` (plus its own HTTP port), its output in `tmp`."""
    port = free_port()
    log = tmp / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", service],
            env={**env, "LEDGER_HTTP_PORT": str(port)},
            cwd=tmp,  # not bench/, whose evidence.py (and so on) would shadow the service
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Replica(name, port, process, log)


async def ready(replica: Replica, give_up: float = 60.0) -> None:
    """Wait until the replica's `/readyz` answers 200; its log's tail in the error if not."""
    deadline = time.monotonic() + give_up
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            if replica.process.poll() is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(f"http://127.0.0.1:{replica.port}/readyz")
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"replica {replica.name} never became ready:\n{tail(replica)}")


def stop_replicas(replicas: Sequence[Replica]) -> None:
    """SIGTERM to every replica (a clean shutdown gives the leases up), SIGKILL after 20 s."""
    for replica in replicas:
        if replica.process.poll() is None:
            replica.process.terminate()
    for replica in replicas:
        try:
            replica.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait()


def tail(replica: Replica, characters: int = 3000) -> str:
    return replica.log.read_text(errors="replace")[-characters:]


def print_logs(replicas: Sequence[Replica]) -> None:
    for replica in replicas:
        print(f"--- {replica.name} log (tail)", file=sys.stderr)
        print(tail(replica), file=sys.stderr)


@contextlib.contextmanager
def processes(logs: Path | None, prefix: str) -> Iterator[list[Replica]]:
    """A list for the replicas of a run: on leaving, each is stopped (its log copied into
    `logs` if given); on a failure, the tails of their logs are printed first."""
    replicas: list[Replica] = []
    try:
        yield replicas
    except Exception:
        print_logs(replicas)
        raise
    finally:
        stop_replicas(replicas)
        if logs is not None:
            keep_logs(replicas, logs, prefix)


def keep_logs(replicas: Sequence[Replica], folder: Path, prefix: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for replica in replicas:
        shutil.copyfile(replica.log, folder / f"{prefix}-{replica.name}-{int(time.time())}.log")


# -- the database they share -----------------------------------------------------------------

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_answers() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", 5432)) == 0


def database_kind(wanted: str) -> str:
    """`wanted` ("sqlite" or "postgresql"), or for "auto" PostgreSQL when it answers."""
    if wanted != "auto":
        return wanted
    return "postgresql" if postgres_answers() else "sqlite"


async def on_postgres(statement: str) -> None:
    """Run one statement on the local PostgreSQL server's maintenance database."""
    import asyncpg

    conn = await asyncpg.connect(POSTGRES, timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_database(name: str) -> str:
    await on_postgres(f'CREATE DATABASE "{name}"')
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"


async def drop_database(name: str) -> None:
    await on_postgres(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def fresh_database(kind: str, service: str, tmp: Path) -> AsyncIterator[str]:
    """The URL of a new, empty database for one run (a PostgreSQL database dropped after it,
    or a SQLite file in `tmp`)."""
    if kind != "postgresql":
        yield f"sqlite+aiosqlite:///{tmp / f'{service}.db'}"
        return
    name = f"bench_{service}_{uuid.uuid4().hex[:12]}"
    url = await create_database(name)
    try:
        yield url
    finally:
        await drop_database(name)


# -- the table -------------------------------------------------------------------------------


@dataclass
class ReplicaRun:
    seconds: float | None  # None: the run stalled or failed (`note` says how)
    replicas_cpu: list[float]
    server_cpu: float
    note: str = ""


Runs = dict[tuple[str, int], list[ReplicaRun]]


async def one_against_two(
    settings: Sequence[str],
    rounds: int,
    items: int,
    unit: str,
    run: Callable[[str, int], Awaitable[ReplicaRun]],
) -> Runs:
    """`rounds` rounds per server setting, each a run of one replica and one of two (which goes
    first alternates), `run(setting, replicas)`; every run printed, then the table."""
    runs: Runs = {}
    for sync in settings:
        for r in range(rounds):
            for count in (1, 2) if r % 2 == 0 else (2, 1):
                result = await run(sync, count)
                runs.setdefault((sync, count), []).append(result)
                print_run(sync, count, result, items, unit)
    print_table(runs, settings, items, unit)
    return runs


def print_run(sync: str, count: int, result: ReplicaRun, items: int, unit: str) -> None:
    cpu = "+".join(f"{c:.2f}" for c in result.replicas_cpu)
    figure = (
        f"{items / result.seconds:.0f} {unit} in {result.seconds:.2f}s"
        if result.seconds
        else "no figure"
    )
    note = f"; {result.note}" if result.note else ""
    print(
        f"  {SETTING[sync]}, {count} replica(s): {figure}; CPU s: replicas {cpu}, "
        f"server {result.server_cpu:.2f}{note}",
        flush=True,
    )


def median_rate(runs: Sequence[ReplicaRun], items: int) -> float | None:
    """The median rate of the runs that have a figure (None when none has)."""
    rates = [items / x.seconds for x in runs if x.seconds]
    return statistics.median(rates) if rates else None


def print_table(runs: Runs, settings: Sequence[str], items: int, unit: str) -> None:
    print(f"  {'setting':<24} {'replicas':>8} {unit:>12}  {'rounds':<20} {'ratio 2/1':>9}")
    for sync in settings:
        medians: dict[int, float] = {}
        for count in (1, 2):
            found = runs.get((sync, count), [])
            each = " ".join(f"{items / x.seconds:.0f}" if x.seconds else "stalled" for x in found)
            median = median_rate(found, items)
            if median is not None:
                medians[count] = median
            figure = f"{median:>12.0f}" if median is not None else f"{'-':>12}"
            ratio = ""
            if count == 2 and len(medians) == 2:
                ratio = f"{medians[2] / medians[1]:>9.2f}"
            print(f"  {SETTING[sync]:<24} {count:>8} {figure}  ({each + ')':<19} {ratio}")
    print(flush=True)


# -- services taking decisions through partitioned consumers ---------------------------------

INTAKE_STREAM = "EVIDENCE"  # where the MasteryDecided are, and the intake's consumers
STALL = 20.0  # seconds without a decision taken in before a run is reported as stalled
STEADY = 1.0  # seconds the partitions' owners must stay the same before the clock starts

Taken = Callable[[], Awaitable[int]]
"""How many of the run's decisions the replicas have taken in, read from outside them."""

Counter = Callable[[JetStreamContext, Sequence[str], int], Awaitable[Taken]]
"""Called just before the clock with the intake's consumer names and the run's decision count;
prepares what counting needs and returns how to read the count."""


@dataclass(frozen=True)
class PartitionedService:
    """A service whose intake of MasteryDecided is `partitions` consumers `<intake>-<i>of<n>`."""

    name: str  # its package, run as `python -m <name>`, and LEDGER_SERVICE
    intake: str
    app: Callable[[Settings], FastAPI]  # `create_app`, for the set-up in this process
    set_up: Callable[[FastAPI], Awaitable[None]]  # with the app's service started
    counter: Counter
    env: Mapping[str, str] = field(default_factory=dict)  # more settings for the replicas

    def intakes(self, partitions: int) -> list[str]:
        return [f"{self.intake}-{i + 1}of{partitions}" for i in range(partitions)]


@dataclass(frozen=True)
class Options:
    """How the runs of one benchmark are made."""

    database: str  # "postgresql" or "sqlite"
    partitions: int
    lease_ttl: float
    logs: Path | None = None


class Stalled(Exception):
    """No decision was taken in for `STALL` seconds before all were: reported, not timed."""


async def publish_decisions(
    js: JetStreamContext, decisions: Sequence[tuple[str, Envelope]]
) -> None:
    """Each learner's decisions appended to its timeline in order, learners side by side."""
    store = EventStore(js)
    by_learner: dict[tuple[str, str], list[Envelope]] = defaultdict(list)
    for learner, envelope in decisions:
        by_learner[(envelope.district, learner)].append(envelope)

    async def append_all(key: tuple[str, str], envelopes: list[Envelope]) -> None:
        for envelope in envelopes:
            await store.append(Timeline("evidence", *key), [envelope])

    await asyncio.wait_for(
        asyncio.gather(*(append_all(key, envelopes) for key, envelopes in by_learner.items())),
        timeout=120,
    )


async def quiet(js: JetStreamContext, skip: Sequence[str] = (), give_up: float = 60.0) -> None:
    """Every consumer of every stream but those in `skip` has taken in and acknowledged all it
    has: projectors and handlers caught up."""
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        busy = [
            info.name
            for spec in ALL
            for info in await js.consumers_info(spec.name)
            if info.name not in skip and (info.num_pending or info.num_ack_pending)
        ]
        if not busy:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"consumers still busy after {give_up:.0f}s: {', '.join(busy)}")


async def in_process(service: PartitionedService, settings: Settings) -> None:
    """The service started in this process on the run's server and database (its tables,
    consumers and keys made), its set-up done and taken in, then stopped."""
    app = service.app(settings)
    async with app.router.lifespan_context(app):
        await service.set_up(app)
        await quiet(app.state.service.js)


async def acknowledged_everywhere(
    js: JetStreamContext, intakes: Sequence[str], decisions: int
) -> Taken:
    """A `Counter`: every partition's consumer receives every decision (and takes in only its
    own learners'), so a decision is done with once each of them has acknowledged it. Counted
    as the decisions less the most any partition has yet to acknowledge."""

    async def taken() -> int:
        infos = [await js.consumer_info(INTAKE_STREAM, name) for name in intakes]
        return decisions - max((i.num_pending or 0) + (i.num_ack_pending or 0) for i in infos)

    return taken


async def holdings(replicas: Sequence[Replica]) -> list[frozenset[str]]:
    """The partitions each replica says (in its `/readyz`) it holds the lease of."""
    held = []
    async with httpx.AsyncClient(timeout=5) as client:
        for replica in replicas:
            leases = (await client.get(f"http://127.0.0.1:{replica.port}/readyz")).json()
            held.append(frozenset(k for k, v in leases.get("leases", {}).items() if v == "held"))
    return held


def fair(held: Sequence[frozenset[str]], partitions: int) -> bool:
    """Every partition held by exactly one replica, each replica holding its fair share."""
    every = [p for h in held for p in h]
    low, high = partitions // len(held), math.ceil(partitions / len(held))
    return len(every) == len(set(every)) == partitions and all(low <= len(h) <= high for h in held)


async def owners_settled(
    replicas: Sequence[Replica], partitions: int, give_up: float = 60.0
) -> list[frozenset[str]]:
    """Wait until the replicas share the partitions fairly and have for `STEADY` seconds (a
    replica gives back its surplus when it renews its membership, a third of a lease's time)."""
    deadline = time.monotonic() + give_up
    since, last = time.monotonic(), None
    while time.monotonic() < deadline:
        held = await holdings(replicas)
        if held != last or not fair(held, partitions):
            since, last = time.monotonic(), held
        elif time.monotonic() - since >= STEADY:
            return held
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the partitions' owners did not settle: {last}")


async def until_taken(taken: Taken, decisions: int, give_up: float = 600.0) -> None:
    """Wait until every decision is taken in; `Stalled` if none is for `STALL` seconds."""
    done, moved, start = 0, time.monotonic(), time.monotonic()
    while (now := await taken()) < decisions:
        if now > done:
            done, moved = now, time.monotonic()
        elif time.monotonic() - moved > STALL:
            raise Stalled(f"stalled: {now} of {decisions} decisions, none for {STALL:.0f}s")
        if time.monotonic() - start > give_up:
            raise Stalled(f"{now} of {decisions} decisions after {give_up:.0f}s")
        await asyncio.sleep(0.02)


async def paused_with_backlog(js: JetStreamContext, intakes: Sequence[str], backlog: int) -> None:
    """Check that the replicas took none of the decisions early: each partition's consumer
    still paused and has every one of them pending."""
    for name in intakes:
        info = await js.consumer_info(INTAKE_STREAM, name)
        if not info.paused or info.num_pending != backlog or info.num_ack_pending:
            raise RuntimeError(
                f"{name}: paused {info.paused}, {info.num_pending} pending, "
                f"{info.num_ack_pending} awaiting ack; expected {backlog} pending, untouched"
            )


async def redelivered(js: JetStreamContext, intakes: Sequence[str]) -> int:
    """Deliveries of the intake's messages beyond the first, over every partition."""
    infos = [await js.consumer_info(INTAKE_STREAM, name) for name in intakes]
    return sum(info.num_redelivered or 0 for info in infos)


def replica_env(service: PartitionedService, settings: Settings) -> dict[str, str]:
    """The replicas' environment: the settings the set-up ran with, as `Settings` reads them."""
    return {
        **os.environ,
        **service.env,
        "LEDGER_SERVICE": service.name,
        "LEDGER_NATS_URL": settings.nats_url,
        "DATABASE_URL": settings.sqlalchemy_url(),
        "LEDGER_STATE_DIR": str(settings.state_dir),
        "LEDGER_PARTITIONS": str(settings.partitions),
        "LEDGER_LEASE_TTL": str(settings.lease_ttl),
    }


async def partitioned_run(
    service: PartitionedService,
    decisions: Sequence[tuple[str, Envelope]],
    count: int,
    sync: str,
    options: Options,
) -> ReplicaRun:
    """`count` replicas as processes on a fresh server and database. The set-up is done in
    this process, the intake's consumers are paused, all decisions but the last are published,
    the replicas started; the clock starts once they are ready and share the partitions fairly,
    when the consumers are resumed and the last decision published (a resumed consumer does
    not answer the pulls already waiting on it; a message stored after the resume does), and
    stops when `service.counter` counts every decision taken in."""
    prefix = f"{service.name}-{sync}-{count}"
    with tempfile.TemporaryDirectory() as tmpdir, running(sync, Path(tmpdir)) as server:
        tmp = Path(tmpdir)
        async with fresh_database(options.database, service.name, tmp) as database:
            settings = Settings(
                service=service.name,
                nats_url=server.url,
                database_url=database,
                state_dir=tmp / "state",
                partitions=options.partitions,
                lease_ttl=options.lease_ttl,
                log_level="ERROR",  # the set-up in this process: errors only on stdout
            )
            with processes(options.logs, prefix) as replicas:
                assert server.process is not None
                return await replicas_run(
                    service, settings, decisions, count, replicas, server.process.pid, tmp
                )


async def replicas_run(
    service: PartitionedService,
    settings: Settings,
    decisions: Sequence[tuple[str, Envelope]],
    count: int,
    replicas: list[Replica],
    server_pid: int,
    tmp: Path,
) -> ReplicaRun:
    """A run on a server and database of its own (`settings` name them), the replicas started
    into `replicas`, their logs in `tmp`."""
    intakes = service.intakes(settings.partitions)
    async with await nats.connect(settings.nats_url) as nc:
        js = nc.jetstream()
        await ensure_streams(js)
        await in_process(service, settings)
        for name in intakes:
            await js.pause_consumer(INTAKE_STREAM, name, "2999-01-01T00:00:00Z")
        await publish_decisions(js, decisions[:-1])
        env = replica_env(service, settings)
        # One after the other: the first applies what the set-up left to the shared read models
        # before the second starts.
        for i in range(count):
            name = f"replica-{i + 1}"
            replicas.append(start_replica(service.name, name, env, tmp))
            await ready(replicas[-1])
        await quiet(js, skip=intakes)
        owners = await owners_settled(replicas, settings.partitions)
        await paused_with_backlog(js, intakes, len(decisions) - 1)
        return await timed_intake(js, service, intakes, decisions, replicas, owners, server_pid)


async def timed_intake(
    js: JetStreamContext,
    service: PartitionedService,
    intakes: Sequence[str],
    decisions: Sequence[tuple[str, Envelope]],
    replicas: Sequence[Replica],
    owners: list[frozenset[str]],
    server_pid: int,
) -> ReplicaRun:
    """The timed part of a run: from the intake's resume to the last decision taken in, with
    the CPU seconds each replica and the server spent meanwhile."""
    taken = await service.counter(js, intakes, len(decisions))
    cpu = [cpu_seconds(r.process.pid) for r in replicas]
    server_cpu = cpu_seconds(server_pid)
    start = time.perf_counter()
    for name in intakes:
        await js.resume_consumer(INTAKE_STREAM, name)
    await publish_decisions(js, decisions[-1:])
    seconds: float | None = None
    notes = []
    try:
        await until_taken(taken, len(decisions))
        seconds = time.perf_counter() - start
    except Stalled as stalled:
        notes.append(str(stalled))
    spent = [cpu_seconds(r.process.pid) - c for r, c in zip(replicas, cpu, strict=True)]
    server_spent = cpu_seconds(server_pid) - server_cpu
    if (after := await holdings(replicas)) != owners:
        notes.append(f"partitions changed hands during the run: {owners} → {after}")
    if again := await redelivered(js, intakes):
        notes.append(f"{again} deliveries again")
    return ReplicaRun(seconds, spent, server_spent, "; ".join(notes))


async def benchmark(
    service: PartitionedService,
    decision: Callable[[int, int], tuple[str, Envelope]],
    args: argparse.Namespace,
) -> Runs:
    """One replica of `service` against two, `args.replica_rounds` rounds in each server
    setting; `decision(n, learners)` is the n-th decision and its learner."""
    count, learners = args.replica_decisions, args.replica_learners
    options = Options(database_kind(args.replicas_db), args.partitions, args.lease_ttl, args.logs)
    print(
        f"One {service.name} replica against two (separate processes, {options.partitions} "
        f"partitions, {options.lease_ttl:g}s leases, {options.database} shared); {count} "
        f"decisions, {learners} learners; {args.replica_rounds} round(s), 1 and 2 alternating "
        "first",
        flush=True,
    )
    decisions = [decision(n, learners) for n in range(count)]
    return await one_against_two(
        list(SERVERS),
        args.replica_rounds,
        count,
        "decisions/s",
        lambda sync, replicas: partitioned_run(service, decisions, replicas, sync, options),
    )


def add_arguments(parser: argparse.ArgumentParser, decisions: int, learners: int) -> None:
    """The options of the 1-against-2 replica runs, for a benchmark of a partitioned intake."""
    parser.add_argument(
        "--replica-rounds",
        type=int,
        default=2,
        help="rounds of 1 and 2 replicas (separate processes) per server setting (0: none)",
    )
    parser.add_argument(
        "--replica-decisions",
        type=int,
        default=decisions,
        help=f"decisions in each replica run (default {decisions})",
    )
    parser.add_argument(
        "--replica-learners",
        type=int,
        default=learners,
        help=f"learners in each replica run (default {learners})",
    )
    parser.add_argument(
        "--partitions", type=int, default=4, help="LEDGER_PARTITIONS of the replicas (default 4)"
    )
    parser.add_argument(
        "--lease-ttl",
        type=float,
        default=2.0,
        help="LEDGER_LEASE_TTL of the replicas, seconds: how fast the partitions settle",
    )
    add_database_arguments(parser)


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """Where any benchmark's replica runs keep their read models, and their logs."""
    parser.add_argument(
        "--replicas-db",
        choices=("auto", "sqlite", "postgresql"),
        default="auto",
        help="the replicas' shared database: PostgreSQL at 127.0.0.1:5432 if it answers (auto)",
    )
    parser.add_argument(
        "--logs", type=Path, default=None, help="keep the replicas' logs in this folder"
    )
