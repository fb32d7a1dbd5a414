"""The pathways read models: each pathway with its counts and pace, each competency's state on
it (mastered, waived, rolled up, in progress, ready, locked), and interventions.

Competency states need the learner's whole fold, so the projection keeps each learner's state
as JSON beside the rows (`pathways_learner_states`), evolves it with the same `evolve` the
handlers use, and rewrites the learner's rows from it. Like every read model, all of it is
rebuilt from the log on a reset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import in_chunks
from eventlog.stored import StoredEvent
from pathways.domain.graph import Graph
from pathways.domain.pathway import (
    DEFAULT_POLICY,
    Intervention,
    LearnerPathways,
    Observation,
    Pathway,
    evolve,
)
from pathways.domain.views import view
from pathways.projections.frameworks import framework_version
from pathways.projections.reference import policy_of
from shared_events.events.pathways import (
    InterventionRecommended,
    InterventionResolved,
    PathwayPolicySet,
)

metadata = MetaData()

learner_states = Table(
    "pathways_learner_states",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False),
    Column("state", JSON, nullable=False),
)

pathways = Table(
    "pathways_pathways",
    metadata,
    Column("pathway_id", String(128), primary_key=True),
    Column("learner_id", String(64), primary_key=True),
    Column("district", String(64), nullable=False, index=True),
    Column("framework_id", String(64), nullable=False),
    Column("framework_version", Integer, nullable=False),
    Column("goal_id", String(128)),
    Column("start_date", Date, nullable=False),
    Column("target_date", Date),
    Column("status", String(16), nullable=False),
    Column("at_risk", Boolean, nullable=False),
    Column("done_count", Integer, nullable=False),
    Column("total_count", Integer, nullable=False),
)

competency_states = Table(
    "pathways_competency_states",
    metadata,
    Column("learner_id", String(64), primary_key=True),
    Column("pathway_id", String(128), primary_key=True),
    Column("competency_id", String(255), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("level", String(64)),
    Column("score", Float),
    Column("waiting_for", JSON, nullable=False),
)

interventions = Table(
    "pathways_interventions",
    metadata,
    Column("intervention_id", String(64), primary_key=True),
    Column("learner_id", String(64), nullable=False, index=True),
    Column("district", String(64), nullable=False),
    Column("competency_id", String(255), nullable=False),
    Column("tier", Integer, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("evidence_ids", JSON, nullable=False),
    Column("open", Boolean, nullable=False),
    Column("resolved_by", String(128)),
)


class PathwaysProjection:
    name = "pathways-progress"
    exclusive = True  # one replica at a time applies it (eventlog.projector)
    stream = "PATHWAYS"
    subjects = ("pathways.*.*.*",)
    # Every event rewrites its learner's rows: under a busy intake, let a moment's events
    # gather (about 20 transactions a second, each learner's rows written once in each).
    linger = 0.05

    def __init__(self) -> None:
        self._graphs: dict[tuple[str, str, int], Graph] = {}

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        await self.apply_batch(session, [event])

    async def apply_batch(self, session: AsyncSession, events: Sequence[StoredEvent]) -> None:
        """The batch folded in memory, then each row it touches written once: every learner's
        state is read once and evolved through their events in order; their pathway and
        competency rows are rewritten from the state they end in (each event would rewrite all
        of them from the state after it, so the last one is what stays), with the district and
        policy of their last event. Interventions: the last word on each is written."""
        states: dict[str, LearnerPathways] = {}
        district_of: dict[str, str] = {}
        recommended: dict[str, dict[str, Any]] = {}  # intervention id → its whole row
        resolved: dict[str, str] = {}  # intervention id → resolved by (row of an earlier batch)
        mine = [
            e for e in events if getattr(e.envelope.data, "learner_id", None) == e.envelope.subject
        ]  # district settings share the subject space
        if not mine:
            return
        states.update(
            await _states_of(session, list(dict.fromkeys(e.envelope.subject for e in mine)))
        )
        for event in mine:
            envelope = event.envelope
            data, district, learner_id = envelope.data, envelope.district, envelope.subject
            before = states.get(learner_id)
            if before is None:
                before = LearnerPathways(learner_id)
            states[learner_id] = evolve(before, data)
            district_of[learner_id] = district
            if isinstance(data, InterventionRecommended):
                resolved.pop(data.intervention_id, None)  # the row is replaced whole
                recommended[data.intervention_id] = {
                    "intervention_id": data.intervention_id,
                    "learner_id": learner_id,
                    "district": district,
                    "competency_id": data.competency_id,
                    "tier": data.tier,
                    "reason": data.reason,
                    "detail": data.detail,
                    "evidence_ids": list(data.evidence_ids),
                    "open": True,
                    "resolved_by": None,
                }
            elif isinstance(data, InterventionResolved):
                if data.intervention_id in recommended:
                    row = recommended[data.intervention_id]
                    row["open"], row["resolved_by"] = False, data.because
                else:
                    resolved[data.intervention_id] = data.because
        learners = list(district_of)
        await _replace(
            session,
            learner_states,
            (learner_states.c.learner_id,),
            [(learner,) for learner in learners],
            [
                {
                    "learner_id": learner,
                    "district": district_of[learner],
                    "state": to_json(states[learner]),
                }
                for learner in learners
            ],
        )
        await _replace(
            session,
            interventions,
            (interventions.c.intervention_id,),
            [(intervention,) for intervention in recommended],
            list(recommended.values()),
        )
        by_reason: dict[str, list[str]] = {}
        for intervention, because in resolved.items():
            by_reason.setdefault(because, []).append(intervention)
        for because, ids in by_reason.items():
            for chunk in in_chunks(ids):
                await session.execute(
                    interventions.update()
                    .where(interventions.c.intervention_id.in_(chunk))
                    .values(open=False, resolved_by=because)
                )
        await self._rows(session, [(district_of[learner], states[learner]) for learner in learners])

    async def _graph(
        self, session: AsyncSession, district: str, framework_id: str, version: int
    ) -> Graph:
        """A framework version's graph, read once: versions never change."""
        key = (district, framework_id, version)
        if key not in self._graphs:
            framework = await framework_version(session, district, framework_id, version)
            if framework is None:
                # The frameworks read model is behind this one: fail, so the event comes back.
                raise LookupError(f"framework {framework_id} v{version} not yet read")
            self._graphs[key] = Graph.of(framework)
        return self._graphs[key]

    async def _rows(
        self, session: AsyncSession, learners: Sequence[tuple[str, LearnerPathways]]
    ) -> None:
        """Every pathway row and competency row of these learners (district, state), from their
        states: deleted by key, inserted again, a few statements for all of them."""
        policies: dict[str, PathwayPolicySet] = {}
        keys: list[tuple[str, str]] = []
        pathway_rows: list[dict[str, Any]] = []
        competency_rows: list[dict[str, Any]] = []
        for district, state in learners:
            if district not in policies:
                policies[district] = await policy_of(session, district) or DEFAULT_POLICY
            policy = policies[district]
            for pathway in state.pathways.values():
                graph = await self._graph(session, district, pathway.framework_id, pathway.version)
                views = view(state, pathway, graph, policy)
                done = sum(1 for v in views if v.state in ("mastered", "waived", "rolled_up"))
                keys.append((pathway.pathway_id, state.learner_id))
                pathway_rows.append(
                    {
                        "pathway_id": pathway.pathway_id,
                        "learner_id": state.learner_id,
                        "district": district,
                        "framework_id": pathway.framework_id,
                        "framework_version": pathway.version,
                        "goal_id": pathway.goal_id,
                        "start_date": pathway.start,
                        "target_date": pathway.target,
                        "status": "completed" if pathway.completed else "active",
                        "at_risk": pathway.at_risk,
                        "done_count": done,
                        "total_count": len(pathway.competencies),
                    }
                )
                competency_rows.extend(
                    {
                        "learner_id": state.learner_id,
                        "pathway_id": pathway.pathway_id,
                        "competency_id": v.competency_id,
                        "position": position,
                        "state": v.state,
                        "level": v.level,
                        "score": v.score,
                        "waiting_for": list(v.waiting_for),
                    }
                    for position, v in enumerate(views)
                )
        await _replace(
            session, pathways, (pathways.c.pathway_id, pathways.c.learner_id), keys, pathway_rows
        )
        await _replace(
            session,
            competency_states,
            (competency_states.c.learner_id, competency_states.c.pathway_id),
            [(learner, pathway) for pathway, learner in keys],
            competency_rows,
        )

    async def reset(self, session: AsyncSession) -> None:
        for table in (learner_states, pathways, competency_states, interventions):
            await session.execute(delete(table))


async def _states_of(session: AsyncSession, learners: Sequence[str]) -> dict[str, LearnerPathways]:
    """The states kept for these learners (those with one)."""
    found: dict[str, LearnerPathways] = {}
    for chunk in in_chunks(learners):
        rows = await session.execute(
            select(learner_states.c.learner_id, learner_states.c.state).where(
                learner_states.c.learner_id.in_(chunk)
            )
        )
        found.update((learner, from_json(state)) for learner, state in rows)
    return found


async def _replace(
    session: AsyncSession,
    table: Table,
    key: tuple[Column[Any], ...],
    keys: Sequence[tuple[object, ...]],
    rows: Sequence[Mapping[str, Any]],
) -> None:
    """Delete every row whose `key` columns match one of `keys`, then insert `rows`."""
    for chunk in in_chunks(keys):
        match = key[0].in_([k[0] for k in chunk]) if len(key) == 1 else tuple_(*key).in_(chunk)
        await session.execute(delete(table).where(match))
    if rows:
        await session.execute(table.insert(), list(rows))


def to_json(state: LearnerPathways) -> dict[str, Any]:
    """The state as JSON: dates in ISO form, sets sorted (field by field, not `asdict`, which
    deep-copies every value: this runs for every learner of every batch)."""
    return {
        "learner_id": state.learner_id,
        "pathways": {k: _pathway_json(v) for k, v in state.pathways.items()},
        "observed": {k: _observation_json(v) for k, v in state.observed.items()},
        "seen": sorted(state.seen),
        "interventions": {
            k: {
                "intervention_id": v.intervention_id,
                "competency_id": v.competency_id,
                "tier": v.tier,
                "reason": v.reason,
            }
            for k, v in state.interventions.items()
        },
    }


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _pathway_json(pathway: Pathway) -> dict[str, Any]:
    return {
        "pathway_id": pathway.pathway_id,
        "framework_id": pathway.framework_id,
        "version": pathway.version,
        "competencies": list(pathway.competencies),
        "start": pathway.start.isoformat(),
        "target": _iso(pathway.target),
        "goal_id": pathway.goal_id,
        "overrides": dict(pathway.overrides),
        "counted": dict(pathway.counted),
        "unlocked": sorted(pathway.unlocked),
        "completed": pathway.completed,
        "at_risk": pathway.at_risk,
        "last_progress": _iso(pathway.last_progress),
    }


def _observation_json(observation: Observation) -> dict[str, Any]:
    return {
        "decision_id": observation.decision_id,
        "mastered": observation.mastered,
        "level": observation.level,
        "score": observation.score,
        "evidence_ids": list(observation.evidence_ids),
        "scores": list(observation.scores),
        "on": observation.on.isoformat(),
    }


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def from_json(data: dict[str, Any]) -> LearnerPathways:
    pathways_ = {
        k: Pathway(
            pathway_id=v["pathway_id"],
            framework_id=v["framework_id"],
            version=v["version"],
            competencies=tuple(v["competencies"]),
            start=date.fromisoformat(v["start"]),
            target=_day(v["target"]),
            goal_id=v["goal_id"],
            overrides=dict(v["overrides"]),
            counted=dict(v["counted"]),
            unlocked=frozenset(v["unlocked"]),
            completed=v["completed"],
            at_risk=v["at_risk"],
            last_progress=_day(v["last_progress"]),
        )
        for k, v in data["pathways"].items()
    }
    observed = {
        k: Observation(
            decision_id=v["decision_id"],
            mastered=v["mastered"],
            level=v["level"],
            score=v["score"],
            evidence_ids=tuple(v["evidence_ids"]),
            scores=tuple(v["scores"]),
            on=date.fromisoformat(v["on"]),
        )
        for k, v in data["observed"].items()
    }
    return LearnerPathways(
        learner_id=data["learner_id"],
        pathways=pathways_,
        observed=observed,
        seen=frozenset(data["seen"]),
        interventions={k: Intervention(**v) for k, v in data["interventions"].items()},
    )
