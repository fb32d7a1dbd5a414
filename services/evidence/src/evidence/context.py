"""What the evidence service's handlers and routes need, built once per running service."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventlog.group_commit import GroupCommit
from eventlog.sealing import Pseudonyms
from eventlog.service import ServiceBound
from evidence.domain.learner_evidence import LearnerEvidence

if TYPE_CHECKING:
    from evidence.intake.bookkeeping import Notes
    from evidence.intake.resolve import Reference

READ_MODELS = ("evidence-learners", "evidence-competencies", "evidence-settings")


@dataclass(frozen=True)
class KnownTimeline:
    """A learner's evidence state as of `sequence` (whose event hashes to `last_hash`)."""

    state: LearnerEvidence
    sequence: int
    last_hash: str | None


class EvidenceContext(ServiceBound):
    def __init__(self, pseudonym_secret: bytes, cached_learners: int = 10_000) -> None:
        self.ids = Pseudonyms(pseudonym_secret)
        super().__init__()
        # Learners' states as this replica last wrote them. Only a hint: every append is checked
        # against the log's sequence, and a conflict drops the entry and reads the log again.
        self.timelines: OrderedDict[str, KnownTimeline] = OrderedDict()
        self._cached_learners = cached_learners
        # Districts, competencies, alignments and policies as last read (see intake.resolve).
        self.reference: Reference | None = None
        self._rejection_locks: dict[str, asyncio.Lock] = {}
        from evidence.intake import bookkeeping
        from evidence.intake.order import Order

        # How long the intake retries a broker or database failure for one run before handing
        # its submissions back to JetStream for a later delivery.
        self.retry_deadline = 120.0
        # The intake's ordering keys in flight, and its notes committed many runs at a time.
        self.order = Order()
        self.notes: GroupCommit[Notes] = GroupCommit(bookkeeping.write)

    def rejection_lock(self, partner: str) -> asyncio.Lock:
        """Rejections of one partner are appended one at a time (their log is a hash chain)."""
        return self._rejection_locks.setdefault(partner, asyncio.Lock())

    def remember(self, learner_id: str, known: KnownTimeline) -> None:
        self.timelines[learner_id] = known
        self.timelines.move_to_end(learner_id)
        while len(self.timelines) > self._cached_learners:
            self.timelines.popitem(last=False)

    async def reference_caught_up(self) -> None:
        """Learners, competencies and settings reflect the log (before saying "unknown")."""
        for name in READ_MODELS:
            await self.service.projector(name).wait_caught_up()
