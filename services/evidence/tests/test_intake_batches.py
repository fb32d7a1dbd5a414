"""A batch's submissions for one learner go to the log in one append, and the log says exactly
what it would say had they come one batch at a time; anything that orders them otherwise (a
submission for two learners, a partner id seen twice) keeps them apart. Real NATS, real SQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from eventlog.stored import RawStored
from evidence.intake import process, settle
from shared_events.events.evidence import EvidenceRecorded, MasteryDecided

from .evidence_world import GEO, PARTNER, native

pytestmark = pytest.mark.integration

_sequences = count(1001)


def message(body: object) -> RawStored:
    return RawStored(
        "INGEST",
        next(_sequences),
        f"ingest.{PARTNER}.native",
        datetime.now(UTC),
        json.dumps(body).encode(),
        {},
    )


def day(n: int) -> str:
    return (datetime(2026, 10, 1, 9, tzinfo=UTC) + timedelta(days=n)).isoformat()


@pytest.fixture
def appends(monkeypatch):
    """The steps of every append the intake makes, per learner, in order."""
    made: list[tuple[str, list[str]]] = []
    real = settle.apply_steps

    async def counted(ctx, district, learner_id, steps, *args, **kwargs):
        made.append((learner_id, [step.cause for step in steps]))
        return await real(ctx, district, learner_id, steps, *args, **kwargs)

    monkeypatch.setattr(settle, "apply_steps", counted)
    return made


def story(events: list) -> list[tuple]:
    """What a learner's log says, without the ids that name its inputs."""
    told: list[tuple] = []
    for event in events:
        if isinstance(event, EvidenceRecorded):
            told.append(("recorded", event.competency_id, event.score, event.observed_at))
        elif isinstance(event, MasteryDecided):
            told.append(
                (
                    "decided",
                    event.competency_id,
                    tuple(e.score for e in event.evidence),
                    round(event.new_score, 9),
                    event.new_level,
                    event.previous_level,
                )
            )
        else:
            told.append((type(event).__name__,))
    return told


async def test_one_learners_submissions_in_a_batch_make_one_append_telling_what_one_at_a_time_would(
    world, appends
):
    together, apart, other = [await world.register(s) for s in ("sis-1", "sis-2", "sis-3")]
    scores = [0.4, 0.9, 0.2, 0.7]
    batch = []
    for n, score in enumerate(scores):
        batch.append(message(native(f"t-{n}", "sis-1", score, day(n), competency=GEO)))
        batch.append(message(native(f"o-{n}", "sis-3", 0.5, day(n))))

    assert await process.process_batch(world.ctx, batch) == [None] * len(batch)
    for n, score in enumerate(scores):
        one = message(native(f"a-{n}", "sis-2", score, day(n), competency=GEO))
        assert await process.process_batch(world.ctx, [one]) == [None]

    by_learner = [learner for learner, _ in appends]
    assert by_learner.count(together) == 1 and by_learner.count(other) == 1
    assert by_learner.count(apart) == len(scores)
    [causes] = [steps for learner, steps in appends if learner == together]
    assert causes == [f"ingest/{m.sequence}/0" for m in batch[::2]], "in INGEST order"
    told = story(await world.events(together))
    assert told == story(await world.events(apart))
    assert [t[0] for t in told] == ["recorded", "decided"] * len(scores)


async def test_a_submission_for_two_learners_keeps_a_learners_submissions_in_order(world, appends):
    first, second = [await world.register(s) for s in ("sis-1", "sis-2")]
    before = message(native("b-1", "sis-1", 0.3, day(0)))
    both = message([native("m-1", "sis-1", 0.6, day(1)), native("m-2", "sis-2", 0.6, day(1))])
    after = message(native("b-2", "sis-1", 0.9, day(2)))
    alone = message(native("b-3", "sis-2", 0.8, day(2)))

    results = await process.process_batch(world.ctx, [before, both, after, alone])

    assert results == [None] * 4
    recorded = await world.events(first, "recorded")
    assert [e.source_id for e in recorded] == ["b-1", "m-1", "b-2"]
    assert [e.source_id for e in await world.events(second, "recorded")] == ["m-2", "b-3"]
    assert [steps for learner, steps in appends if learner == first] == [
        [f"ingest/{before.sequence}/0"],
        [f"ingest/{both.sequence}/0"],
        [f"ingest/{after.sequence}/0"],
    ]


async def test_a_partner_id_twice_in_a_batch_is_recorded_once_and_the_second_is_a_duplicate(
    world, appends
):
    learner = await world.register("sis-1")
    same = native("d-1", "sis-1", 0.6, day(0))
    batch = [message(same), message(native("d-2", "sis-1", 0.7, day(1))), message(same)]

    assert await process.process_batch(world.ctx, batch) == [None] * 3

    assert [e.source_id for e in await world.events(learner, "recorded")] == ["d-1", "d-2"]
    assert len(await world.events(learner, "mastery")) == 2
    assert all(len(steps) == 1 for _, steps in appends), "ordered by the partner id: apart"


def failing_appends(monkeypatch, when, error: Exception | None = None, times=1):
    """The first `times` appends that `when(learner_id, causes)` picks fail with `error`
    (by default as if NATS were down); returns the causes of those that failed."""
    failed: list[list[str]] = []
    real = settle.apply_steps
    error = error or ConnectionError("nats unavailable")

    async def failing(ctx, district, learner_id, steps, *args, **kwargs):
        causes = [step.cause for step in steps]
        if len(failed) < times and when(learner_id, causes):
            failed.append(causes)
            raise error
        return await real(ctx, district, learner_id, steps, *args, **kwargs)

    monkeypatch.setattr(settle, "apply_steps", failing)
    return failed


async def test_a_failed_append_is_tried_again_alone_and_records_each_submission_once(
    world, monkeypatch
):
    learner = await world.register("sis-1")
    other = await world.register("sis-2")
    failed = failing_appends(monkeypatch, lambda learner_id, _: learner_id == learner, times=2)
    batch = [
        message(native("f-1", "sis-1", 0.5, day(0))),
        message(native("g-1", "sis-2", 0.5, day(0))),
        message(native("f-2", "sis-1", 0.8, day(1))),
    ]

    assert await process.process_batch(world.ctx, batch) == [None, None, None]
    assert [len(causes) for causes in failed] == [2, 2], "the learner's run, tried again"
    assert [e.source_id for e in await world.events(learner, "recorded")] == ["f-1", "f-2"]
    assert len(await world.events(learner, "mastery")) == 2
    assert [e.source_id for e in await world.events(other, "recorded")] == ["g-1"]
    assert await process.process_batch(world.ctx, batch) == [None, None, None]
    assert len(await world.events(learner)) == 4, "a redelivery appends nothing"


async def test_while_one_learners_append_fails_another_learners_evidence_is_recorded(
    world, monkeypatch
):
    learner = await world.register("sis-1")
    other = await world.register("sis-2")
    real = settle.apply_steps
    seen_other_recorded: list[bool] = []

    async def down_until_the_other_is_recorded(ctx, district, learner_id, steps, *a, **kw):
        if learner_id == learner and not seen_other_recorded:
            if await world.events(other, "recorded"):
                seen_other_recorded.append(True)
            raise ConnectionError("nats unavailable")
        return await real(ctx, district, learner_id, steps, *a, **kw)

    monkeypatch.setattr(settle, "apply_steps", down_until_the_other_is_recorded)
    batch = [
        message(native("s-1", "sis-1", 0.5, day(0))),
        message(native("t-1", "sis-2", 0.5, day(0))),
    ]
    assert await process.process_batch(world.ctx, batch) == [None, None]
    assert seen_other_recorded == [True]
    assert [e.source_id for e in await world.events(learner, "recorded")] == ["s-1"]


async def test_a_submission_that_breaks_its_own_processing_is_rejected_alone(world, monkeypatch):
    learner = await world.register("sis-1")
    bad = message(native("b-2", "sis-1", 0.6, day(1)))
    failing_appends(
        monkeypatch,
        lambda _, causes: any(c.startswith(f"ingest/{bad.sequence}/") for c in causes),
        error=ValueError("cannot encode this"),
        times=10,
    )
    batch = [
        message(native("b-1", "sis-1", 0.5, day(0))),
        bad,
        message(native("b-3", "sis-1", 0.7, day(2))),
    ]

    assert await process.process_batch(world.ctx, batch) == [None, None, None]
    assert [e.source_id for e in await world.events(learner, "recorded")] == ["b-1", "b-3"]
    [rejected] = await world.rejections()
    assert rejected.ingest_sequence == bad.sequence
    assert rejected.field == "body"
    assert "could not be processed: ValueError: cannot encode this" in rejected.rule


async def test_a_failing_submission_holds_back_newer_ones_of_its_learner_only(world, monkeypatch):
    learner = await world.register("sis-1")
    await world.register("sis-2")
    older = message(native("o-1", "sis-1", 0.2, day(0)))
    newer = message(native("n-1", "sis-1", 0.9, day(1)))
    other = message(native("x-1", "sis-2", 0.5, day(0)))
    failing_appends(
        monkeypatch,
        lambda _, causes: any(c.startswith(f"ingest/{older.sequence}/") for c in causes),
        times=3,
    )

    first, second = await asyncio.gather(
        process.process_batch(world.ctx, [older]),
        process.process_batch(world.ctx, [newer, other]),
    )
    assert first == [None] and second == [None, None]
    recorded = await world.events(learner, "recorded")
    assert [e.source_id for e in recorded] == ["o-1", "n-1"], "the older one first"


class Died(BaseException):
    """The process dies: nothing after this point happens."""


async def test_a_resend_with_other_content_is_refused_even_before_the_first_was_noted(
    world, monkeypatch
):
    """The first submission's events are in the log but its notes are not (the process died
    in between): a resend of its id with another score is refused by what the log holds, and
    the first one's redelivery is accepted as what the log holds."""
    learner = await world.register("sis-1")
    first = message(native("z-1", "sis-1", 0.3, day(0)))
    real = process.settle

    async def appends_then_dies(*args):
        await real(*args)
        raise Died

    monkeypatch.setattr(process, "settle", appends_then_dies)
    with pytest.raises(Died):
        await process.process_batch(world.ctx, [first])
    monkeypatch.setattr(process, "settle", real)
    assert len(await world.events(learner, "recorded")) == 1

    changed = message(native("z-1", "sis-1", 0.9, day(0)))
    assert await process.process_batch(world.ctx, [changed]) == [None]
    [refused] = await world.rejections()
    assert refused.ingest_sequence == changed.sequence
    assert (refused.field, refused.source_id) == ("id", "z-1")
    assert "already received with different content" in refused.rule

    assert await process.process_batch(world.ctx, [first]) == [None]
    [recorded] = await world.events(learner, "recorded")
    assert recorded.score == 0.3
    assert len(await world.rejections()) == 1, "the original is not refused"


async def test_a_learners_next_run_starts_once_the_one_before_is_in_the_log(world, monkeypatch):
    """While the first submission's notes are still being committed, the learner's next one is
    already recorded behind it; a resend of the first one's partner id waits for those notes
    (it reads them) and is then told a duplicate."""
    learner = await world.register("sis-1")
    first = message(native("q-1", "sis-1", 0.3, day(0)))
    next_one = message(native("q-2", "sis-1", 0.8, day(1)))
    resend = message(native("q-1", "sis-1", 0.3, day(0)))
    release = asyncio.Event()
    real = world.ctx.notes.commit
    held: list[object] = []

    async def slow_first_commit(engine, notes):
        if not held:
            held.append(notes)
            await release.wait()  # the first run's notes take their time
        return await real(engine, notes)

    monkeypatch.setattr(world.ctx.notes, "commit", slow_first_commit)
    batches = [
        asyncio.create_task(process.process_batch(world.ctx, [body]))
        for body in (first, next_one, resend)
    ]

    async def both_recorded():
        recorded = await world.events(learner, "recorded")
        return [e.source_id for e in recorded] == ["q-1", "q-2"]

    await world.until(both_recorded, timeout=10)
    await asyncio.sleep(0.2)
    assert held and not batches[0].done(), "the first run's notes are still being committed"
    assert not batches[2].done(), "the resend waits for the notes it reads"
    release.set()
    assert [await b for b in batches] == [[None], [None], [None]]
    assert [e.source_id for e in await world.events(learner, "recorded")] == ["q-1", "q-2"]
    assert await world.rejections() == []
