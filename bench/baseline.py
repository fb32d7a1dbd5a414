"""The raw nats-py baselines the service benchmarks print beside their own figures, and what the
benchmarks of services that take mastery decisions in share: the decisions, and the round
beside raw.

The raw shape is the best plain nats-py does for a batch consumer's pattern (the evidence
intake, pathways and notifications all take their input a batch at a time):

- `raw_batch_run`: `fetch(256)` from a durable
  pull consumer, every output of the batch published with `js.publish_async` (pipelined; none
  waits for the ack of another), the batch's futures awaited, then the batch acknowledged with
  one ack of its last message (`AckPolicy.ALL`) — or, with `ack="each"`, an ack per message
  (`AckPolicy.EXPLICIT`; nats-py's `Msg.ack` is a plain publish, no round trip).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import nats
import stages
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig

from eventlog.embedded_nats import EmbeddedNats, free_port
from eventlog.stream_setup import stream_config
from shared_events import Envelope
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef
from shared_events.streams import StreamSpec


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU of a process so far: this one by default (Linux `/proc`; 0 for another
    process elsewhere)."""
    if pid is None:
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Window:
    """A timed window: wall seconds, this process's CPU seconds, the server's CPU seconds."""

    seconds: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0


@contextmanager
def timed(server_pid: int | None = None) -> Iterator[Window]:
    """Fills the yielded `Window` when the block ends (the server's CPU if its pid is given)."""
    window = Window()
    wall, cpu = time.perf_counter(), cpu_seconds()
    server = cpu_seconds(server_pid) if server_pid else 0.0
    yield window
    window.seconds = time.perf_counter() - wall
    window.cpu = cpu_seconds() - cpu
    window.server_cpu = cpu_seconds(server_pid) - server if server_pid else 0.0


# One output of an input: subject (under `rawout.`), body, headers.
Publish = tuple[str, bytes, dict[str, str]]


async def raw_batch_run(
    js: JetStreamContext,
    inputs: Sequence[bytes],
    outputs: Callable[[dict[str, Any], int], Iterable[Publish]],
    *,
    batch: int = 256,
    ack: Literal["last", "each"] = "last",
    server_pid: int | None = None,
) -> Window:
    """The window taken to work `inputs` (published first, outside the clock) a batch at a time:
    each
    input parsed, `outputs(parsed input, its stream sequence)` published with `publish_async`,
    the whole batch's acks awaited, then the batch acknowledged (see the module's docstring).

    The streams are configured as the ledger's (`stream_config`: file storage, the same
    duplicate window for `Nats-Msg-Id`), on the caller's server, so both meet the same
    `sync_interval`."""
    for name, subject in (("RAWIN", "rawin.>"), ("RAWOUT", "rawout.>")):
        await js.add_stream(stream_config(StreamSpec(name, (subject,), f"raw baseline {name}")))
    published = [await js.publish_async("rawin.bench", body) for body in inputs]
    await asyncio.wait_for(asyncio.gather(*published), timeout=60)
    policy = AckPolicy.ALL if ack == "last" else AckPolicy.EXPLICIT
    await js.add_consumer(
        "RAWIN",
        ConsumerConfig(durable_name="rawbatch", ack_policy=policy, max_ack_pending=batch * 2),
    )
    sub = await js.pull_subscribe_bind("rawbatch", stream="RAWIN")
    with timed(server_pid) as window:
        seen = 0
        while seen < len(inputs):
            msgs = await sub.fetch(batch, timeout=5)
            pending = []
            for msg in msgs:
                sequence = msg.metadata.sequence.stream
                for subject, body, headers in outputs(json.loads(msg.data), sequence):
                    pending.append(await js.publish_async(subject, body, headers=headers))
            # nats-py 2.16 leaves a future pending when the server refuses a publish (its reply
            # callback raises instead of failing the future), so the batch gets a deadline: a
            # refusal stops the run, nothing of the batch acknowledged.
            await asyncio.wait_for(asyncio.gather(*pending), timeout=30)
            seen += len(msgs)
            if ack == "each":
                for msg in msgs[:-1]:
                    await msg.ack()
            # AckPolicy.ALL: the last message acknowledges the whole batch; the very last ack
            # waits for the server, so the clock stops once everything is acknowledged.
            await (msgs[-1].ack_sync() if seen >= len(inputs) else msgs[-1].ack())
    return window


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

            def one_event(decision: dict[str, Any], sequence: int) -> list[Publish]:
                body = json.dumps({"decision": decision["id"], "at": sequence}).encode()
                headers = {"Nats-Msg-Id": f"{decision['id']}/raw"}
                return [(f"rawout.{decision['subject']}", body, headers)]

            window = await raw_batch_run(
                nc.jetstream(), [d.model_dump_json().encode() for d in decisions], one_event
            )
            raw = window.seconds
            await nc.close()
        finally:
            server.stop()
    return ours, raw


def print_beside_raw(
    title: str, label: str, name: str, count: int, ours: float, raw: float
) -> None:
    print(title)
    print(f"{label:<46} {count / ours:>7.0f} decisions/s")
    stages.note(name, count / ours)
    print(
        f"{'raw nats-py: fetch 256, publish_async, batch ack':<46} {count / raw:>7.0f} decisions/s"
        f"  ratio {name}/raw {raw / ours:.2f}"
    )
