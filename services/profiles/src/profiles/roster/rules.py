"""The OneRoster 1.1 CSV rules for the files we read: columns, vocabularies, checked cells.

Required columns are those the 1.1 CSV tables mark required, and each must hold a value in every
row. `status` and `dateLastModified` are not among them: the 1.1 tables let a bulk file leave
both empty (the oat-sa and catalyst samples do), since a bulk file restates the whole roster.
Optional columns are read when we keep them and otherwise only recognised, so that they raise no
"unknown column" warning.
"""

from __future__ import annotations

from collections.abc import Iterable

from profiles.roster.table import Findings, Layout, Row


def layout(required: str, optional: str = "", filled: str | None = None) -> Layout:
    return Layout(
        tuple(required.split()),
        tuple(optional.split()),
        None if filled is None else tuple(filled.split()),
    )


STAMPS = "status dateLastModified "
LAYOUTS = {
    # A manifest property may have an empty value (source.systemName often is).
    "manifest.csv": layout("propertyName value", filled="propertyName"),
    "orgs.csv": layout("sourcedId name type", STAMPS + "identifier parentSourcedId"),
    "users.csv": layout(
        "sourcedId enabledUser orgSourcedIds role username givenName familyName",
        STAMPS + "userIds middleName identifier email sms phone agentSourcedIds grades password",
    ),
    "classes.csv": layout(
        "sourcedId title courseSourcedId classType schoolSourcedId termSourcedIds",
        STAMPS + "grades classCode location subjects subjectCodes periods",
    ),
    "enrollments.csv": layout(
        "sourcedId classSourcedId schoolSourcedId userSourcedId role",
        STAMPS + "primary beginDate endDate",
    ),
    "academicSessions.csv": layout(
        "sourcedId title type startDate endDate schoolYear", STAMPS + "parentSourcedId"
    ),
    # Courses are read only so that classes' courseSourcedIds can be checked against them.
    "courses.csv": layout(
        "sourcedId title orgSourcedId",
        STAMPS + "schoolYearSourcedId courseCode grades subjects subjectCodes",
    ),
}

STATUSES = ("active", "tobedeleted", "inactive")
ENROLLMENT_ROLES = ("administrator", "proctor", "student", "teacher")
USER_ROLES = (*ENROLLMENT_ROLES, "aide", "guardian", "parent", "relative")
ORG_TYPES = ("department", "district", "local", "national", "school", "state")
CLASS_TYPES = ("homeroom", "scheduled")
SESSION_TYPES = ("gradingPeriod", "schoolYear", "semester", "term")
FLAGS = ("true", "false")


class Cells:
    """One row of the right shape, read column by column; broken rules go to `findings`."""

    def __init__(self, file: str, row: Row, findings: Findings) -> None:
        self.file, self.row, self.findings = file, row, findings

    def text(self, column: str) -> str:
        return self.row.values.get(column, "")

    def optional(self, column: str) -> str | None:
        return self.text(column) or None

    def many(self, column: str) -> tuple[str, ...]:
        """A multi-value cell: csv quoting keeps "09,10,11" whole, and the commas split it."""
        return tuple(part.strip() for part in self.text(column).split(",") if part.strip())

    def choice(self, column: str, allowed: Iterable[str]) -> str:
        """The value in the specification's spelling, compared ignoring case; "" when empty
        (whether it may be empty is the layout's rule)."""
        value = self.text(column)
        spelled = {name.lower(): name for name in allowed}
        if value and value.lower() not in spelled:
            rule = f"'{value}' is not one of {', '.join(sorted(spelled.values()))}"
            self.findings.error(self.file, self.row.line, column, rule)
        return spelled.get(value.lower(), value)

    def flag(self, column: str) -> bool:
        return self.choice(column, FLAGS) == "true"

    def status(self) -> str | None:
        status = self.choice("status", STATUSES)
        if status == "inactive":
            # Not a 1.1 status, but real exports use it (catalyst's sessions do): kept as given.
            rule = "'inactive' is not a OneRoster 1.1 status; kept as given"
            self.findings.warn(self.file, self.row.line, "status", rule)
        return status or None
