"""What the pathways tests share: a mastery decision as the evidence service would store it, and
what one replica deciding a learner's log in order would have written."""

from __future__ import annotations

from datetime import UTC, datetime

from pathways.domain.decisions import decide
from pathways.domain.graph import Graph
from pathways.domain.pathway import DEFAULT_POLICY, LearnerPathways, evolve
from shared_events import Envelope, Timeline
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef
from shared_events.events.pathways import MasteryObserved, PathwayAssigned

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


def sequential_run(graph: Graph, log: list) -> list:
    """What one replica taking the log's facts (assignments, observations) in one at a time,
    in order, would have written: the log itself when nothing was decided twice or out of
    order."""
    written: list = []
    state = LearnerPathways(log[0].learner_id)
    for event in log:
        if isinstance(event, PathwayAssigned):
            today = event.start_date or datetime.now(UTC).date()
            because = (event.pathway_id,)
        elif isinstance(event, MasteryObserved):
            today, because = event.decided_at.date(), (event.decision_id,)
        else:
            continue
        decided = decide(state, [event], lambda *_: graph, DEFAULT_POLICY, today, because)
        written.extend(decided)
        for made in decided:
            state = evolve(state, made)
    return written
