"""Evidence benchmark: N native submissions for M learners wait in INGEST; time until every
MasteryDecided is in the log. Prints figures; asserts nothing.

1. Ratios, round by round: the evidence service in this process (`create_app`, SQLite), then
   raw nats-py doing the same pattern at its best (`baseline.raw_batch_run`: fetch 256, an
   evidence and a decision event per input published with `publish_async`, the batch's acks
   awaited, one ack for the batch), each on a fresh server with the same settings, then the
   `eventsourcing` library saving the same two events per input to SQLite. Targets:
   ledger/raw ≥ 0.8, ledger/library ≥ 1.5. Rounds run with the server as `EmbeddedNats`
   configures it (`sync_interval: always`) and with nats-server's default sync interval
   (`--sync`). Beside each round: CPU milliseconds per input of this process and of the server
   over the timed window, to tell which of the two sets the pace.
2. Replicas: the service as one and as two OS processes (`python -m evidence`) sharing INGEST's
   one durable consumer and one database (PostgreSQL at 127.0.0.1:5432 if it answers, a fresh
   database each run; else SQLite), in both server settings. The intake's consumer is paused
   while the inputs are published; the clock starts when it is resumed.

Both parts stop the clock when the N-th MasteryDecided is stored in EVIDENCE (a consumer
filtered on decisions that nobody reads; its pending count is polled 50 times a second). A run
in which no decision comes for 20 s is reported as stalled and left out of the medians.

    make bench      # or: .venv/bin/python bench/evidence.py --events 2000 --learners 100
    .venv/bin/python bench/evidence.py --rounds 5 --sync always --skip-replicas
    .venv/bin/python bench/evidence.py --rounds 0 --replica-rounds 3 --replicas-db sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `evidence` service package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import httpx
import nats
import stages
from baseline import Publish, Window, cpu_seconds, raw_batch_run, timed
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from replicas import (
    SERVERS,
    SETTING,
    Replica,
    ReplicaRun,
    add_database_arguments,
    database_kind,
    fresh_database,
    one_against_two,
    processes,
    ready,
    running,
    start_replica,
)

from eventlog.dev_keys import ensure_dev_keypair, issue_token
from eventlog.embedded_nats import free_port
from eventlog.event_store import EventStore
from eventlog.lease import BUCKET
from eventlog.loop import run
from eventlog.sealing import Pseudonyms, pseudonym_secret_from_settings
from eventlog.settings import Settings
from eventlog.stream_setup import ensure_streams
from evidence.app import create_app
from shared_events import Envelope, Timeline
from shared_events.events.pathways import CompetencyDefinition, FrameworkImported
from shared_events.events.profiles import LearnerRegistered
from shared_events.pii import Sealed

DISTRICT, PARTNER = "d1", "bench"
RAW_TARGET, LIBRARY_TARGET = 0.8, 1.5
INTAKE = ("INGEST", "evidence-ingest")  # the intake's durable consumer, shared by replicas
DECISIONS = "bench-decisions"


# -- inputs and reference data ---------------------------------------------------------------


def submission(n: int, learners: int) -> bytes:
    return json.dumps(
        {
            "id": f"s-{n}",
            "district": DISTRICT,
            "learner_sis_id": f"sis-{n % learners}",
            "competency": f"c{n % 5}",
            "scaled": (n % 10) / 10,
            "observed_at": f"2026-10-{1 + n % 28:02d}T09:00:00Z",
        }
    ).encode()


def framework() -> FrameworkImported:
    return FrameworkImported(
        framework_id="fw",
        version=1,
        title="bench",
        competencies=tuple(
            CompetencyDefinition(competency_id=f"c{i}", statement="x") for i in range(5)
        ),
        content_hash="0" * 64,
    )


async def setup(ids: Pseudonyms, js: JetStreamContext, learners: int) -> None:
    """The framework, and the learners registered (as the profiles service would)."""
    store = EventStore(js)
    await store.append(
        Timeline("frameworks", DISTRICT, "fw"),
        [Envelope.wrap(framework(), source="bench", subject="fw", district=DISTRICT)],
    )
    sealed = Sealed(key_id="k", nonce="bm9uY2Vub25jZTE", ciphertext="c2VhbGVk")
    for i in range(learners):
        learner = ids.learner_id(DISTRICT, f"sis-{i}")
        event = LearnerRegistered(learner_id=learner, identity=sealed)
        await store.append(
            Timeline("profiles", DISTRICT, learner),
            [Envelope.wrap(event, source="bench", subject=learner, district=DISTRICT)],
        )


async def publish_all(js: JetStreamContext, bodies: Sequence[bytes]) -> None:
    """Published pipelined, every ack awaited (with a deadline: nats-py 2.16 leaves the future
    of a refused publish pending)."""
    futures = [await js.publish_async(f"ingest.{PARTNER}.native", body) for body in bodies]
    await asyncio.wait_for(asyncio.gather(*futures), timeout=60)


async def count_decisions(js: JetStreamContext) -> None:
    """A consumer nobody reads, filtered on decisions: its pending count is what is stored."""
    await js.add_consumer(
        "EVIDENCE",
        durable_name=DECISIONS,
        filter_subject=f"evidence.{DISTRICT}.*.mastery",
        ack_policy="explicit",
    )


async def decisions_stored(js: JetStreamContext) -> int:
    return int((await js.consumer_info("EVIDENCE", DECISIONS)).num_pending or 0)


class Stalled(Exception):
    """No decision was stored for `STALL` seconds before all were: reported, not timed."""


STALL = 20.0


POLL = 0.1
"""Seconds between looks at the count of decisions. The clock does not stop at a look: it
stops at the time the server stored the last decision, so looking seldom costs no precision —
and looking often would load the server under test (each look is a consumer info request)."""


async def until_decided(js: JetStreamContext, events: int) -> int:
    """Wait for the `events`-th decision; `Stalled` if none comes for `STALL` seconds."""
    stored, moved = 0, time.monotonic()
    while (now := await decisions_stored(js)) < events:
        if now > stored:
            stored, moved = now, time.monotonic()
        elif time.monotonic() - moved > STALL:
            info = await js.consumer_info(*INTAKE)
            raise Stalled(
                f"stalled: {now} of {events} decisions, none for {STALL:.0f}s; the intake's "
                f"consumer has {info.num_ack_pending} submissions awaiting ack, "
                f"{info.num_pending} not delivered, {info.num_redelivered} redelivered"
            )
        await asyncio.sleep(POLL)
    return now


async def last_decided_at(js: JetStreamContext) -> float:
    """When the server stored the last decision (seconds since the epoch)."""
    last = await js.get_last_msg("EVIDENCE", f"evidence.{DISTRICT}.*.mastery")
    assert last.time is not None
    return last.time.timestamp()


# -- 1. ledger, raw nats-py, the library -----------------------------------------------------


async def ledger_run(
    url: str,
    tmp: Path,
    events: int,
    learners: int,
    server_pid: int | None = None,
    read_model: bool = True,
) -> Window:
    """The evidence service in this process over `events` waiting submissions. Without
    `read_model`, the intake alone: the mastery read model is stopped before the clock, as on a
    replica while another holds that read model's lease (ADR 8) — the work raw nats-py does."""
    from shared_events.events.evidence import IngestConfigured

    settings = Settings(service="evidence", nats_url=url, state_dir=tmp / "state")
    app = create_app(settings)
    ctx = app.state.evidence
    async with app.router.lifespan_context(app):
        js = ctx.service.js
        store = EventStore(js)
        configured = IngestConfigured(partners=(PARTNER,), set_by="bench")
        await store.append(
            Timeline("evidence", DISTRICT, "settings"),
            [Envelope.wrap(configured, source="bench", subject="settings", district=DISTRICT)],
        )
        await setup(ctx.ids, js, learners)
        await ctx.reference_caught_up()
        if not read_model:
            await ctx.service.projector("evidence-mastery").stop()
        # As in the raw run, the inputs wait in the stream before the clock starts: the intake
        # is stopped while they are published, then started.
        intake = ctx.service.parts.batches[0]
        await intake.stop()
        await publish_all(js, [submission(n, learners) for n in range(events)])
        await count_decisions(js)
        with timed(server_pid) as window:
            started = time.time()
            await intake.start(js, ctx.service.engine)
            await until_decided(js, events)
        window.seconds = await last_decided_at(js) - started
        return window


class RawIntake:
    """What raw nats-py publishes for an input: an evidence event and a decision event shaped
    and sized as the ledger's (CloudEvents-style envelope; the decision lists the evidence it
    used, the last ten of the learner's competency), ids derived from the input as the
    ledger's are, each with its `Nats-Msg-Id`. No pseudonyms, no policy, no concurrency check:
    the plain work of turning an input into two stored events."""

    NAMESPACE = uuid.UUID("6ba7b811-9dad-11d1-80b4-00c04fd430c8")

    def __init__(self) -> None:
        self.used: dict[tuple[str, str], deque[dict[str, Any]]] = {}

    def envelope(
        self, kind: str, id_: str, cause: str, learner: str, data: dict[str, Any]
    ) -> bytes:
        return json.dumps(
            {
                "specversion": "1.0",
                "id": id_,
                "type": f"evidence.{kind}",
                "source": "raw",
                "time": datetime.now(UTC).isoformat(),
                "subject": learner,
                "district": DISTRICT,
                "dataschema": f"urn:learner-ledger:event:evidence.{kind}:1",
                "schemaversion": 1,
                "causationid": cause,
                "correlationid": cause,
                "data": data,
            },
            separators=(",", ":"),
        ).encode()

    def __call__(self, parsed: dict[str, Any], sequence: int) -> list[Publish]:
        learner = f"lrn-{parsed['learner_sis_id']}"
        competency = str(parsed["competency"])
        cause = f"ingest/{sequence}/0"
        recorded_id, decided_id = (str(uuid.uuid5(self.NAMESPACE, f"{cause}/{i}")) for i in (0, 1))
        evidence_id = str(uuid.uuid5(self.NAMESPACE, f"{PARTNER}/{parsed['id']}"))
        score = float(parsed["scaled"])
        recorded = {
            "evidence_id": evidence_id,
            "learner_id": learner,
            "competency_id": competency,
            "score": score,
            "observed_at": parsed["observed_at"],
            "recorded_at": datetime.now(UTC).isoformat(),
            "partner": PARTNER,
            "source_id": parsed["id"],
            "source_format": "native",
            "ingest_sequence": sequence,
        }
        used = self.used.setdefault((learner, competency), deque(maxlen=10))
        used.append(
            {"evidence_id": evidence_id, "score": score, "observed_at": parsed["observed_at"]}
        )
        new_score = sum(u["score"] for u in used) / len(used)
        decided = {
            "learner_id": learner,
            "competency_id": competency,
            "policy": {"policy_id": "district-default", "method": "average", "version": 1},
            "evidence": list(used),
            "new_level": "mastered" if new_score >= 0.8 else "familiar",
            "new_score": new_score,
            "mastered": new_score >= 0.8,
        }
        subject = f"rawout.{DISTRICT}.{learner}"
        return [
            (
                f"{subject}.recorded",
                self.envelope("evidence_recorded", recorded_id, cause, learner, recorded),
                {"Nats-Msg-Id": recorded_id},
            ),
            (
                f"{subject}.mastery",
                self.envelope("mastery_decided", decided_id, cause, learner, decided),
                {"Nats-Msg-Id": decided_id},
            ),
        ]


@functools.cache
def library_aggregate() -> type:
    """The library's aggregate, defined once: the library registers each class by its name."""
    from eventsourcing.domain import Aggregate, event

    class LearnerEvidence(Aggregate):
        def __init__(self, learner: str) -> None:
            self.learner = learner
            self.scores: list[float] = []

        @event("Recorded")
        def record(self, evidence_id: str, score: float) -> None:
            self.scores.append(score)

        @event("Decided")
        def decide(self, level: float) -> None:
            self.level = level

    return LearnerEvidence


def eventsourcing_run(tmp: Path, events: int, learners: int) -> float:
    from eventsourcing.application import Application

    LearnerEvidence = library_aggregate()
    app: Application[Any] = Application(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / "es.db")}
    )
    aggregates = {i: LearnerEvidence(f"sis-{i}") for i in range(learners)}
    app.save(*aggregates.values())
    start = time.perf_counter()
    for n in range(events):
        aggregate: Any = app.repository.get(aggregates[n % learners].id)
        aggregate.record(f"s-{n}", (n % 10) / 10)
        aggregate.decide(sum(aggregate.scores) / len(aggregate.scores))
        app.save(aggregate)
    return time.perf_counter() - start


async def one_round(
    events: int, learners: int, sync: str, raw_ack: str
) -> tuple[Window, Window, Window, float]:
    """The ledger's windows (the intake alone, then the whole service), raw nats-py's, each on
    a fresh server, and the library's seconds on a fresh file."""
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        windows = []
        for read_model in (False, True):
            server = SERVERS[sync](tmp / f"nats-{read_model}", port=free_port())
            url = server.start()
            try:
                assert server.process is not None
                windows.append(
                    await ledger_run(
                        url,
                        tmp / f"ledger-{read_model}",
                        events,
                        learners,
                        server.process.pid,
                        read_model,
                    )
                )
            finally:
                server.stop()
        server = SERVERS[sync](tmp / "nats-raw", port=free_port())
        url = server.start()
        try:
            assert server.process is not None
            nc = await nats.connect(url)
            raw = await raw_batch_run(
                nc.jetstream(),
                [submission(n, learners) for n in range(events)],
                RawIntake(),
                ack="last" if raw_ack == "last" else "each",
                server_pid=server.process.pid,
            )
            await nc.close()
        finally:
            server.stop()
        library = eventsourcing_run(tmp, events, learners)
    return windows[0], windows[1], raw, library


async def ratios(events: int, learners: int, rounds: int, sync: str, raw_ack: str) -> None:
    print(
        f"{events} native submissions, {learners} learners, one evidence replica in this "
        f"process, SQLite; server: {SETTING[sync]}; {rounds} rounds (each: the intake alone, "
        "the whole service, raw, library)",
        flush=True,
    )
    results = []
    for r in range(rounds):
        try:
            intake, whole, raw, library = await one_round(events, learners, sync, raw_ack)
        except Stalled as stalled:
            print(f"  round {r + 1}: the ledger {stalled}; round left out", flush=True)
            continue
        results.append((intake.seconds, whole.seconds, raw.seconds, library))
        mean = events / 1e3  # CPU seconds over the window → ms per input
        print(
            f"  round {r + 1}: intake {events / intake.seconds:.0f}, whole service "
            f"{events / whole.seconds:.0f}, raw {events / raw.seconds:.0f}, library "
            f"{events / library:.0f} inputs/s; intake/raw {raw.seconds / intake.seconds:.2f}, "
            f"intake/library {library / intake.seconds:.2f}\n"
            f"           CPU ms/input: intake {intake.cpu / mean:.2f} + server "
            f"{intake.server_cpu / mean:.2f}; whole service {whole.cpu / mean:.2f} + server "
            f"{whole.server_cpu / mean:.2f}; raw {raw.cpu / mean:.2f} + server "
            f"{raw.server_cpu / mean:.2f}",
            flush=True,
        )
    if not results:
        print(flush=True)
        return
    intake, whole, raw, library = (statistics.median(r[i] for r in results) for i in range(4))
    if sync == "always":
        # Every stage is measured as its whole service in one process, read models included.
        stages.note("intake", events / whole, fresh=True)
    ack = "one ack a batch" if raw_ack == "last" else "an ack a message"
    rows = [
        ("ledger intake: INGEST → recorded + decided", intake, 0),
        ("ledger, whole service (+ mastery read model)", whole, 1),
        (f"raw nats-py: fetch 256, 2 publish_async, {ack}", raw, 2),
        ("eventsourcing library: 2 events/input", library, 3),
    ]
    print("  median of rounds (the rounds' own figures in brackets):")
    for label, seconds, column in rows:
        each = " ".join(f"{events / r[column]:.0f}" for r in results)
        print(f"    {label:<56} {events / seconds:>6.0f} inputs/s  ({each})")
    # Each round measures them back to back, so a round's own ratio is the least touched by
    # this machine's slow and fast phases.
    for name, ours, column, target in (
        ("intake/raw", 0, 2, f"  (target ≥ {RAW_TARGET})"),
        ("intake/library", 0, 3, f"  (target ≥ {LIBRARY_TARGET})"),
        ("service/raw", 1, 2, ""),
        ("service/library", 1, 3, ""),
    ):
        paired = [r[column] / r[ours] for r in results]
        print(
            f"    {name:<16} round by round {' '.join(f'{p:.2f}' for p in paired)}"
            f"  median {statistics.median(paired):.2f}{target}"
        )
    print(flush=True)


# -- 2. one replica against two --------------------------------------------------------------


async def configure_ingest(state: Path, port: int) -> None:
    """The partner allowed to send for the district, set over the API as an admin would."""
    private_key, _ = ensure_dev_keypair(state)
    token = issue_token(
        private_key.read_bytes(),
        issuer="learner-ledger-dev",
        audience="learner-ledger",
        subject="bench-admin",
        roles=["district_admin"],
        district=DISTRICT,
    )
    async with httpx.AsyncClient() as client:
        response = await client.put(
            f"http://127.0.0.1:{port}/v1/ingest",
            json={"partners": [PARTNER]},
            headers={"Authorization": f"Bearer {token}"},
        )
    if response.status_code != 200:
        raise RuntimeError(f"PUT /v1/ingest: {response.status_code} {response.text}")


async def settled(js: JetStreamContext, give_up: float = 60.0) -> None:
    """Every consumer of the reference streams (each replica's projectors, the registrations
    handler) has taken in and acknowledged everything: the shared read models reflect the log."""
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        infos = [
            info
            for stream in ("PROFILES", "PATHWAYS", "EVIDENCE")
            for info in await js.consumers_info(stream)
        ]
        if all(not info.num_pending and not info.num_ack_pending for info in infos):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the replicas' read models did not catch up")


async def replicas_run(
    events: int, learners: int, count: int, sync: str, database: str, logs: Path | None = None
) -> ReplicaRun:
    """`count` replicas as processes on a fresh server and database; the intake's consumer is
    paused while the inputs are published, and the clock starts when it is resumed."""
    with tempfile.TemporaryDirectory() as tmpdir, running(sync, Path(tmpdir)) as server:
        tmp = Path(tmpdir)
        state = tmp / "state"
        async with fresh_database(database, "evidence", tmp) as database_url:
            env = {
                **os.environ,
                "LEDGER_NATS_URL": server.url,
                "DATABASE_URL": database_url,
                "LEDGER_STATE_DIR": str(state),
                "LEDGER_SERVICE": "evidence",
            }
            with processes(logs, f"{sync}-{count}") as replicas:
                async with await nats.connect(server.url) as nc:
                    js = nc.jetstream()
                    await ensure_streams(js)
                    # One after the other: the first creates the tables, keys and secret files.
                    for i in range(count):
                        replicas.append(start_replica("evidence", f"replica-{i + 1}", env, tmp))
                        await ready(replicas[-1])
                    await configure_ingest(state, replicas[0].port)
                    ids = Pseudonyms(pseudonym_secret_from_settings(Settings(state_dir=state)))
                    await setup(ids, js, learners)
                    await settled(js)
                    await members_known(js, count)
                    assert server.process is not None
                    return await timed_intake(js, events, learners, replicas, server.process.pid)


async def members_known(js: JetStreamContext, count: int, give_up: float = 30.0) -> None:
    """Every replica is in the intake's handover membership, and has had time to read it (a
    replica reads it again once a second): each learner has one owner that all agree on."""
    kv = await js.key_value(BUCKET)
    deadline = time.monotonic() + give_up
    while time.monotonic() < deadline:
        with contextlib.suppress(KeyNotFoundError):
            entry = await kv.get("members.handover-evidence")
            if len(json.loads(entry.value or b"{}")) >= count:
                await asyncio.sleep(1.5)
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"fewer than {count} replicas announced themselves")


async def timed_intake(
    js: JetStreamContext, events: int, learners: int, replicas: Sequence[Replica], server_pid: int
) -> ReplicaRun:
    """All inputs but the last published with the intake's consumer paused; the clock from its
    resume until the last decision is stored. A consumer resumed does not answer the pulls
    already waiting on it; a message stored after the resume does. So the last input is
    published after it."""
    await js.pause_consumer(*INTAKE, "2999-01-01T00:00:00Z")
    await publish_all(js, [submission(n, learners) for n in range(events - 1)])
    await count_decisions(js)
    cpu = [cpu_seconds(r.process.pid) for r in replicas]
    server_cpu = cpu_seconds(server_pid)
    start = time.time()
    await js.resume_consumer(*INTAKE)
    await publish_all(js, [submission(events - 1, learners)])
    seconds: float | None = None
    note = ""
    try:
        decided = await until_decided(js, events)
        seconds = await last_decided_at(js) - start
        if decided != events:
            note = f"{decided} decisions for {events} submissions"
    except Stalled as stalled:
        note = str(stalled)
    return ReplicaRun(
        seconds,
        [cpu_seconds(r.process.pid) - c for r, c in zip(replicas, cpu, strict=True)],
        cpu_seconds(server_pid) - server_cpu,
        note,
    )


async def replicas_table(
    events: int,
    learners: int,
    rounds: int,
    settings: Sequence[str],
    database: str,
    logs: Path | None = None,
) -> None:
    print(
        f"One evidence replica against two (separate processes, one INGEST consumer, "
        f"{database} shared); {events} submissions, {learners} learners; {rounds} round(s), "
        "1 and 2 alternating first",
        flush=True,
    )
    await one_against_two(
        settings,
        rounds,
        events,
        "inputs/s",
        lambda sync, count: replicas_run(events, learners, count, sync, database, logs),
    )


async def main(args: argparse.Namespace) -> None:
    settings = ["always", "default"] if args.sync == "both" else [args.sync]
    if args.rounds:
        for sync in settings:
            await ratios(args.events, args.learners, args.rounds, sync, args.raw_ack)
    if not args.skip_replicas and args.replica_rounds:
        await replicas_table(
            args.replica_events,
            args.replica_learners,
            args.replica_rounds,
            list(SERVERS),
            database_kind(args.replicas_db),
            args.logs,
        )


def arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=" ".join((__doc__ or "").split("\n\n")[0].split()))
    parser.add_argument("--events", type=int, default=1000, help="submissions (default 1000)")
    parser.add_argument("--learners", type=int, default=100, help="learners (default 100)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of ledger, raw, library (0: none)"
    )
    parser.add_argument(
        "--sync",
        choices=("always", "default", "both"),
        default="both",
        help="server sync interval for the ledger/raw/library rounds: always (as EmbeddedNats "
        "configures it), nats-server's default, or both (default)",
    )
    parser.add_argument(
        "--raw-ack",
        choices=("last", "each"),
        default="last",
        help="raw baseline's ack: the batch's last message (AckPolicy.ALL) or each message",
    )
    parser.add_argument("--skip-replicas", action="store_true", help="no 1-vs-2 replica runs")
    parser.add_argument(
        "--replica-rounds", type=int, default=2, help="rounds of 1 and 2 replicas per setting"
    )
    parser.add_argument(
        "--replica-events",
        type=int,
        default=4000,
        help="submissions of a 1-vs-2 replica run (default 4000: a run of a few seconds)",
    )
    parser.add_argument(
        "--replica-learners", type=int, default=200, help="learners of a replica run (200)"
    )
    add_database_arguments(parser)
    return parser.parse_args(argv)


if __name__ == "__main__":
    run(main(arguments()))
