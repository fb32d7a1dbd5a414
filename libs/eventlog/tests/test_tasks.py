"""Stopping background tasks whose first cancellation is lost."""

from __future__ import annotations

import asyncio

import pytest
from nats.errors import TimeoutError as NatsTimeout
from nats.js.client import JetStreamContext

from eventlog.projector import Projector
from eventlog.tasks import cancel_and_wait


def losing_cancellations(lost: int):
    """A loop that, like a fetch loop under Python 3.11's `wait_for`, takes the first `lost`
    cancellations for an ordinary wake-up and goes on."""
    state = {"lost": 0, "ended": False}

    async def loop() -> None:
        try:
            while True:
                try:
                    await asyncio.sleep(3600)
                except asyncio.CancelledError:
                    if state["lost"] == lost:
                        raise
                    state["lost"] += 1
        finally:
            state["ended"] = True

    return loop, state


async def test_a_task_that_loses_its_first_cancellations_is_cancelled_until_it_ends():
    loop, state = losing_cancellations(lost=2)
    task = asyncio.create_task(loop())
    await asyncio.sleep(0)

    assert await asyncio.wait_for(cancel_and_wait([task], every=0.01), timeout=5) == set()
    assert task.cancelled() and state == {"lost": 2, "ended": True}


async def test_a_task_still_running_after_the_timeout_is_handed_back():
    loop, state = losing_cancellations(lost=10**9)
    task = asyncio.create_task(loop())
    await asyncio.sleep(0)

    assert await cancel_and_wait([task], timeout=0.1, every=0.02) == {task}
    assert not task.done() and state["lost"] >= 2
    state["lost"] = 10**9  # let the next cancellation through
    await cancel_and_wait([task])
    assert task.cancelled()


async def test_tasks_already_done_are_left_as_they_are():
    done = asyncio.create_task(asyncio.sleep(0, result="kept"))
    await done
    assert await cancel_and_wait([done]) == set()
    assert done.result() == "kept"


class Nothing:
    name = "nothing"
    stream = "EVIDENCE"
    subjects = ("evidence.>",)

    async def apply(self, session, event) -> None:
        pass

    async def reset(self, session) -> None:
        pass


@pytest.mark.integration
async def test_a_projector_stops_although_its_fetch_swallowed_the_cancellation(
    js, database_url, monkeypatch
):
    """What hung a rebuild: the cancellation arrived as a message did, and the fetch returned."""
    from eventlog.sql import create_engine, create_tables

    fetch = JetStreamContext.PullSubscription.fetch
    swallowed: list[int] = []

    async def fetch_losing_one_cancellation(self, *args, **kwargs):
        try:
            return await fetch(self, *args, **kwargs)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed.append(1)
            raise NatsTimeout from None

    monkeypatch.setattr(JetStreamContext.PullSubscription, "fetch", fetch_losing_one_cancellation)
    engine = create_engine(database_url)
    await create_tables(engine)
    try:
        projector = Projector(Nothing(), js, engine, fetch_timeout=0.2)
        await projector.start()
        await asyncio.sleep(0.1)  # inside a fetch
        stopping = asyncio.create_task(projector.stop())
        await asyncio.wait([stopping], timeout=10)  # a hung stop is left waiting, not cancelled
        assert stopping.done() and swallowed == [1]
    finally:
        await engine.dispose()
