"""Pathways benchmark: N MasteryDecided for M learners with a pathway waiting in EVIDENCE; time
until the pathways service has taken every one in (N MasteryObserved in PATHWAYS, with what they
led to). Asserts nothing.

1. In this process, one replica on SQLite; beside it, in the same run: raw nats-py consuming the
   same decisions a batch at a time, publishing one event per decision (`baseline`).
2. Replicas: the service as one and as two OS processes (`python -m pathways`) sharing the
   partitions of its intake and one database (PostgreSQL at 127.0.0.1:5432 if it answers, a
   fresh database each run; else SQLite), with each server setting (`replicas`). The clock runs
   from when the replicas are ready and hold their fair share of the partitions until the N-th
   MasteryObserved is in PATHWAYS.

    make bench      # or: .venv/bin/python bench/pathways.py --decisions 1000 --learners 50
    .venv/bin/python bench/pathways.py --replica-rounds 1 --replica-decisions 4000
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `pathways` service package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import replicas
from baseline import decisions_beside_raw, mastery_decision, print_beside_raw
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from eventlog.event_store import EventStore
from eventlog.loop import run
from eventlog.settings import Settings
from pathways.app import create_app
from pathways.assignments import assign_pathway
from pathways.context import PathwaysContext
from shared_events import Envelope, Timeline
from shared_events.events.pathways import (
    CompetencyDefinition,
    FrameworkImported,
    MasteryObserved,
    Prerequisite,
)

DISTRICT = "d1"
COMPETENCIES = [f"c{i}" for i in range(20)]


def framework() -> FrameworkImported:
    """Twenty competencies in a chain: each precedes the next."""
    return FrameworkImported(
        framework_id="fw",
        version=1,
        title="bench",
        competencies=tuple(
            CompetencyDefinition(competency_id=c, statement=f"competency {c}") for c in COMPETENCIES
        ),
        prerequisites=tuple(
            Prerequisite(before=a, after=b) for a, b in itertools.pairwise(COMPETENCIES)
        ),
        content_hash="0" * 64,
    )


def decision(n: int, learners: int) -> tuple[str, Envelope]:
    learner = f"lrn-{n % learners}"
    step = n // learners
    competency = COMPETENCIES[step % len(COMPETENCIES)]
    return learner, mastery_decision(n, learner, competency, step % 3 != 2, DISTRICT)


async def publish_decisions(js: JetStreamContext, count: int, learners: int) -> None:
    store = EventStore(js)
    for n in range(count):
        learner, envelope = decision(n, learners)
        await store.append(Timeline("evidence", DISTRICT, learner), [envelope])


async def set_up(ctx: PathwaysContext, learners: int) -> None:
    """The framework imported, and a pathway through all of it assigned to every learner."""
    await EventStore(ctx.service.js).append(
        Timeline("frameworks", DISTRICT, "fw"),
        [Envelope.wrap(framework(), source="bench", subject="fw", district=DISTRICT)],
    )
    for i in range(learners):
        await assign_pathway(
            ctx,
            DISTRICT,
            f"lrn-{i}",
            pathway_id="p",
            framework_id="fw",
            targets=[],
            assigned_by="bench",
            today=date.today(),
        )


async def ledger_run(url: str, tmp: Path, count: int, learners: int) -> float:
    settings = Settings(service="pathways", nats_url=url, state_dir=tmp / "state")
    app = create_app(settings)
    ctx = app.state.pathways
    async with app.router.lifespan_context(app):
        js = ctx.service.js
        store = EventStore(js)
        await set_up(ctx, learners)
        # The consumer of decisions is stopped while they are published, then started: the
        # clock runs from the start, as in the raw run.
        intakes = ctx.service.parts.batches  # the partitions of the learners
        for intake in intakes:
            await intake.stop()
        await publish_decisions(js, count, learners)
        await js.add_consumer(
            "PATHWAYS",
            durable_name="bench-observed",
            filter_subject=f"pathways.{DISTRICT}.*.observed",
            ack_policy="explicit",
        )
        start = time.time()
        for intake in intakes:
            await intake.start(js, ctx.service.engine)
        # Looked at seldom (each look loads the server under test); the clock stops at the
        # time the server stored the last observation, as the evidence benchmark's does.
        while (await js.consumer_info("PATHWAYS", "bench-observed")).num_pending < count:
            await asyncio.sleep(0.1)
        last = await js.get_last_msg("PATHWAYS", f"pathways.{DISTRICT}.*.observed")
        assert last.time is not None
        elapsed = last.time.timestamp() - start
        observed = await store.read(Timeline("pathways", DISTRICT, "lrn-0"))
        assert any(isinstance(e.envelope.data, MasteryObserved) for e in observed)
        return elapsed


OBSERVED = "bench-observed"


async def observed_from_now(
    js: JetStreamContext, _intakes: Sequence[str], _count: int
) -> replicas.Taken:
    """A `replicas.Counter`: the MasteryObserved stored in PATHWAYS from now on, as the pending
    count of a consumer nobody reads that delivers only what is new."""
    await js.add_consumer(
        "PATHWAYS",
        ConsumerConfig(
            durable_name=OBSERVED,
            filter_subject=f"pathways.{DISTRICT}.*.observed",
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW,
        ),
    )

    async def taken() -> int:
        return int((await js.consumer_info("PATHWAYS", OBSERVED)).num_pending or 0)

    return taken


def replicated(learners: int) -> replicas.PartitionedService:
    """The pathways service for the replica runs: `learners` with a pathway each."""

    async def assign(app: FastAPI) -> None:
        await set_up(app.state.pathways, learners)

    return replicas.PartitionedService(
        name="pathways",
        intake="pathways-mastery",
        app=create_app,
        set_up=assign,
        counter=observed_from_now,
    )


async def main(args: argparse.Namespace) -> None:
    count, learners = args.decisions, args.learners
    ours, raw = await decisions_beside_raw(
        lambda url, tmp: ledger_run(url, tmp, count, learners),
        [decision(n, learners)[1] for n in range(count)],
    )
    print_beside_raw(
        f"{count} mastery decisions, {learners} learners with a 20-competency pathway, SQLite",
        "pathways: decision taken in + consequences",
        "pathways",
        count,
        ours,
        raw,
    )
    print(flush=True)
    if args.replica_rounds:
        await replicas.benchmark(replicated(args.replica_learners), decision, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--learners", type=int, default=50)
    replicas.add_arguments(parser, decisions=4000, learners=200)
    run(main(parser.parse_args()))
