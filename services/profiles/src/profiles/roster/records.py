"""How the rows of each file become records, keyed by sourcedId and located by line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from profiles.roster.bundle import (
    RosterClass,
    RosterEnrollment,
    RosterOrg,
    RosterSession,
    RosterUser,
)
from profiles.roster.rules import (
    CLASS_TYPES,
    ENROLLMENT_ROLES,
    ORG_TYPES,
    SESSION_TYPES,
    USER_ROLES,
    Cells,
)
from profiles.roster.table import Findings, Table

T = TypeVar("T")


@dataclass(frozen=True)
class Indexed(Generic[T]):
    """A file's records by sourcedId, and the line each was read from.

    `complete` is False when the file should have been read and could not be: references into it
    go unchecked, as each would fail for a reason already reported. `included` is False when the
    package leaves out an optional file (courses.csv): references into it cannot be checked.
    """

    records: dict[str, T] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    complete: bool = True
    included: bool = True


def index(table: Table, build: Callable[[Cells], T], findings: Findings) -> Indexed[T]:
    records: dict[str, T] = {}
    lines: dict[str, int] = {}
    for row in table.rows:
        key = row.values.get("sourcedId", "")
        if key in lines:
            rule = f"'{key}' is already the sourcedId on line {lines[key]}"
            findings.error(table.file, row.line, "sourcedId", rule)
            continue
        record = build(Cells(table.file, row, findings))
        if key:  # an empty one is already reported by the layout
            records[key], lines[key] = record, row.line
    return Indexed(records, lines)


def org(cells: Cells) -> RosterOrg:
    cells.status()  # checked, though an org's status is not kept
    return RosterOrg(
        sourced_id=cells.text("sourcedId"),
        name=cells.text("name"),
        type=cells.choice("type", ORG_TYPES),
        identifier=cells.optional("identifier"),
        parent_id=cells.optional("parentSourcedId"),
    )


def user(cells: Cells) -> RosterUser:
    return RosterUser(
        sourced_id=cells.text("sourcedId"),
        status=cells.status(),
        role=cells.choice("role", USER_ROLES),
        username=cells.text("username"),
        given_name=cells.text("givenName"),
        family_name=cells.text("familyName"),
        middle_name=cells.optional("middleName"),
        identifier=cells.optional("identifier"),
        email=cells.optional("email"),
        sms=cells.optional("sms"),
        phone=cells.optional("phone"),
        org_ids=cells.many("orgSourcedIds"),
        agent_ids=cells.many("agentSourcedIds"),
        grades=cells.many("grades"),
        user_ids=cells.many("userIds"),
        enabled=cells.flag("enabledUser"),
    )


def section(cells: Cells) -> RosterClass:
    return RosterClass(
        sourced_id=cells.text("sourcedId"),
        status=cells.status(),
        title=cells.text("title"),
        school_id=cells.text("schoolSourcedId"),
        class_code=cells.optional("classCode"),
        class_type=cells.choice("classType", CLASS_TYPES),
        grades=cells.many("grades"),
        term_ids=cells.many("termSourcedIds"),
        course_id=cells.text("courseSourcedId"),
    )


def enrollment(cells: Cells) -> RosterEnrollment:
    return RosterEnrollment(
        sourced_id=cells.text("sourcedId"),
        status=cells.status(),
        class_id=cells.text("classSourcedId"),
        school_id=cells.text("schoolSourcedId"),
        user_id=cells.text("userSourcedId"),
        role=cells.choice("role", ENROLLMENT_ROLES),
        primary=cells.flag("primary"),
        begin_date=cells.optional("beginDate"),
        end_date=cells.optional("endDate"),
    )


def session(cells: Cells) -> RosterSession:
    cells.status()  # checked, though a session's status is not kept
    return RosterSession(
        sourced_id=cells.text("sourcedId"),
        title=cells.text("title"),
        type=cells.choice("type", SESSION_TYPES),
        start_date=cells.text("startDate"),
        end_date=cells.text("endDate"),
        parent_id=cells.optional("parentSourcedId"),
        school_year=cells.text("schoolYear"),
    )


def course(cells: Cells) -> str:
    cells.status()
    return cells.text("sourcedId")
