"""The baseline every service benchmark prints beside its own figure: raw nats-py consuming the
same inputs one at a time from a stream and publishing `publishes` messages per input to
another, each publish's ack awaited, then acking the input."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from nats.js import JetStreamContext


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
