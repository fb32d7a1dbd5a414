"""Notifications benchmark: N MasteryDecided for M learners waiting in EVIDENCE; time until the
notifications service has taken every one in (mastery gained or lost queued for the learner's
inbox, the rest recognised as no change). Beside it, in the same run: raw nats-py consuming the
same decisions one at a time with one publish each (ack awaited). Asserts nothing.

    make bench      # or: .venv/bin/python bench/notifications.py --decisions 1000 --learners 50
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path and its name would shadow the
# `notifications` service package.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE)]

import nats
from baseline import raw_run

from eventlog.embedded_nats import EmbeddedNats, free_port
from eventlog.event_store import EventStore
from eventlog.loop import run
from eventlog.settings import Settings
from notifications.app import create_app
from notifications.config import DeliverySettings
from shared_events import Envelope, Timeline
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef

DISTRICT = "d1"


def decision(n: int, learners: int) -> tuple[str, Envelope]:
    """Each learner's decisions on 5 competencies; mastery changes on about one in three."""
    learner = f"lrn-{n % learners}"
    step = n // learners
    mastered = step % 6 in (2, 3)
    event = MasteryDecided(
        learner_id=learner,
        competency_id=f"c{step % 5}",
        policy=PolicyRef(policy_id="p", method="latest", version=1),
        evidence=(EvidenceUsed(evidence_id=f"e{n}", score=0.9, observed_at=datetime.now(UTC)),),
        previous_level=None,
        new_level="mastered" if mastered else "familiar",
        previous_score=None,
        new_score=0.95 if mastered else 0.5,
        mastered=mastered,
    )
    return learner, Envelope.wrap(event, source="bench", subject=learner, district=DISTRICT)


async def ledger_run(url: str, tmp: Path, count: int, learners: int) -> float:
    settings = Settings(service="notifications", nats_url=url, state_dir=tmp / "state")
    app = create_app(settings, DeliverySettings(smtp_port=1))
    async with app.router.lifespan_context(app):
        service = app.state.service
        js = service.js
        intake = service.parts.batches[0]
        await intake.stop()  # the decisions wait in EVIDENCE, as in the raw run
        store = EventStore(js)
        for n in range(count):
            learner, envelope = decision(n, learners)
            await store.append(Timeline("evidence", DISTRICT, learner), [envelope])
        start = time.perf_counter()
        await intake.start(js, service.engine)
        while True:
            info = await js.consumer_info("EVIDENCE", "notifications-mastery")
            if not info.num_pending and not info.num_ack_pending:
                break
            await asyncio.sleep(0.02)
        return time.perf_counter() - start


async def main(count: int, learners: int) -> None:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        server = EmbeddedNats(tmp / "nats", port=free_port())
        url = server.start()
        try:
            ours = await ledger_run(url, tmp, count, learners)
            nc = await nats.connect(url)
            raw = await raw_run(
                nc.jetstream(),
                [decision(n, learners)[1].model_dump_json().encode() for n in range(count)],
                lambda body: body["subject"],
            )
            await nc.close()
        finally:
            server.stop()
    print(f"{count} mastery decisions, {learners} learners, about a third changing mastery, SQLite")
    print(f"{'notifications: decisions taken in':<46} {count / ours:>7.0f} decisions/s")
    print(
        f"{'raw nats-py: consume 1 at a time + 1 publish':<46} {count / raw:>7.0f} decisions/s"
        f"  ratio notifications/raw {raw / ours:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--decisions", type=int, default=1000)
    parser.add_argument("--learners", type=int, default=50)
    args = parser.parse_args()
    run(main(args.decisions, args.learners))
