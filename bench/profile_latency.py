"""How soon a mastery decision shows in the learner's profile (issue: "within a second").

Appends MasteryDecided events one at a time into a running profiles service (real NATS, SQLite)
and times until the profile's read model has it; beside it, raw nats-py publish → core
subscriber delivery on the same server. Prints percentiles; asserts nothing.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import nats
from sqlalchemy import select

from eventlog.embedded_nats import EmbeddedNats, free_port
from eventlog.event_store import EventStore
from eventlog.loop import run
from eventlog.settings import Settings
from profiles.app import create_app
from profiles.projections.progress import standings
from shared_events import Envelope, Timeline
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef


def decision(learner: str, n: int) -> Envelope:
    event = MasteryDecided(
        learner_id=learner,
        competency_id=f"c{n}",
        policy=PolicyRef(policy_id="p", method="latest", version=1),
        evidence=(EvidenceUsed(evidence_id=f"e{n}", score=0.96, observed_at=datetime.now(UTC)),),
        previous_level=None,
        new_level="mastered",
        previous_score=None,
        new_score=0.96,
        mastered=True,
    )
    return Envelope.wrap(event, source="evidence", subject=learner, district="d1")


def summary(label: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]  # noqa: E731
    return (
        f"{label:<46} p50 {statistics.median(ms):7.1f} ms  p95 {p(0.95):7.1f} ms"
        f"  max {ms[-1]:7.1f} ms"
    )


async def main(rounds: int = 50) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(Path(tmp) / "nats", port=free_port())
        url = server.start()
        settings = Settings(service="profiles", nats_url=url, state_dir=Path(tmp) / "state")
        app = create_app(settings)
        ctx = app.state.profiles
        async with app.router.lifespan_context(app):
            store = EventStore(ctx.service.js)
            ours: list[float] = []
            for n in range(rounds):
                started = time.perf_counter()
                await store.append(Timeline("evidence", "d1", "lrn-1"), [decision("lrn-1", n)])
                while True:
                    async with ctx.service.sessions()() as session:
                        found = await session.scalar(
                            select(standings.c.competency_id).where(
                                standings.c.competency_id == f"c{n}"
                            )
                        )
                    if found:
                        break
                    await asyncio.sleep(0.002)
                ours.append(time.perf_counter() - started)
            nc = await nats.connect(url)
            received: asyncio.Queue[float] = asyncio.Queue()

            async def arrived(_msg: object) -> None:
                received.put_nowait(time.perf_counter())

            await nc.subscribe("latency.raw", cb=arrived)
            raw: list[float] = []
            for _ in range(rounds):
                started = time.perf_counter()
                await nc.publish("latency.raw", b"x")
                raw.append(await received.get() - started)
            await nc.close()
        server.stop()
    print(f"{rounds} decisions, one at a time, embedded nats-server, SQLite read model")
    print(summary("MasteryDecided appended → profile read model", ours))
    print(summary("raw nats-py publish → subscriber", raw))


if __name__ == "__main__":
    run(main())
