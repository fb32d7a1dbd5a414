"""Who may read or change a learner's record, decided from relationships alone.

A learner reads their own record; a guardian reads linked learners; a teacher reads learners
enrolled in one of their classes; a district admin reads their district; an auditor reads
everything, read-only. Every read by someone other than the learner is disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PURPOSE = {
    "guardian": "parent or guardian access",
    "teacher": "school official with a legitimate educational interest",
    "district_admin": "school official: district administration",
    "auditor": "audit or evaluation of the education program",
}


@dataclass(frozen=True)
class Viewer:
    subject: str
    roles: frozenset[str]
    district: str | None


@dataclass(frozen=True)
class LearnerRelations:
    """What links people to one learner, from the directory read model."""

    learner_id: str
    district: str
    guardian_ids: frozenset[str] = frozenset()
    class_ids: frozenset[str] = frozenset()
    erased: bool = False


@dataclass(frozen=True)
class Access:
    allowed: bool
    as_role: str | None = None
    reason: str = ""

    @property
    def disclosed(self) -> bool:
        """Reads by anyone but the learner are recorded as disclosures."""
        return self.allowed and self.as_role != "learner"


def read_access(
    viewer: Viewer, learner: LearnerRelations, teacher_classes: frozenset[str] = frozenset()
) -> Access:
    """The role under which `viewer` may read `learner`'s record, or why not."""
    roles = viewer.roles
    if "learner" in roles and viewer.subject == learner.learner_id:
        return Access(True, "learner")
    if "auditor" in roles:
        return Access(True, "auditor")
    same_district = viewer.district == learner.district
    if "district_admin" in roles and same_district:
        return Access(True, "district_admin")
    if "guardian" in roles and viewer.subject in learner.guardian_ids:
        return Access(True, "guardian")
    if "teacher" in roles and same_district and teacher_classes & learner.class_ids:
        return Access(True, "teacher")
    return Access(False, reason="no relationship to this learner allows it")


def write_access(
    viewer: Viewer, learner: LearnerRelations, teacher_classes: frozenset[str] = frozenset()
) -> Access:
    """As `read_access`, except that auditors only ever read."""
    access = read_access(viewer, learner, teacher_classes)
    if access.as_role == "auditor":
        return Access(False, reason="auditors have read-only access")
    return access
