"""Each learner's submissions are worked by one evidence replica: a replica that fetched
another's learners hands them to it, and does the work itself when that one does not answer."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime

import pytest

from eventlog.handover import REQUEST_BYTES, chunks, decode_messages, encode_messages, owner_of
from eventlog.stored import RawStored
from evidence.app import create_app
from evidence.intake import settle as intake
from shared_events.events.evidence import EvidenceRecorded, MasteryDecided

from .evidence_world import GEO, World, native

LEARNERS = [f"sis-{n}" for n in range(8)]
INPUTS = [
    native(
        f"h-{n}",
        LEARNERS[n % len(LEARNERS)],
        round(0.3 + (n * 0.07) % 0.7, 2),
        f"2026-10-{1 + n % 27:02d}T09:00:00Z",
        **({"competency": GEO} if n % 3 == 0 else {}),
    )
    for n in range(48)
]


def test_every_replica_names_the_same_owner_and_a_newcomer_takes_only_its_own_share():
    keys = [f"lrn-{n}" for n in range(2000)]
    two = {k: owner_of(k, ("a", "b")) for k in keys}
    assert two == {k: owner_of(k, ("b", "a")) for k in keys}  # the order of members is no matter
    shares = Counter(two.values())
    assert 850 <= shares["a"] <= 1150, shares
    three = {k: owner_of(k, ("a", "b", "c")) for k in keys}
    moved = [k for k in keys if three[k] != two[k]]
    assert all(three[k] == "c" for k in moved), "a key moves only to the replica that joined"
    assert 500 <= len(moved) <= 830, len(moved)
    assert {k: owner_of(k, ("a", "b")) for k in keys if three[k] != "c"} == {
        k: two[k] for k in keys if three[k] != "c"
    }


def test_a_message_handed_over_arrives_as_it_was_stored():
    stored = RawStored(
        "INGEST",
        41,
        "ingest.acme.xapi",
        datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        b'{"\xc3\xa9": "\x00\xff"}\xfe',
        {"X-Experience-API-Version": "1.0.3"},
    )
    assert decode_messages(encode_messages([stored, stored])) == [stored, stored]


def test_handed_over_messages_travel_in_requests_below_the_servers_payload_limit():
    sizes = [300_000, 10, 200_000, 90_000, 5, 370_000]
    stored = [
        RawStored("INGEST", n, "ingest.acme.native", datetime.now(UTC), b"x" * size, {})
        for n, size in enumerate(sizes)
    ]
    sent = chunks(stored)
    assert [m for chunk in sent for m in chunk] == stored, "every message once, in order"
    assert all(len(encode_messages(chunk)) <= REQUEST_BYTES + 1024 for chunk in sent)
    assert len(sent) > 1


async def _two_replicas(world: World, ledger_settings, running_app, **handover):
    settings = ledger_settings("evidence").model_copy(update={"lease_ttl": 2.0})
    replicas = [create_app(settings), create_app(settings)]
    for sis in LEARNERS:
        await world.register(sis)
    await world.ctx.service.stop()  # only the two replicas below work the intake
    running = [running_app(app) for app in replicas]
    for run in running:
        await run.__aenter__()
    handovers = [app.state.evidence.service.parts.handovers[0] for app in replicas]
    for h in handovers:
        for name, value in handover.items():
            setattr(h, name, value)

    async def both_known() -> bool:
        return all([len(await h.owners()) == 2 for h in handovers])

    await world.until(both_known, timeout=10)
    return replicas, running, handovers


async def _all_decided(world: World) -> None:
    async def decided() -> bool:
        counts = [len(await world.events(world.learner(s), "recorded")) for s in LEARNERS]
        return sum(counts) >= len(INPUTS)

    await world.until(decided, timeout=60)
    await asyncio.sleep(0.3)


async def _recorded_once(world: World) -> None:
    for sis in LEARNERS:
        events = await world.events(world.learner(sis))
        recorded = [e for e in events if isinstance(e, EvidenceRecorded)]
        mine = [i for i in INPUTS if i["learner_sis_id"] == sis]
        assert sorted(e.source_id for e in recorded) == sorted(i["id"] for i in mine)
        assert any(isinstance(e, MasteryDecided) for e in events)


@pytest.mark.integration
async def test_two_replicas_work_each_learner_in_one_place(
    world: World, ledger_settings, running_app, monkeypatch
):
    worked_by: dict[str, set[int]] = {}
    real = intake.apply_steps
    replicas, running, handovers = await _two_replicas(world, ledger_settings, running_app)
    contexts = [app.state.evidence for app in replicas]

    async def noting_who(ctx, district, learner_id, steps, *args, **kwargs):
        worked_by.setdefault(learner_id, set()).add(contexts.index(ctx))
        return await real(ctx, district, learner_id, steps, *args, **kwargs)

    monkeypatch.setattr(intake, "apply_steps", noting_who)
    try:
        for body in INPUTS:
            await world.publish("native", body)
        await _all_decided(world)
        owners = await handovers[0].owners()
    finally:
        for run in reversed(running):
            await run.__aexit__(None, None, None)
    await _recorded_once(world)
    for sis in LEARNERS:
        learner = world.learner(sis)
        owner = owner_of(learner, owners)
        assert worked_by[learner] == {i for i, h in enumerate(handovers) if h.replica == owner}
    assert sum(h.handed for h in handovers) > 0, "some submissions were handed to their owner"
    assert sum(h.served for h in handovers) == sum(h.handed for h in handovers)
    assert sum(h.fallbacks for h in handovers) == 0


@pytest.mark.integration
async def test_an_owner_that_does_not_answer_has_its_work_done_by_the_replica_that_fetched_it(
    world: World, ledger_settings, running_app
):
    replicas, running, handovers = await _two_replicas(
        world, ledger_settings, running_app, timeout=0.5
    )
    frozen = asyncio.Event()

    async def never_answers(messages):
        await frozen.wait()  # a replica alive on the network but doing nothing
        return [None] * len(messages)

    # The second replica takes handed work in and never answers; its own fetches stop too.
    handovers[1].work = never_answers
    await replicas[1].state.evidence.service.parts.batches[0].stop()
    try:
        for body in INPUTS:
            await world.publish("native", body)
        await _all_decided(world)
        assert handovers[0].fallbacks > 0, "the first replica did the frozen one's work"
    finally:
        frozen.set()
        for run in reversed(running):
            await run.__aexit__(None, None, None)
    await _recorded_once(world)
    assert handovers[1].served > 0  # it took the requests in, and answered none in time
    assert handovers[0].handed == 0


@pytest.mark.integration
async def test_an_owner_whose_work_breaks_has_its_work_done_by_the_replica_that_fetched_it(
    world: World, ledger_settings, running_app
):
    """The owner answers that it could not work what it was handed (its work raised, not a
    verdict): the replica that fetched the submissions works them itself, each recorded once."""
    replicas, running, handovers = await _two_replicas(world, ledger_settings, running_app)

    async def breaks(messages):
        raise RuntimeError("the owner's database is away")

    handovers[1].work = breaks
    await replicas[1].state.evidence.service.parts.batches[0].stop()
    try:
        for body in INPUTS:
            await world.publish("native", body)
        await _all_decided(world)
    finally:
        for run in reversed(running):
            await run.__aexit__(None, None, None)
    await _recorded_once(world)
    assert handovers[0].fallbacks > 0 and handovers[0].handed == 0
    assert handovers[1].served == 0
