"""Notifications benchmark: N MasteryDecided for M learners waiting in EVIDENCE; time until the
notifications service has taken every one in (mastery gained or lost queued for the learner's
inbox, the rest recognised as no change). Asserts nothing. No guardian or teacher is
registered (in either part): each learner is the only one told, in their inbox.

1. In this process, one replica on SQLite; beside it, in the same run: raw nats-py consuming the
   same decisions a batch at a time, one publish each (`baseline`).
2. Replicas: the service as one and as two OS processes (`python -m notifications`) sharing
   the partitions of its intake and one database (PostgreSQL at 127.0.0.1:5432 if it answers,
   a fresh database each run; else SQLite), with each server setting (`replicas`). The clock
   runs from when the replicas are ready and hold their fair share of the partitions until
   every partition's consumer has acknowledged every decision.

    make bench      # or: .venv/bin/python bench/notifications.py --decisions 1000 --learners 50
    .venv/bin/python bench/notifications.py --replica-rounds 1 --replica-decisions 4000
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `notifications` service package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import replicas
from baseline import decisions_beside_raw, mastery_decision, print_beside_raw
from fastapi import FastAPI

from eventlog.event_store import EventStore
from eventlog.loop import run
from eventlog.settings import Settings
from notifications.app import create_app
from notifications.config import DeliverySettings
from shared_events import Envelope, Timeline

DISTRICT = "d1"


def decision(n: int, learners: int) -> tuple[str, Envelope]:
    """Each learner's decisions on 5 competencies; mastery changes on about one in three."""
    learner = f"lrn-{n % learners}"
    step = n // learners
    return learner, mastery_decision(n, learner, f"c{step % 5}", step % 6 in (2, 3), DISTRICT)


async def ledger_run(url: str, tmp: Path, count: int, learners: int) -> float:
    settings = Settings(service="notifications", nats_url=url, state_dir=tmp / "state")
    app = create_app(settings, DeliverySettings(smtp_port=1))
    async with app.router.lifespan_context(app):
        service = app.state.service
        js = service.js
        intakes = service.parts.batches  # the partitions of the learners
        for intake in intakes:
            await intake.stop()  # the decisions wait in EVIDENCE, as in the raw run
        store = EventStore(js)
        for n in range(count):
            learner, envelope = decision(n, learners)
            await store.append(Timeline("evidence", DISTRICT, learner), [envelope])
        start = time.perf_counter()
        for intake in intakes:
            await intake.start(js, service.engine)
        while True:
            infos = [await js.consumer_info("EVIDENCE", i.spec.name) for i in intakes]
            if not any(info.num_pending or info.num_ack_pending for info in infos):
                break
            await asyncio.sleep(0.02)
        return time.perf_counter() - start


def replicated() -> replicas.PartitionedService:
    """The notifications service for the replica runs, set up as in this process: nothing
    registered before the decisions, no SMTP server tried (port 1)."""

    def app(settings: Settings) -> FastAPI:
        return create_app(settings, DeliverySettings(smtp_port=1))

    async def nothing(_app: FastAPI) -> None:
        pass

    return replicas.PartitionedService(
        name="notifications",
        intake="notifications-mastery",
        app=app,
        set_up=nothing,
        counter=replicas.acknowledged_everywhere,
        env={"LEDGER_SMTP_PORT": "1"},
    )


async def main(args: argparse.Namespace) -> None:
    count, learners = args.decisions, args.learners
    ours, raw = await decisions_beside_raw(
        lambda url, tmp: ledger_run(url, tmp, count, learners),
        [decision(n, learners)[1] for n in range(count)],
    )
    print_beside_raw(
        f"{count} mastery decisions, {learners} learners, about a third changing mastery, SQLite",
        "notifications: decisions taken in",
        "notifications",
        count,
        ours,
        raw,
    )
    print(flush=True)
    if args.replica_rounds:
        await replicas.benchmark(replicated(), decision, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--learners", type=int, default=50)
    replicas.add_arguments(parser, decisions=4000, learners=200)
    run(main(parser.parse_args()))
