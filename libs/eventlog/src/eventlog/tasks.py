"""Stopping background tasks for sure.

A single `task.cancel()` can be lost on Python 3.11: `asyncio.wait_for` returns its inner
result when that result is ready in the same turn of the loop as the cancellation, and nats-py's
`next_msg` (under every pull `fetch`) waits through `wait_for`. A consumer loop cancelled just as
a message arrives then takes the message and goes on fetching, and whoever awaits it waits
forever. So tasks are cancelled again until they end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


async def cancel_and_wait(
    tasks: Iterable[asyncio.Task[object]],
    *,
    timeout: float | None = None,
    every: float = 1.0,
) -> set[asyncio.Task[object]]:
    """Cancel `tasks` and wait until they have ended, cancelling those still running again
    every `every` seconds (time enough for a task's own clean-up, which a second cancellation
    would cut short). Returns the tasks still running after `timeout` (none if None)."""
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    running = {task for task in tasks if not task.done()}
    while running:
        for task in running:
            task.cancel()
        wait = every if deadline is None else min(every, deadline - loop.time())
        if wait <= 0:
            break
        _, running = await asyncio.wait(running, timeout=wait)
    return running
