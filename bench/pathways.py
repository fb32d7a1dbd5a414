"""Pathways benchmark: N MasteryDecided for M learners with a pathway waiting in EVIDENCE; time
until the pathways service has taken every one in (N MasteryObserved in PATHWAYS, with what they
led to). Beside it, in the same run: raw nats-py consuming the same decisions one at a time and
publishing one event per decision with its ack awaited (the shape of a one-in-flight handler).
Asserts nothing.

    make bench      # or: .venv/bin/python bench/pathways.py --decisions 1000 --learners 50
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time
from datetime import date
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `pathways` service package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

from baseline import decisions_beside_raw, mastery_decision, print_beside_raw
from nats.js import JetStreamContext

from eventlog.event_store import EventStore
from eventlog.loop import run
from eventlog.settings import Settings
from pathways.app import create_app
from pathways.assignments import assign_pathway
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


async def ledger_run(url: str, tmp: Path, count: int, learners: int) -> float:
    settings = Settings(service="pathways", nats_url=url, state_dir=tmp / "state")
    app = create_app(settings)
    ctx = app.state.pathways
    async with app.router.lifespan_context(app):
        js = ctx.service.js
        store = EventStore(js)
        await store.append(
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
        start = time.perf_counter()
        for intake in intakes:
            await intake.start(js, ctx.service.engine)
        while (await js.consumer_info("PATHWAYS", "bench-observed")).num_pending < count:
            await asyncio.sleep(0.02)
        elapsed = time.perf_counter() - start
        observed = await store.read(Timeline("pathways", DISTRICT, "lrn-0"))
        assert any(isinstance(e.envelope.data, MasteryObserved) for e in observed)
        return elapsed


async def main(count: int, learners: int) -> None:
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--learners", type=int, default=50)
    args = parser.parse_args()
    run(main(args.decisions, args.learners))
