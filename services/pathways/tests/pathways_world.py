"""What the pathways tests share: a mastery decision as the evidence service would store it."""

from __future__ import annotations

from datetime import datetime

from shared_events import Envelope, Timeline
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef

DISTRICT = "d1"


async def store_decision(
    store,
    learner: str,
    competency_id: str,
    scores: list[float],
    mastered: bool,
    n: int,
    at: datetime,
) -> str:
    """The `n`-th MasteryDecided of a test, over evidence scored `scores`, appended to the
    learner's EVIDENCE timeline at `at`; its envelope id."""
    event = MasteryDecided(
        learner_id=learner,
        competency_id=competency_id,
        policy=PolicyRef(policy_id="district-default", method="latest", version=1),
        evidence=tuple(
            EvidenceUsed(evidence_id=f"ev-{n}-{i}", score=s, observed_at=at)
            for i, s in enumerate(scores)
        ),
        previous_level=None,
        new_level="mastered" if mastered else "attempted",
        previous_score=None,
        new_score=scores[-1],
        mastered=mastered,
    )
    envelope = Envelope.wrap(event, source="evidence", subject=learner, district=DISTRICT, time=at)
    await store.append(Timeline("evidence", DISTRICT, learner), [envelope])
    return envelope.id
