"""A synthetic OneRoster 1.1 bundle for tests: one district, its schools, classes and families.

Every value is made up here (nothing is copied from a fixture). The same arguments always give
the same bytes, and each person's details depend only on the seed and their own id, so a changed
export (`withdraw`, `add_students`, `relink`) differs from the first only where it says.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterable, Mapping

GIVEN = ("Amara", "Bao", "Chiara", "Élodie", "Farah", "Hana", "Kwame", "Lucía", "Søren", "Zoë")
FAMILY = ("Abara", "Castillo", "Dubois", "Fujita", "García", "Mensah", "Nguyen", "O'Neill")
GRADES = ("06", "07", "08")
SUBJECTS = (("math", "Mathematics"), ("ela", "English Language Arts"))
DISTRICT, YEAR = "org-dst-1", "as-sy-2026"
STAMP = ("active", "2025-08-15T06:00:00Z")
TERM_DATES = ("2025-08-15", "2026-06-15")
BULK = ("academicSessions", "classes", "courses", "enrollments", "orgs", "users")
ABSENT = ("categories", "classResources", "demographics", "lineItems", "results")
HEADERS = {
    "manifest.csv": "propertyName,value",
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
    "parentSourcedId,schoolYear",
    "courses.csv": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,"
    "grades,orgSourcedId,subjects,subjectCodes",
    "classes.csv": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,"
    "classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "users.csv": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,"
    "userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,"
    "password",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
    "userSourcedId,role,primary,beginDate,endDate",
}


def build_bundle(
    schools: int = 3,
    students_per_school: int = 20,
    teachers_per_school: int = 2,
    seed: int = 7,
    *,
    withdraw: Iterable[str] = (),
    add_students: int = 0,
    relink: Mapping[str, str] | None = None,
) -> dict[str, bytes]:
    """The files of a district's export, by name. `withdraw` drops those students' enrollments,
    `add_students` enrols that many new students (spread over the schools), and `relink` makes
    the given guardian a student's only guardian, on both sides of the link."""
    withdrawn = set(withdraw)
    school_ids = [f"org-sch-{s}" for s in range(1, schools + 1)]
    size = {school: students_per_school for school in school_ids}
    for k in range(add_students):
        size[school_ids[k % schools]] += 1
    rows: dict[str, list[list[str]]] = {name: [] for name in HEADERS}
    users: dict[str, dict[str, str]] = {}
    rows["orgs.csv"].append([DISTRICT, *STAMP, "Synthetic Unified", "district", "SU", ""])
    rows["academicSessions.csv"].append([YEAR, *STAMP, "2025-26", "schoolYear", *TERM_DATES])
    rows["academicSessions.csv"][-1] += ["", "2026"]
    for s, school in enumerate(school_ids, start=1):
        rows["orgs.csv"].append([school, *STAMP, f"School {s}", "school", f"SCH{s}", DISTRICT])
        teachers = [f"usr-tch-{s}-{t}" for t in range(1, teachers_per_school + 1)]
        students = [f"usr-stu-{s}-{n:03d}" for n in range(1, size[school] + 1)]
        for teacher in teachers:
            users[teacher] = _person(seed, teacher, "teacher", school, ",".join(GRADES))
        for student in students:
            _family(seed, student, school, users)
        for c, (code, title) in enumerate(SUBJECTS):
            section, course = f"cls-{s}-{code}", f"crs-{s}-{code}"
            rows["courses.csv"].append([course, *STAMP, YEAR, title, f"{code}{s}", "", school])
            rows["courses.csv"][-1] += [title, ""]
            rows["classes.csv"].append([section, *STAMP, title, ",".join(GRADES), course])
            rows["classes.csv"][-1] += [f"{code}{s}", "scheduled", f"Room {s}{c}", school, YEAR]
            rows["classes.csv"][-1] += [title, "", ""]
            # Each class has one primary teacher; any further teachers co-teach.
            for t, teacher in enumerate(teachers):
                if t == c % len(teachers) or t % len(SUBJECTS) == c:
                    primary = "true" if t == c % len(teachers) else "false"
                    rows["enrollments.csv"].append(
                        _enrollment(section, teacher, "teacher", primary)
                    )
            for student in students:
                if student not in withdrawn:
                    rows["enrollments.csv"].append(_enrollment(section, student, "student"))
    for student, guardian in (relink or {}).items():
        _relink(users, student, guardian)
    rows["users.csv"] = [list(user.values()) for user in users.values()]
    rows["manifest.csv"] = [["manifest.version", "1.0"], ["oneroster.version", "1.1"]]
    rows["manifest.csv"] += [[f"file.{name}", "bulk"] for name in BULK]
    rows["manifest.csv"] += [[f"file.{name}", "absent"] for name in ABSENT]
    rows["manifest.csv"] += [["source.systemName", "Synthetic SIS"]]
    return {name: _csv(HEADERS[name], rows[name]) for name in HEADERS}


def _person(
    seed: int, sourced_id: str, role: str, school: str, grades: str, family: str = ""
) -> dict[str, str]:
    rng = random.Random(f"{seed}/{sourced_id}")
    username = sourced_id.removeprefix("usr-")
    values = [sourced_id, *STAMP, "true", school, role, username, f"{{SIS:{username}}}"]
    values += [rng.choice(GIVEN), family or rng.choice(FAMILY), "", username]
    values += [f"{username}@example.org", "", "", "", grades, ""]
    return dict(zip(HEADERS["users.csv"].split(","), values, strict=True))


def _family(seed: int, student: str, school: str, users: dict[str, dict[str, str]]) -> None:
    """A student and one or two guardians, each listing the other in agentSourcedIds."""
    rng = random.Random(f"{seed}/{student}/family")
    users[student] = _person(seed, student, "student", school, rng.choice(GRADES))
    guardians = [f"{student.replace('stu', 'grd')}-{g}" for g in range(1, rng.randint(1, 2) + 1)]
    for g, guardian in enumerate(guardians):
        role = "parent" if g == 0 else rng.choice(("guardian", "relative"))
        users[guardian] = _person(seed, guardian, role, school, "", users[student]["familyName"])
        users[guardian]["agentSourcedIds"] = student
    users[student]["agentSourcedIds"] = ",".join(guardians)


def _relink(users: dict[str, dict[str, str]], student: str, guardian: str) -> None:
    if users.get(student, {}).get("role") != "student" or guardian not in users:
        raise ValueError(f"relink: {student} is not a student or {guardian} is not a user")
    for old in users[student]["agentSourcedIds"].split(","):
        children = [c for c in users[old]["agentSourcedIds"].split(",") if c and c != student]
        users[old]["agentSourcedIds"] = ",".join(children)
    users[student]["agentSourcedIds"] = guardian
    children = [c for c in users[guardian]["agentSourcedIds"].split(",") if c]
    users[guardian]["agentSourcedIds"] = ",".join([*children, student])


def _enrollment(section: str, user: str, role: str, primary: str = "false") -> list[str]:
    school = "org-sch-" + section.split("-")[1]
    return [f"enr-{section}-{user}", *STAMP, section, school, user, role, primary, *TERM_DATES]


def _csv(header: str, rows: Iterable[list[str]]) -> bytes:
    """CRLF line endings and minimal quoting, as most SIS exports write them."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return text.getvalue().encode("utf-8")
