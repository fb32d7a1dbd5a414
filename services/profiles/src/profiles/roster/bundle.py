"""What a OneRoster 1.1 bundle says, once read and found valid.

Values are the bundle's own text with surrounding blanks removed. Enumerations are stored in the
specification's spelling (lower case, or camelCase for session types), an empty optional value
is None, and multi-value cells are tuples in the order written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

GUARDIAN_ROLES = frozenset({"guardian", "parent", "relative"})


@dataclass(frozen=True)
class RosterProblem:
    """One rule a bundle breaks (or, among warnings, something it does that is worth knowing).

    `line` is the physical line where the CSV record starts (the header is line 1); it is None
    for problems about a whole file. `field` is the column, or the manifest property, concerned.
    """

    file: str
    line: int | None
    field: str | None
    rule: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        if self.field is not None:
            where = f"{where}, {self.field}"
        return f"{where}: {self.rule}"


class InvalidRoster(ValueError):
    """A bundle refused whole: every problem found, not only the first."""

    def __init__(self, problems: Iterable[RosterProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class RosterOrg:
    """An organisation: a district, a school, a department or a larger body."""

    sourced_id: str
    name: str
    type: str
    identifier: str | None
    parent_id: str | None


@dataclass(frozen=True)
class RosterUser:
    """A person known to the student information system, in one role.

    `agent_ids` are the people who act for (or are acted for by) this one: a student's
    guardians, a guardian's children. The bundle's passwords are never read.
    """

    sourced_id: str
    status: str | None
    role: str
    username: str
    given_name: str
    family_name: str
    middle_name: str | None
    identifier: str | None
    email: str | None
    sms: str | None
    phone: str | None
    org_ids: tuple[str, ...]
    agent_ids: tuple[str, ...]
    grades: tuple[str, ...]
    user_ids: tuple[str, ...]
    enabled: bool = True


@dataclass(frozen=True)
class RosterClass:
    """A class section taught at one school during one or more terms."""

    sourced_id: str
    status: str | None
    title: str
    school_id: str
    class_code: str | None
    class_type: str
    grades: tuple[str, ...]
    term_ids: tuple[str, ...]
    course_id: str


@dataclass(frozen=True)
class RosterEnrollment:
    """A user's place in a class, as student, teacher, proctor or administrator."""

    sourced_id: str
    status: str | None
    class_id: str
    school_id: str
    user_id: str
    role: str
    primary: bool
    begin_date: str | None
    end_date: str | None


@dataclass(frozen=True)
class RosterSession:
    """A school year, semester, term or grading period; dates are as written in the bundle."""

    sourced_id: str
    title: str
    type: str
    start_date: str
    end_date: str
    parent_id: str | None
    school_year: str


@dataclass(frozen=True)
class RosterBundle:
    """A whole OneRoster snapshot, keyed by sourcedId, with the warnings found reading it."""

    version: str
    orgs: dict[str, RosterOrg]
    users: dict[str, RosterUser]
    classes: dict[str, RosterClass]
    enrollments: dict[str, RosterEnrollment]
    sessions: dict[str, RosterSession]
    warnings: tuple[RosterProblem, ...] = ()

    @property
    def students(self) -> dict[str, RosterUser]:
        return {key: user for key, user in self.users.items() if user.role == "student"}

    @property
    def teachers(self) -> dict[str, RosterUser]:
        return {key: user for key, user in self.users.items() if user.role == "teacher"}

    @property
    def guardians(self) -> dict[str, RosterUser]:
        return {key: user for key, user in self.users.items() if user.role in GUARDIAN_ROLES}

    @property
    def schools(self) -> dict[str, RosterOrg]:
        """Orgs of type school; failing any, the orgs that classes name as their school
        (some exports file their schools under `department` or `local`)."""
        typed = {key: org for key, org in self.orgs.items() if org.type == "school"}
        if typed:
            return typed
        named = {section.school_id for section in self.classes.values()}
        return {key: org for key, org in self.orgs.items() if key in named}
