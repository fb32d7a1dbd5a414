"""Events published by the profiles service, on `profiles.<district>.<learner>.<kind>`."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from shared_events.envelope import Event
from shared_events.pii import Sealed
from shared_events.upcasting import upcaster

Role = Literal["learner", "guardian", "teacher", "district_admin", "auditor", "partner"]
StaffRole = Literal["teacher", "administrator", "aide", "proctor"]
Relationship = Literal["parent", "guardian", "relative"]
EnrollmentRole = Literal["student", "teacher", "administrator", "proctor"]


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
    identity_digest: str | None = Field(
        default=None, description="keyed digest of the identity, to see a roster change"
    )


@upcaster("profiles.learner_registered", from_version=1)
def _grade_level_becomes_a_list(data: dict[str, object]) -> dict[str, object]:
    grade = data.pop("grade_level", None)
    data["grade_levels"] = [grade] if grade else []
    return data


class StaffRegistered(Event):
    """A teacher or other staff member from the roster; identity sealed with their own key."""

    event_type = "profiles.staff_registered"
    kind = "staff_registered"

    person_id: str
    role: StaffRole
    school_ids: tuple[str, ...] = ()
    identity: Sealed
    identity_digest: str | None = None


class GuardianRegistered(Event):
    """A parent, guardian or relative from the roster; identity sealed with their own key."""

    event_type = "profiles.guardian_registered"
    kind = "guardian_registered"

    person_id: str
    identity: Sealed
    identity_digest: str | None = None


class IdentityUpdated(Event):
    """A person's name or contacts changed in the roster (sealed again with their key)."""

    event_type = "profiles.identity_updated"
    kind = "identity_updated"

    person_id: str
    identity: Sealed
    identity_digest: str


class GuardianLinked(Event):
    """A guardian may now see this learner's record (filed on the learner's timeline)."""

    event_type = "profiles.guardian_linked"
    kind = "guardian_linked"

    learner_id: str
    guardian_id: str
    relationship: Relationship = "guardian"


class GuardianUnlinked(Event):
    event_type = "profiles.guardian_unlinked"
    kind = "guardian_unlinked"

    learner_id: str
    guardian_id: str


class ClassListed(Event):
    """A class section from the roster (filed on the class's own timeline)."""

    event_type = "profiles.class_listed"
    kind = "class_listed"

    class_id: str
    title: str
    school_id: str | None = None
    class_code: str | None = None


class ClassEnrolled(Event):
    """A learner or a teacher joined a class (filed on that person's timeline)."""

    event_type = "profiles.class_enrolled"
    kind = "enrolled"

    person_id: str
    class_id: str
    role: EnrollmentRole


class ClassWithdrawn(Event):
    event_type = "profiles.class_withdrawn"
    kind = "withdrawn"

    person_id: str
    class_id: str


class ProfileUpdated(Event):
    """Someone changed part of a learner's profile; only the fields given changed.

    Free text and supports are sealed with the learner's key, so erasure shreds them too.
    """

    event_type = "profiles.profile_updated"
    kind = "updated"

    learner_id: str
    author_id: str
    author_role: Role
    interests: tuple[str, ...] | None = None
    aspirations: Sealed | None = None
    learning_needs: Sealed | None = None
    supports: Sealed | None = None
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


class RecordDisclosed(Event):
    """Someone other than the learner read the learner's record (FERPA's record of disclosures)."""

    event_type = "profiles.record_disclosed"
    kind = "disclosed"

    learner_id: str
    viewer_id: str
    viewer_role: Role
    record: str = Field(description="what was read, e.g. profile, registration, class roster")
    purpose: str = Field(description="why, as the viewer stated it or the role's default")
