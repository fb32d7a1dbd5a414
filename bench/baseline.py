"""The baseline every service benchmark prints beside its own figure: raw nats-py consuming the
same inputs one at a time from a stream and publishing `publishes` messages per input to
another, each publish's ack awaited, then acking the input. Also what the benchmarks of
services that take mastery decisions in share: the decisions, and the round beside raw."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
from nats.js import JetStreamContext

from eventlog.embedded_nats import EmbeddedNats, free_port
from shared_events import Envelope
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef


async def raw_run(
    js: JetStreamContext,
    inputs: Sequence[bytes],
    key_of: Callable[[dict[str, Any]], str],
    publishes: int = 1,
) -> float:
    """Seconds to consume `inputs` (published first, outside the clock) and publish
    `publishes` copies of each to `rawout.<key_of(parsed input)>`."""
    await js.add_stream(name="RAWIN", subjects=["rawin.>"])
    await js.add_stream(name="RAWOUT", subjects=["rawout.>"])
    for body in inputs:
        await js.publish("rawin.bench", body)
    sub = await js.pull_subscribe("rawin.>", durable="raw", stream="RAWIN")
    start = time.perf_counter()
    seen = 0
    while seen < len(inputs):
        for msg in await sub.fetch(1, timeout=5):
            subject = f"rawout.{key_of(json.loads(msg.data))}"
            for _ in range(publishes):
                await js.publish(subject, msg.data)
            await msg.ack()
            seen += 1
    return time.perf_counter() - start


def mastery_decision(
    n: int, learner: str, competency: str, mastered: bool, district: str
) -> Envelope:
    """The `n`-th decision of a benchmark: one piece of evidence, mastered or not."""
    event = MasteryDecided(
        learner_id=learner,
        competency_id=competency,
        policy=PolicyRef(policy_id="p", method="latest", version=1),
        evidence=(EvidenceUsed(evidence_id=f"e{n}", score=0.9, observed_at=datetime.now(UTC)),),
        previous_level=None,
        new_level="mastered" if mastered else "familiar",
        previous_score=None,
        new_score=0.95 if mastered else 0.5,
        mastered=mastered,
    )
    return Envelope.wrap(event, source="bench", subject=learner, district=district)


async def decisions_beside_raw(
    ledger_run: Callable[[str, Path], Awaitable[float]], decisions: Sequence[Envelope]
) -> tuple[float, float]:
    """Seconds the service took over `decisions` (`ledger_run(nats_url, tmp)`), then raw
    nats-py over the same decisions, on one fresh server."""
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        server = EmbeddedNats(tmp / "nats", port=free_port())
        url = server.start()
        try:
            ours = await ledger_run(url, tmp)
            nc = await nats.connect(url)
            raw = await raw_run(
                nc.jetstream(),
                [d.model_dump_json().encode() for d in decisions],
                lambda body: body["subject"],
            )
            await nc.close()
        finally:
            server.stop()
    return ours, raw


def print_beside_raw(
    title: str, label: str, name: str, count: int, ours: float, raw: float
) -> None:
    print(title)
    print(f"{label:<46} {count / ours:>7.0f} decisions/s")
    print(
        f"{'raw nats-py: consume 1 at a time + 1 publish':<46} {count / raw:>7.0f} decisions/s"
        f"  ratio {name}/raw {raw / ours:.2f}"
    )
