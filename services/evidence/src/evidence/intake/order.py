"""In what order the intake may carry submissions out, within this process.

Two submissions that share an ordering key — a learner, or a partner id — are carried out in
INGEST order, the later one starting when the earlier one has ended (however it ended: a
failure is answered for that submission alone). Submissions with no key in common run side by
side. A learner's submissions that nothing else orders are carried out together, as one run.

What shares only a learner with earlier work starts as soon as that work's events are in the
log, while its notes are still being committed: the learner's state is in memory and in the
log, which is all the next run reads of it. What shares a partner id waits for the notes too,
since it reads them again (`Run.shares_a_source`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evidence.ingest.observation import Voiding
from evidence.intake.submission import Submission

T = TypeVar("T")
Row = dict[str, Any]


@dataclass
class Run:
    """Submissions carried out together, in order, after the tasks in `after` have ended and
    the runs in `after_appended` have appended."""

    members: list[Submission]
    keys: set[str]
    after: list[asyncio.Task[Any]] = field(default_factory=list)
    shares_a_source: bool = False
    """Waits on earlier work that names one of its partner ids: what is known of them must be
    read again once that work has ended."""
    after_appended: list[Run] = field(default_factory=list)
    appended: asyncio.Event = field(default_factory=asyncio.Event)
    """Set once the run's events are in the log, or once it has ended however it ended."""


def keys_of(submission: Submission, sources: dict[tuple[str, str], Row]) -> set[str]:
    """What orders this submission after earlier ones: its learners and its partner ids (and,
    for a voiding, the learner of the evidence it voids)."""
    keys = {f"source/{partner}/{sid}" for partner, sid in submission.sources()}
    keys |= {f"learner/{learner}" for learner in submission.learners()}
    for item in submission.items:
        if isinstance(item.parsed, Voiding):
            voided = sources.get((submission.partner, item.parsed.voided_source_id))
            if voided is not None and voided.get("learner_id"):
                keys.add(f"learner/{voided['learner_id']}")
    return keys


class Order:
    """The last task started for each ordering key, across overlapping batches."""

    def __init__(self) -> None:
        self.last: dict[str, asyncio.Task[Any]] = {}
        self._runs: dict[asyncio.Task[Any], Run] = {}  # the run each task in `last` carries out
        self._ended: set[asyncio.Task[Any]] = set()  # tasks already ended at the last start
        self.reading = asyncio.Lock()
        """Held by a batch from its arrival until its runs are started (FIFO), so batches
        read concurrently still take their place in line in the order they came."""

    def start(
        self,
        submissions: Sequence[Submission],
        sources: dict[tuple[str, str], Row],
        carry_out: Callable[[Run], Awaitable[T]],
    ) -> list[asyncio.Task[T]]:
        """Group `submissions` (in INGEST order) into runs and start a task for each, after
        the earlier tasks that share a key with it."""
        # A task is forgotten only if it had ended by the previous start, which came before
        # this batch read what is known: its notes are in what was read. One that ended since
        # may have noted after the read, so its followers still read again.
        for key in [k for k, task in self.last.items() if task in self._ended]:
            del self.last[key]
        self._runs = {task: self._runs[task] for task in set(self.last.values())}
        self._ended = {task for task in self.last.values() if task.done()}
        keyed = [(s, keys_of(s, sources)) for s in submissions]
        # How many submissions of this batch name each key.
        named: dict[str, int] = {}
        for _, keys in keyed:
            for key in keys:
                named[key] = named.get(key, 0) + 1
        tasks: list[asyncio.Task[T]] = []
        together: dict[str, tuple[Run, asyncio.Task[T]]] = {}
        for submission, keys in keyed:
            learner = _sole_learner(submission, keys, named, self.last)
            if learner is not None and learner in together:
                run, task = together[learner]
                if self.last.get(learner) is task:
                    # Next in line for this learner and nothing else waits on it: it joins the
                    # run before it, which has not started (nothing was awaited since).
                    run.members.append(submission)
                    run.keys |= keys
                    self.last |= dict.fromkeys(keys, task)
                    continue
            earlier = {k: self.last[k] for k in keys if k in self.last}
            shared = {t: {k for k, e in earlier.items() if e is t} for t in earlier.values()}
            run = Run(
                [submission],
                set(keys),
                after=[t for t, ks in shared.items() if any(not _learner(k) for k in ks)],
                shares_a_source=any(k.startswith("source/") for k in earlier),
                after_appended=[
                    self._runs[t] for t, ks in shared.items() if all(_learner(k) for k in ks)
                ],
            )
            task = asyncio.create_task(_after(run, carry_out))
            # However it ends — even cancelled before it ran — what waits on it may go on.
            task.add_done_callback(_release(run))
            self._runs[task] = run
            tasks.append(task)
            if learner is not None:
                together[learner] = (run, task)
            self.last |= dict.fromkeys(keys, task)
        return tasks


async def _after(run: Run, carry_out: Callable[[Run], Awaitable[T]]) -> T:
    if run.after:
        await asyncio.wait(run.after)  # however they ended
    for earlier in run.after_appended:
        await earlier.appended.wait()
    return await carry_out(run)


def _release(run: Run) -> Callable[[asyncio.Task[Any]], None]:
    return lambda _: run.appended.set()


def _learner(key: str) -> bool:
    return key.startswith("learner/")


def _sole_learner(
    submission: Submission,
    keys: set[str],
    named: dict[str, int],
    in_flight: Mapping[str, object],
) -> str | None:
    """The key of the one learner a submission records evidence for, when nothing else orders
    it: its partner ids are in no other submission of the batch, nor in flight."""
    if submission.rejection is not None or not submission.items:
        return None
    learners = {i.resolved.learner_id if i.resolved else None for i in submission.items}
    if len(learners) != 1 or None in learners:
        return None
    key = f"learner/{learners.pop()}"
    if any(named[k] > 1 or k in in_flight for k in keys - {key}):
        return None
    return key
