"""Evidence benchmark: N native submissions for M learners published to INGEST; time until
every MasteryDecided is in the log.

Beside it, in the same run: raw nats-py doing the same consume + 2 publishes per input, and the
`eventsourcing` library saving the same two events per input to SQLite. Asserts nothing.

    make bench      # or: .venv/bin/python bench/evidence.py --events 2000 --learners 100
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `evidence` service package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import nats
from baseline import raw_run
from nats.js import JetStreamContext

from eventlog.embedded_nats import EmbeddedNats, free_port
from eventlog.event_store import EventStore
from eventlog.loop import run
from eventlog.settings import Settings
from evidence.app import create_app
from shared_events import Envelope, Timeline
from shared_events.events.pathways import CompetencyDefinition, FrameworkImported
from shared_events.events.profiles import LearnerRegistered
from shared_events.pii import Sealed

DISTRICT, PARTNER = "d1", "bench"


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


async def setup(ctx: object, js: JetStreamContext, learners: int) -> None:
    store = EventStore(js)
    framework = FrameworkImported(
        framework_id="fw",
        version=1,
        title="bench",
        competencies=tuple(
            CompetencyDefinition(competency_id=f"c{i}", statement="x") for i in range(5)
        ),
        content_hash="0" * 64,
    )
    await store.append(
        Timeline("frameworks", DISTRICT, "fw"),
        [Envelope.wrap(framework, source="bench", subject="fw", district=DISTRICT)],
    )
    sealed = Sealed(key_id="k", nonce="bm9uY2Vub25jZTE", ciphertext="c2VhbGVk")
    for i in range(learners):
        learner = ctx.ids.learner_id(DISTRICT, f"sis-{i}")  # type: ignore[attr-defined]
        event = LearnerRegistered(learner_id=learner, identity=sealed)
        await store.append(
            Timeline("profiles", DISTRICT, learner),
            [Envelope.wrap(event, source="bench", subject=learner, district=DISTRICT)],
        )


async def ledger_run(url: str, tmp: Path, events: int, learners: int) -> float:
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
        await setup(ctx, js, learners)
        await ctx.reference_caught_up()
        # As in the raw run, the inputs wait in the stream before the clock starts: the intake
        # is paused while they are published, then resumed.
        intake = ctx.service.parts.batches[0]
        await intake.stop()
        for n in range(events):
            await js.publish(f"ingest.{PARTNER}.native", submission(n, learners))
        # Count the decisions as the log stores them: a consumer nobody reads, filtered on
        # decisions, whose pending count is the number stored (asked 50 times a second).
        await js.add_consumer(
            "EVIDENCE",
            durable_name="bench-decisions",
            filter_subject=f"evidence.{DISTRICT}.*.mastery",
            ack_policy="explicit",
        )
        start = time.perf_counter()
        await intake.start(js, ctx.service.engine)
        while (await js.consumer_info("EVIDENCE", "bench-decisions")).num_pending < events:
            await asyncio.sleep(0.02)
        return time.perf_counter() - start


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
    app = Application(
        env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp / "es.db")}
    )
    aggregates = {i: LearnerEvidence(f"sis-{i}") for i in range(learners)}
    app.save(*aggregates.values())
    start = time.perf_counter()
    for n in range(events):
        aggregate = app.repository.get(aggregates[n % learners].id)
        aggregate.record(f"s-{n}", (n % 10) / 10)
        aggregate.decide(sum(aggregate.scores) / len(aggregate.scores))
        app.save(aggregate)
    return time.perf_counter() - start


async def one_round(events: int, learners: int) -> tuple[float, float, float]:
    """Seconds taken by the ledger, raw nats-py and the library, each on a fresh server/file."""
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        server = EmbeddedNats(tmp / "nats", port=free_port())
        url = server.start()
        try:
            ours = await ledger_run(url, tmp, events, learners)
            nc = await nats.connect(url)
            raw = await raw_run(
                nc.jetstream(),
                [submission(n, learners) for n in range(events)],
                lambda body: body["learner_sis_id"],
                publishes=2,
            )
            await nc.close()
        finally:
            server.stop()
        library = eventsourcing_run(tmp, events, learners)
    return ours, raw, library


async def main(events: int, learners: int, rounds: int) -> None:
    results = [await one_round(events, learners) for _ in range(rounds)]
    ours, raw, library = (statistics.median(r[i] for r in results) for i in range(3))
    print(
        f"{events} native submissions, {learners} learners, one evidence replica, SQLite; "
        f"median of {rounds} rounds (each: ledger, raw, library)"
    )
    rows = [
        ("ledger: INGEST → recorded + decided", ours, 0, ""),
        ("raw nats-py: consume + 2 publishes", raw, 1, f"ratio ledger/raw {raw / ours:.2f}"),
        (
            "eventsourcing library: 2 events/input",
            library,
            2,
            f"ledger/library {library / ours:.2f}",
        ),
    ]
    for label, seconds, column, note in rows:
        each = " ".join(f"{events / r[column]:.0f}" for r in results)
        print(f"{label:<40} {events / seconds:>6.0f} inputs/s  ({each})  {note}")
    # Each round measures the three back to back, so a round's own ratio is the least touched by
    # this machine's slow and fast phases.
    paired = [library / ours for ours, _, library in results]
    print(
        f"ledger/library round by round: {' '.join(f'{p:.2f}' for p in paired)}"
        f"  (median {statistics.median(paired):.2f})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--learners", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(main(args.events, args.learners, args.rounds))
