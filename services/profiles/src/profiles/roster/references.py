"""Whether the sourcedIds a bundle refers to are in the bundle.

A reference the roster needs in order to make sense (an enrollment's user, class and school, a
class's school and course, a user's agents) must resolve. A reference that a package may leave
outside itself (parent orgs and sessions, terms, the orgs a user belongs to) is only a warning:
the catalyst full sample points its org and session parents outside the package. So is any
reference into a file the package does not include (courses.csv, usually).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from profiles.roster.records import Indexed
from profiles.roster.table import Findings

# file, column, record attribute, file it points into, what the id must name
MUST_RESOLVE = (
    ("enrollments.csv", "userSourcedId", "user_id", "users.csv", "a user"),
    ("enrollments.csv", "classSourcedId", "class_id", "classes.csv", "a class"),
    ("enrollments.csv", "schoolSourcedId", "school_id", "orgs.csv", "an org"),
    ("classes.csv", "schoolSourcedId", "school_id", "orgs.csv", "an org"),
    ("classes.csv", "courseSourcedId", "course_id", "courses.csv", "a course"),
    ("users.csv", "agentSourcedIds", "agent_ids", "users.csv", "a user"),
)
MAY_POINT_OUTSIDE = (
    ("classes.csv", "termSourcedIds", "term_ids", "academicSessions.csv", "a session"),
    ("users.csv", "orgSourcedIds", "org_ids", "orgs.csv", "an org"),
    ("orgs.csv", "parentSourcedId", "parent_id", "orgs.csv", "an org"),
    ("academicSessions.csv", "parentSourcedId", "parent_id", "academicSessions.csv", "a session"),
)


def check_references(files: Mapping[str, Indexed[Any]], findings: Findings) -> None:
    for strict, rules in ((True, MUST_RESOLVE), (False, MAY_POINT_OUTSIDE)):
        for file, column, attribute, into, what in rules:
            source, target = files[file], files[into]
            if not target.complete:
                continue
            for key, record in source.records.items():
                for ref in _ids(getattr(record, attribute)):
                    if not target.included:
                        rule = f"'{ref}' is not checked: {into} is not in the bundle"
                        findings.warn(file, source.lines[key], column, rule)
                    elif ref not in target.records and strict:
                        rule = f"'{ref}' is not {what} in the bundle"
                        findings.error(file, source.lines[key], column, rule)
                    elif ref not in target.records:
                        rule = f"'{ref}' is not {what} in the bundle; taken as outside it"
                        findings.warn(file, source.lines[key], column, rule)


def _ids(value: str | tuple[str, ...] | None) -> tuple[str, ...]:
    if isinstance(value, tuple):
        return value
    return (value,) if value else ()
