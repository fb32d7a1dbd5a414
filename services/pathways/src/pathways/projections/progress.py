"""The pathways read models: each pathway with its counts and pace, each competency's state on
it (mastered, waived, rolled up, in progress, ready, locked), and interventions.

Competency states need the learner's whole fold, so the projection keeps each learner's state
as JSON beside the rows (`pathways_learner_states`), evolves it with the same `evolve` the
handlers use, and rewrites the learner's rows from it. Like every read model, all of it is
rebuilt from the log on a reset.
"""

from __future__ import annotations

from dataclasses import asdict
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
)
from sqlalchemy.ext.asyncio import AsyncSession

from eventlog.sql import delete_rows, put_row
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
from shared_events.events.pathways import InterventionRecommended, InterventionResolved

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
    stream = "PATHWAYS"
    subjects = ("pathways.*.*.*",)

    def __init__(self) -> None:
        self._graphs: dict[tuple[str, str, int], Graph] = {}

    async def apply(self, session: AsyncSession, event: StoredEvent) -> None:
        envelope = event.envelope
        data, district, learner_id = envelope.data, envelope.district, envelope.subject
        if getattr(data, "learner_id", None) != learner_id:
            return  # district settings share the subject space
        row = await session.scalar(
            select(learner_states.c.state).where(learner_states.c.learner_id == learner_id)
        )
        before = LearnerPathways(learner_id) if row is None else from_json(row)
        state = evolve(before, data)
        await put_row(
            session,
            learner_states,
            {"learner_id": learner_id},
            district=district,
            state=to_json(state),
        )
        if isinstance(data, InterventionRecommended):
            await put_row(
                session,
                interventions,
                {"intervention_id": data.intervention_id},
                learner_id=learner_id,
                district=district,
                competency_id=data.competency_id,
                tier=data.tier,
                reason=data.reason,
                detail=data.detail,
                evidence_ids=list(data.evidence_ids),
                open=True,
                resolved_by=None,
            )
        elif isinstance(data, InterventionResolved):
            await session.execute(
                interventions.update()
                .where(interventions.c.intervention_id == data.intervention_id)
                .values(open=False, resolved_by=data.because)
            )
        await self._rows(session, district, state)

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

    async def _rows(self, session: AsyncSession, district: str, state: LearnerPathways) -> None:
        policy = await policy_of(session, district) or DEFAULT_POLICY
        for pathway in state.pathways.values():
            graph = await self._graph(session, district, pathway.framework_id, pathway.version)
            views = view(state, pathway, graph, policy)
            done = sum(1 for v in views if v.state in ("mastered", "waived", "rolled_up"))
            await put_row(
                session,
                pathways,
                {"pathway_id": pathway.pathway_id, "learner_id": state.learner_id},
                district=district,
                framework_id=pathway.framework_id,
                framework_version=pathway.version,
                goal_id=pathway.goal_id,
                start_date=pathway.start,
                target_date=pathway.target,
                status="completed" if pathway.completed else "active",
                at_risk=pathway.at_risk,
                done_count=done,
                total_count=len(pathway.competencies),
            )
            await delete_rows(
                session,
                competency_states,
                learner_id=state.learner_id,
                pathway_id=pathway.pathway_id,
            )
            if views:
                await session.execute(
                    competency_states.insert(),
                    [
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
                    ],
                )

    async def reset(self, session: AsyncSession) -> None:
        for table in (learner_states, pathways, competency_states, interventions):
            await session.execute(delete(table))


def to_json(state: LearnerPathways) -> dict[str, Any]:
    def plain(value: Any) -> Any:
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
