"""Events published by the pathways service, on `pathways.<district>.<learner>.<kind>` and
`frameworks.<district>.<framework>.<kind>`."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from shared_events.envelope import Event, Value


class Prerequisite(Value):
    """`before` must be mastered before `after` is ready to learn (CASE `precedes`)."""

    before: str
    after: str


class CompetencyDefinition(Value):
    competency_id: str = Field(description="the CASE CFItem identifier")
    uri: str | None = Field(default=None, description="the CFItem's URI, as partners may cite it")
    code: str | None = None
    statement: str
    parent_id: str | None = None
    sequence: int | None = Field(default=None, description="order among its siblings (CASE)")
    item_type: str | None = None
    keywords: tuple[str, ...] = Field(default=(), description="CASE conceptKeywords")


class Association(Value):
    """A CASE association the pathways service keeps but does not act on (e.g. `isRelatedTo`)."""

    origin: str
    association_type: str
    destination: str


class FrameworkChanges(Value):
    """How a framework version differs from the one before it."""

    from_version: int = Field(ge=1)
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = Field(default=(), description="statement, code, parent or order")
    prerequisites_added: tuple[Prerequisite, ...] = ()
    prerequisites_removed: tuple[Prerequisite, ...] = ()


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
    associations: tuple[Association, ...] = ()
    content_hash: str = Field(description="sha256 of the canonical package, to spot re-imports")
    changes: FrameworkChanges | None = Field(
        default=None, description="the differences from the previous version, if there was one"
    )
    warnings: tuple[str, ...] = Field(
        default=(), description="deviations from the CASE schema accepted on import"
    )
    imported_by: str | None = None


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
    goal_id: str | None = Field(default=None, description="the profile goal it was assigned for")
    start_date: date | None = Field(default=None, description="when pace is counted from")


class PathwayMoved(Event):
    """A pathway in progress was moved to another version of its framework, explicitly."""

    event_type = "pathways.pathway_moved"
    kind = "moved"

    learner_id: str
    pathway_id: str
    from_version: int = Field(ge=1)
    to_version: int = Field(ge=1)
    competencies: tuple[str, ...] = Field(
        description="the pathway's competencies in the new version"
    )
    moved_by: str


class MasteryObserved(Event):
    """A mastery decision as the pathways service took it in: its own copy, so a learner's
    pathway is a fold over this stream alone and replays the same."""

    event_type = "pathways.mastery_observed"
    kind = "observed"

    learner_id: str
    competency_id: str
    decision_id: str
    mastered: bool
    level: str
    score: float
    evidence_ids: tuple[str, ...] = Field(description="in observation order")
    scores: tuple[float, ...] = Field(description="the evidence scores, same order")
    decided_at: datetime


class CompetencyOverridden(Event):
    """A teacher waived a competency or overrode its state, with a reason."""

    event_type = "pathways.competency_overridden"
    kind = "overridden"

    learner_id: str
    pathway_id: str
    competency_id: str
    action: Literal["waived", "mastered", "not_mastered", "cleared"] = Field(
        description="cleared: back to what the evidence says"
    )
    reason: str = Field(min_length=1)
    by: str


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
    on: date | None = Field(default=None, description="the day of the fact that moved it")
    because: tuple[str, ...] = Field(default=(), description="decision or override ids")


class CompetencyReopened(Event):
    """A competency the pathway had counted is no longer mastered (evidence voided or
    corrected, an override withdrawn): it is worked on again."""

    event_type = "pathways.competency_reopened"
    kind = "reopened"

    learner_id: str
    pathway_id: str
    competency_id: str
    because: tuple[str, ...] = ()


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
    detail: str = ""


class InterventionResolved(Event):
    """Mastery followed (or the pathway no longer holds the competency): support can stop."""

    event_type = "pathways.intervention_resolved"
    kind = "intervention_resolved"

    learner_id: str
    intervention_id: str
    competency_id: str
    because: str = Field(description="the decision id, or why it closed otherwise")


class PathwayCompleted(Event):
    """Every competency on the pathway is mastered or waived."""

    event_type = "pathways.pathway_completed"
    kind = "completed"

    learner_id: str
    pathway_id: str
    total_count: int = Field(ge=1)
    goal_id: str | None = Field(default=None, description="the goal it was for: achieved")


class GoalAtRisk(Event):
    """Progress on a pathway trails its expected pace."""

    event_type = "pathways.goal_at_risk"
    kind = "at_risk"

    learner_id: str
    pathway_id: str
    goal_id: str | None = None
    as_of: date
    expected_share: float = Field(ge=0, le=1)
    actual_share: float = Field(ge=0, le=1)


class GoalBackOnTrack(Event):
    """A pathway that was at risk caught up with its expected pace."""

    event_type = "pathways.goal_back_on_track"
    kind = "on_track"

    learner_id: str
    pathway_id: str
    goal_id: str | None = None
    as_of: date
    expected_share: float = Field(ge=0, le=1)
    actual_share: float = Field(ge=0, le=1)


class RollupRule(Value):
    """How a parent competency rolls up from its children (Moodle's competency rules)."""

    method: Literal["all", "points"] = "all"
    required: tuple[str, ...] = Field(default=(), description="children that must be mastered")
    points: dict[str, int] = Field(default_factory=dict, description="per child; 1 if absent")
    points_needed: int = Field(default=0, ge=0)


class PathwayPolicySet(Event):
    """A district's pathway policy: pace, intervention thresholds and roll-up rules."""

    event_type = "pathways.policy_set"
    kind = "policy_set"

    version: int = Field(ge=0, description="0 is the built-in default")
    set_by: str
    default_pace_days: int = Field(default=180, ge=1)
    pace_tolerance: float = Field(default=0.25, ge=0, le=1)
    attempts_without_proficient: int = Field(default=3, ge=1)
    falling_trend_window: int = Field(default=3, ge=2)
    stalled_days: int = Field(default=14, ge=1)
    proficient_levels: tuple[str, ...] = ("proficient", "mastered")
    rollups: dict[str, RollupRule] = Field(
        default_factory=dict, description="by parent competency id; `all` where absent"
    )
