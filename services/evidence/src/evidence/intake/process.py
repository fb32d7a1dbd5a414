"""Partner submissions from INGEST, a batch at a time. Each submission's journey:

    parse → resolve → de-duplicate → decide → append → note

1. What already has an outcome (a redelivery of finished work) is passed over.
2. Each submission is read: parsed in its format and its learners and competencies resolved
   (`submission.read`); bad input becomes that submission's rejection there and then.
3. What the batch needs to know — partner ids already seen, learners' statuses — is read once.
4. Submissions sharing a learner or a partner id run in INGEST order, the rest side by side
   (`order`); each run is settled (`settle`: de-duplicate, decide, append) and its notes are
   committed (`bookkeeping`, many runs to a transaction).

A failure stays with its submission. The broker or the database failing is retried here, for
that run alone, while the runs of other learners go on. Anything else a submission makes go
wrong is the submission's own: it is carried out again alone, and if it still fails it is
rejected with the reason. A submission is handed back for redelivery only when the
infrastructure stays down past `retrying`'s deadline or the process is stopping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TypeVar

from eventlog.redelivery import reason_of
from eventlog.retrying import StillFailing, retrying
from eventlog.stored import RawStored
from evidence.context import EvidenceContext
from evidence.ingest.observation import Rejection
from evidence.intake import bookkeeping as books
from evidence.intake.bookkeeping import Notes
from evidence.intake.order import Run
from evidence.intake.resolve import Reference, learner_statuses, reference
from evidence.intake.settle import Known, reject, settle
from evidence.intake.submission import Submission, partner_and_format, read

Results = dict[int, Exception | None]
T = TypeVar("T")


async def process_batch(
    ctx: EvidenceContext, messages: Sequence[RawStored]
) -> list[Exception | None]:
    """Carry out every message; one result per message: None, or why it is to come again."""
    async with ctx.order.reading:  # batches take their place in line in the order they came
        try:
            submissions, known = await _read_batch(ctx, messages)
        except StillFailing as exc:
            return [exc] * len(messages)
        tasks = ctx.order.start(submissions, known.sources, lambda run: _carry_out(ctx, known, run))
    results: Results = {}
    for outcome in await asyncio.gather(*tasks):
        results |= outcome
    return [results.get(m.sequence) for m in messages]


async def _read_batch(
    ctx: EvidenceContext, messages: Sequence[RawStored]
) -> tuple[list[Submission], Known]:
    done = await _retry(ctx, "reading outcomes", lambda: _reached(ctx, messages))
    todo = sorted((m for m in messages if m.sequence not in done), key=lambda m: m.sequence)
    ref = await _retry(ctx, "reading reference data", lambda: reference(ctx))
    submissions = [
        await _retry(ctx, f"reading ingest {m.sequence}", partial(read, ctx, ref, m)) for m in todo
    ]
    known = await _retry(ctx, "reading what is known", lambda: _known(ctx, ref, submissions))
    return submissions, known


async def _carry_out(ctx: EvidenceContext, known: Known, run: Run) -> Results:
    """Settle a run and commit its notes; answer for each member."""
    try:
        if run.shares_a_source:
            known = await _retry(ctx, "re-reading partner ids", lambda: _again(ctx, known, run))
        notes = await _retry(ctx, "recording", lambda: settle(ctx, known, run.members))
        run.appended.set()  # the learner's next run may start while these notes are committed
        await _retry(ctx, "noting", lambda: ctx.notes.commit(ctx.service.engine, notes))
    except StillFailing as exc:
        return dict.fromkeys((s.sequence for s in run.members), exc)
    except Exception as exc:
        if len(run.members) > 1:  # find the one that fails: each alone, in order
            results: Results = {}
            for member in run.members:
                results |= await _carry_out(ctx, known, Run([member], run.keys))
            return results
        return {run.members[0].sequence: await _unprocessable(ctx, run.members[0], exc)}
    return dict.fromkeys(s.sequence for s in run.members)


async def _unprocessable(
    ctx: EvidenceContext, submission: Submission, exc: Exception
) -> Exception | None:
    """A submission that makes its own processing fail is rejected with the reason (a
    Rejection found only against the log, with its own field and rule)."""
    rejection = (
        exc
        if isinstance(exc, Rejection)
        else Rejection("body", f"could not be processed: {reason_of(exc)[:500]}")
    )

    async def rejected() -> None:
        outcome = await reject(ctx, submission, rejection)
        await ctx.notes.commit(ctx.service.engine, Notes(outcomes=[outcome]))

    try:
        await _retry(ctx, f"rejecting ingest {submission.sequence}", rejected)
    except Exception as still:
        return still
    return None


async def reject_unprocessable(ctx: EvidenceContext, message: RawStored, reason: str) -> None:
    """The verdict on a submission that failed every delivery: rejected, with the reason."""
    if message.sequence in await _reached(ctx, [message]):
        return
    submission = Submission(message, *partner_and_format(message))
    outcome = await reject(ctx, submission, Rejection("body", f"could not be processed: {reason}"))
    await ctx.notes.commit(ctx.service.engine, Notes(outcomes=[outcome]))


async def learners_of(ctx: EvidenceContext, messages: Sequence[RawStored]) -> list[str | None]:
    """The learner each submission concerns, when it concerns exactly one: the replica owning
    that learner works it (None: whichever replica fetched it)."""
    try:
        ref = await reference(ctx)
    except Exception:
        return [None] * len(messages)
    found: list[str | None] = []
    for message in messages:
        try:
            learners = (await read(ctx, ref, message)).learners()
        except Exception:
            learners = set()
        found.append(next(iter(learners)) if len(learners) == 1 else None)
    return found


async def _retry(ctx: EvidenceContext, what: str, work: Callable[[], Awaitable[T]]) -> T:
    return await retrying(
        work, what=what, deadline=ctx.retry_deadline, stopping=lambda: ctx.service.stopping
    )


async def _reached(ctx: EvidenceContext, messages: Sequence[RawStored]) -> set[int]:
    async with ctx.service.sessions()() as session:
        return await books.reached(session, [m.sequence for m in messages])


async def _known(ctx: EvidenceContext, ref: Reference, submissions: Sequence[Submission]) -> Known:
    sources, statuses = await asyncio.gather(
        books.known_sources(ctx.service.engine, set().union(*(s.sources() for s in submissions))),
        learner_statuses(ctx, set().union(*(s.learners() for s in submissions))),
    )
    return Known(ref, sources, statuses)


async def _again(ctx: EvidenceContext, known: Known, run: Run) -> Known:
    """What is known, with the run's partner ids read again (earlier work may have noted them)."""
    wanted = set().union(*(s.sources() for s in run.members))
    fresh = await books.known_sources(ctx.service.engine, wanted)
    sources = {k: v for k, v in known.sources.items() if k not in wanted} | fresh
    return Known(known.reference, sources, known.statuses)
