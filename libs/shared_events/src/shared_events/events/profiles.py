"""Events published by the profiles service, on `profiles.<district>.<learner>.<kind>`."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from shared_events.envelope import Event
from shared_events.pii import Sealed
from shared_events.upcasting import upcaster

Role = Literal["learner", "guardian", "teacher", "district_admin", "auditor", "partner"]


class LearnerRegistered(Event):
    """A learner joined the district. Identity is sealed; only the pseudonymous id is clear.

    v2: `grade_levels` is a list (OneRoster grades are multi-valued); v1 had one `grade_level`.
    """

    event_type = "profiles.learner_registered"
    kind = "registered"
    schema_version = 2

    learner_id: str
    school_id: str | None = None
    grade_levels: tuple[str, ...] = ()
    identity: Sealed = Field(description="name, contacts and external ids, sealed per learner")


@upcaster("profiles.learner_registered", from_version=1)
def _grade_level_becomes_a_list(data: dict[str, object]) -> dict[str, object]:
    grade = data.pop("grade_level", None)
    data["grade_levels"] = [grade] if grade else []
    return data


class ProfileUpdated(Event):
    """Someone changed part of a learner's profile (interests, aspirations, needs, supports)."""

    event_type = "profiles.profile_updated"
    kind = "updated"

    learner_id: str
    author_id: str
    author_role: Role
    interests: tuple[str, ...] | None = None
    aspirations: Sealed | None = None
    learning_needs: Sealed | None = None
    language: str | None = None


class GoalSet(Event):
    """A goal: target competencies to reach by a date."""

    event_type = "profiles.goal_set"
    kind = "goal_set"

    learner_id: str
    goal_id: str
    author_id: str
    author_role: Role
    target_competencies: tuple[str, ...] = Field(min_length=1)
    target_date: date
    description: Sealed | None = None


class LearnerErased(Event):
    """The learner's data key was destroyed; sealed values about them can no longer be read."""

    event_type = "profiles.learner_erased"
    kind = "erased"

    learner_id: str
    requested_by: str
    reason: str
