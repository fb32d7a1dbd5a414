"""The pathways read models take a batch of events in a few statements and end as they would one
event at a time: however the stream is cut into batches, the learner states, pathway rows,
competency rows, interventions and the mastery read from EVIDENCE are the same rows."""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from eventlog.sql import create_engine, create_tables, sessions
from eventlog.stored import StoredEvent
from pathways.domain.pathway import fold
from pathways.projections import frameworks, progress, reference
from shared_events import Envelope
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef
from shared_events.events.pathways import (
    CompetencyDefinition,
    CompetencyOverridden,
    CompetencyReopened,
    CompetencyUnlocked,
    FrameworkImported,
    GoalAtRisk,
    GoalBackOnTrack,
    InterventionRecommended,
    InterventionResolved,
    MasteryObserved,
    PathwayAdvanced,
    PathwayAssigned,
    PathwayCompleted,
    PathwayMoved,
    PathwayPolicySet,
    Prerequisite,
)

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DAY = date(2026, 11, 2)


def framework(version: int, competencies: list[str]) -> FrameworkImported:
    return FrameworkImported(
        framework_id="fw",
        version=version,
        title="chain",
        competencies=tuple(
            CompetencyDefinition(competency_id=c, statement=f"competency {c}") for c in competencies
        ),
        prerequisites=tuple(
            Prerequisite(before=a, after=b) for a, b in itertools.pairwise(competencies)
        ),
        content_hash=str(version) * 64,
    )


def assigned(learner: str, pathway: str, version: int = 1, **extra: object) -> PathwayAssigned:
    competencies = ("c0", "c1", "c2", "c3")
    return PathwayAssigned(
        learner_id=learner,
        pathway_id=pathway,
        framework_id="fw",
        framework_version=version,
        competencies=competencies,
        assigned_by="tch-1",
        start_date=DAY,
        **extra,
    )


def observed(learner: str, competency: str, n: int, mastered: bool) -> MasteryObserved:
    return MasteryObserved(
        learner_id=learner,
        competency_id=competency,
        decision_id=f"dec-{n}",
        mastered=mastered,
        level="mastered" if mastered else "familiar",
        score=0.9 if mastered else 0.4,
        evidence_ids=(f"ev-{n}",),
        scores=(0.9 if mastered else 0.4,),
        decided_at=AT + timedelta(days=n),
    )


def advanced(learner: str, pathway: str, competency: str, how: str = "mastered"):
    return PathwayAdvanced(
        learner_id=learner,
        pathway_id=pathway,
        competency_id=competency,
        how=how,
        mastered_count=1,
        total_count=4,
        on=DAY,
    )


def unlocked(learner: str, pathway: str, competency: str) -> CompetencyUnlocked:
    return CompetencyUnlocked(
        learner_id=learner, pathway_id=pathway, competency_id=competency, because=("dec-1",)
    )


def recommended(learner: str, intervention: str, tier: int = 1) -> InterventionRecommended:
    return InterventionRecommended(
        learner_id=learner,
        intervention_id=intervention,
        competency_id="c0",
        tier=tier,
        reason="repeated_attempts",
        evidence_ids=("ev-2", "ev-3"),
        detail=f"tier {tier}",
    )


def resolved(learner: str, intervention: str, because: str) -> InterventionResolved:
    return InterventionResolved(
        learner_id=learner, intervention_id=intervention, competency_id="c0", because=because
    )


def pace(learner: str, pathway: str, at_risk: bool) -> GoalAtRisk | GoalBackOnTrack:
    kind = GoalAtRisk if at_risk else GoalBackOnTrack
    return kind(
        learner_id=learner, pathway_id=pathway, as_of=DAY, expected_share=0.5, actual_share=0.25
    )


POLICY = PathwayPolicySet(version=1, set_by="adm-1", attempts_without_proficient=2)

EVENTS = [
    ("lrn-1", assigned("lrn-1", "p1")),
    ("lrn-2", assigned("lrn-2", "p1", target_date=DAY + timedelta(days=30))),
    ("settings", POLICY),  # a district setting in the same subject space: not a learner's
    ("lrn-1", observed("lrn-1", "c0", 1, True)),
    ("lrn-1", advanced("lrn-1", "p1", "c0")),
    ("lrn-1", unlocked("lrn-1", "p1", "c1")),
    ("lrn-2", observed("lrn-2", "c0", 2, False)),
    ("lrn-2", observed("lrn-2", "c0", 3, False)),
    ("lrn-2", recommended("lrn-2", "int-1")),
    ("lrn-3", assigned("lrn-3", "p1")),
    ("lrn-2", resolved("lrn-2", "int-1", "dec-4")),
    ("lrn-2", recommended("lrn-2", "int-2", tier=2)),
    (
        "lrn-1",
        CompetencyOverridden(
            learner_id="lrn-1",
            pathway_id="p1",
            competency_id="c1",
            action="waived",
            reason="knows it",
            by="tch-1",
        ),
    ),
    ("lrn-1", advanced("lrn-1", "p1", "c1", how="waived")),
    ("lrn-1", assigned("lrn-1", "p2")),
    ("lrn-2", pace("lrn-2", "p1", at_risk=True)),
    ("lrn-3", observed("lrn-3", "c0", 5, True)),
    ("lrn-2", resolved("lrn-2", "int-2", "dec-6")),
    ("lrn-2", recommended("lrn-2", "int-1", tier=3)),  # the same id again: a whole new row
    ("lrn-1", CompetencyReopened(learner_id="lrn-1", pathway_id="p1", competency_id="c1")),
    (
        "lrn-2",
        PathwayMoved(
            learner_id="lrn-2",
            pathway_id="p1",
            from_version=1,
            to_version=2,
            competencies=("c0", "c1", "c2", "c3", "c4"),
            moved_by="tch-1",
        ),
    ),
    ("lrn-2", pace("lrn-2", "p1", at_risk=False)),
    ("lrn-2", recommended("lrn-2", "int-2", tier=3)),  # after its resolution: open again
    ("lrn-3", resolved("lrn-3", "int-9", "never recommended")),
    ("lrn-1", observed("lrn-1", "c1", 7, True)),
    ("lrn-1", observed("lrn-1", "c1", 8, False)),
    ("lrn-3", recommended("lrn-3", "int-3")),
    ("lrn-3", resolved("lrn-3", "int-3", "dec-9")),
    ("lrn-1", PathwayCompleted(learner_id="lrn-1", pathway_id="p2", total_count=4)),
    ("lrn-2", observed("lrn-2", "c0", 10, True)),
    ("lrn-2", resolved("lrn-2", "int-1", "dec-10")),
]


def stored(stream: str, events: list, start: int = 1) -> list[StoredEvent]:
    found = []
    for sequence, (subject, event) in enumerate(events, start=start):
        envelope = Envelope.wrap(
            event,
            source="pathways",
            subject=subject,
            district="d1",
            time=AT + timedelta(seconds=sequence),
        )
        name = f"{stream.lower()}.d1.{subject}.{event.kind}"
        found.append(StoredEvent(stream, sequence, name, AT, b"", envelope))
    return found


def cuts(events: list, sizes: tuple[int, ...] | None) -> list[list]:
    """`events` cut into batches of these sizes (the last takes the rest); None: random."""
    if sizes is None:
        rng = random.Random(7)
        sizes = tuple(rng.randint(1, 6) for _ in events)
    batches, start = [], 0
    for size in sizes:
        if start < len(events):
            batches.append(events[start : start + size])
            start += size
    if start < len(events):
        batches.append(events[start:])
    return batches


SIZES = [(100,), (2,) * 20, (3, 5, 8, 1, 13), (1, 11, 4), (9, 9, 9, 9), None]


@pytest.mark.parametrize("sizes", SIZES)
async def test_progress_batches_end_where_one_event_at_a_time_ends(database_url, sizes):
    engine = create_engine(database_url)
    await create_tables(engine, frameworks.metadata, reference.metadata, progress.metadata)
    tables = [
        progress.learner_states,
        progress.pathways,
        progress.competency_states,
        progress.interventions,
    ]
    events = stored("PATHWAYS", EVENTS)
    try:
        async with sessions(engine)() as session, session.begin():
            setup = stored("FRAMEWORKS", [("fw", framework(1, ["c0", "c1", "c2", "c3"]))])
            setup += stored("FRAMEWORKS", [("fw", framework(2, ["c0", "c1", "c2", "c3", "c4"]))])
            for event in setup:
                await frameworks.FrameworksProjection().apply(session, event)
            await reference.PoliciesProjection().apply(session, events[2])

        async def rows() -> list[list[tuple]]:
            async with sessions(engine)() as session:
                return [
                    sorted(tuple(r) for r in await session.execute(select(table)))
                    for table in tables
                ]

        async def apply(batches: list[list[StoredEvent]] | None) -> list[list[tuple]]:
            """Each batch in a transaction, as the projector does; None: one event at a time."""
            projection = progress.PathwaysProjection()
            async with sessions(engine)() as session, session.begin():
                await projection.reset(session)
            for batch in batches or [[event] for event in events]:
                async with sessions(engine)() as session, session.begin():
                    if batches is None:
                        await projection.apply(session, batch[0])
                    else:
                        await projection.apply_batch(session, batch)
            return await rows()

        one_at_a_time = await apply(None)
        states, pathway_rows, competencies, interventions = one_at_a_time
        assert [r[0] for r in states] == ["lrn-1", "lrn-2", "lrn-3"]
        assert [(r[0], r[1], r[8], r[9]) for r in pathway_rows] == [
            ("p1", "lrn-1", "active", False),
            ("p1", "lrn-2", "active", False),
            ("p1", "lrn-3", "active", False),
            ("p2", "lrn-1", "completed", False),
        ]
        assert len(competencies) == 4 + 5 + 4 + 4  # lrn-2 moved to the version with c4
        assert [(r[0], r[4], r[8], r[9]) for r in interventions] == [
            ("int-1", 3, False, "dec-10"),
            ("int-2", 3, True, None),
            ("int-3", 1, False, "dec-9"),
        ]
        assert await apply(cuts(events, sizes)) == one_at_a_time
    finally:
        await engine.dispose()


def generic_json(state) -> dict:
    """The state's JSON as `asdict` gives it (the projection writes it field by field)."""

    def plain(value):
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple | frozenset | set):
            items = [plain(v) for v in value]
            return sorted(items) if isinstance(value, frozenset | set) else items
        return value

    return {
        "learner_id": state.learner_id,
        "pathways": {k: plain(asdict(v)) for k, v in state.pathways.items()},
        "observed": {k: plain(asdict(v)) for k, v in state.observed.items()},
        "seen": sorted(state.seen),
        "interventions": {k: plain(asdict(v)) for k, v in state.interventions.items()},
    }


@pytest.mark.parametrize("learner", ["lrn-1", "lrn-2", "lrn-3"])
def test_learner_states_keep_every_field_as_json(learner):
    state = fold(learner, [event for subject, event in EVENTS if subject == learner])
    assert state.pathways and state.observed
    kept = progress.to_json(state)
    assert kept == generic_json(state)
    assert progress.from_json(kept) == state


def decided(learner: str, competency: str, n: int) -> MasteryDecided:
    return MasteryDecided(
        learner_id=learner,
        competency_id=competency,
        policy=PolicyRef(policy_id="p", method="latest", version=1),
        evidence=(EvidenceUsed(evidence_id=f"ev-{n}", score=n / 20, observed_at=AT),),
        previous_level=None,
        new_level="mastered" if n % 3 else "familiar",
        previous_score=None,
        new_score=n / 20,
        mastered=bool(n % 3),
    )


@pytest.mark.parametrize("sizes", SIZES)
async def test_mastery_batches_end_where_one_event_at_a_time_ends(database_url, sizes):
    engine = create_engine(database_url)
    await create_tables(engine, reference.metadata)
    learners, competencies = ["lrn-1", "lrn-2", "lrn-3"], ["c0", "c1"]
    decisions = [
        (learner, decided(learner, competency, n))
        for n, (learner, competency) in enumerate(
            [(learners[n % 3], competencies[(n // 2) % 2]) for n in range(19)]
        )
    ]
    events = stored("EVIDENCE", decisions)
    try:

        async def apply(batches: list[list[StoredEvent]] | None) -> list[tuple]:
            projection = reference.MasteryProjection()
            async with sessions(engine)() as session, session.begin():
                await projection.reset(session)
            for batch in batches or [[event] for event in events]:
                async with sessions(engine)() as session, session.begin():
                    if batches is None:
                        await projection.apply(session, batch[0])
                    else:
                        await projection.apply_batch(session, batch)
            async with sessions(engine)() as session:
                return sorted(tuple(r) for r in await session.execute(select(reference.mastery)))

        one_at_a_time = await apply(None)
        assert len(one_at_a_time) == 6
        assert await apply(cuts(events, sizes)) == one_at_a_time
    finally:
        await engine.dispose()
