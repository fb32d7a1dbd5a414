"""Events published by the pathways service, on `pathways.<district>.<learner>.<kind>` and
`frameworks.<district>.<framework>.<kind>`."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from shared_events.envelope import Event, Value


class CompetencyDefinition(Value):
    competency_id: str = Field(description="the CASE CFItem identifier")
    uri: str | None = Field(default=None, description="the CFItem's URI, as partners may cite it")
    code: str | None = None
    statement: str
    parent_id: str | None = None


class Prerequisite(Value):
    """`before` must be mastered before `after` is ready to learn (CASE `precedes`)."""

    before: str
    after: str


class FrameworkImported(Event):
    """A version of a competency framework (a CASE CFDocument) is now available."""

    event_type = "pathways.framework_imported"
    kind = "imported"
    family = "frameworks"

    framework_id: str
    version: int = Field(ge=1)
    title: str
    competencies: tuple[CompetencyDefinition, ...]
    prerequisites: tuple[Prerequisite, ...] = ()
    content_hash: str = Field(description="sha256 of the canonical package, to spot re-imports")


class PathwayAssigned(Event):
    """A learner was given a path through a framework (or a goal's subset of it)."""

    event_type = "pathways.pathway_assigned"
    kind = "assigned"

    learner_id: str
    pathway_id: str
    framework_id: str
    framework_version: int = Field(ge=1)
    competencies: tuple[str, ...] = Field(description="empty means the whole framework")
    assigned_by: str
    target_date: date | None = None


class CompetencyUnlocked(Event):
    """Every prerequisite of a competency is mastered: it is ready to learn."""

    event_type = "pathways.competency_unlocked"
    kind = "unlocked"

    learner_id: str
    pathway_id: str
    competency_id: str
    because: tuple[str, ...] = Field(description="the mastery decision ids that unlocked it")


class PathwayAdvanced(Event):
    """A competency on the pathway was mastered (or waived) and the pathway moved on."""

    event_type = "pathways.pathway_advanced"
    kind = "advanced"

    learner_id: str
    pathway_id: str
    competency_id: str
    how: Literal["mastered", "waived", "rolled_up"]
    mastered_count: int = Field(ge=0)
    total_count: int = Field(ge=1)


class InterventionRecommended(Event):
    """A learner is stuck and should get support, with the reason and the evidence behind it."""

    event_type = "pathways.intervention_recommended"
    kind = "intervention"

    learner_id: str
    intervention_id: str
    competency_id: str
    tier: int = Field(ge=1, le=3, description="MTSS tier")
    reason: Literal["repeated_attempts", "falling_trend", "stalled_at_risk"]
    evidence_ids: tuple[str, ...]
