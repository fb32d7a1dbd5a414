"""Reading OneRoster 1.1 bundles: real exports from other projects, and broken ones we make.

The real sets are read in place from the shared fixtures folder (never copied here). Counts were
taken by reading the files themselves.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from profiles.roster.bundle import InvalidRoster, RosterProblem
from profiles.roster.reader import files_from_directory, files_from_zip, read_bundle

from .roster_builder import build_bundle

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "oneroster"
CATALYST = FIXTURES / "catalyst-moodle-enrol_oneroster"
OAT_SA = FIXTURES / "oat-sa-oneroster-import" / "OneRosterv1p1BaseCSV"
CATALYST_SETS = ["Test_full_data_set", "Test_minimal_data_set"]
# Line 4 of the catalyst enrollments, pointed at a user who is not in users.csv.
UNKNOWN_USER = (
    "cls-222-123456,org-sch-222-456,usr-222-1234561232,",
    "cls-222-123456,org-sch-222-456,usr-222-nobody,",
)


@pytest.fixture
def fixtures() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip("the shared OneRoster fixtures are not in this checkout")
    return FIXTURES


@pytest.fixture
def full(fixtures: Path) -> dict[str, bytes]:
    """The catalyst full set, as bytes we may change."""
    return files_from_directory(CATALYST / "Test_full_data_set")


def refused(files: dict[str, bytes]) -> tuple[RosterProblem, ...]:
    with pytest.raises(InvalidRoster) as refusal:
        read_bundle(files)
    return refusal.value.problems


def located(problems: tuple[RosterProblem, ...]) -> set[tuple[str, int | None, str | None]]:
    return {(problem.file, problem.line, problem.field) for problem in problems}


def rule_at(
    problems: tuple[RosterProblem, ...], file: str, line: int | None, field: str | None
) -> str:
    [rule] = [p.rule for p in problems if (p.file, p.line, p.field) == (file, line, field)]
    return rule


def edit(files: dict[str, bytes], name: str, old: str, new: str) -> dict[str, bytes]:
    assert files[name].count(old.encode()) == 1, f"{old!r} should occur once in {name}"
    return {**files, name: files[name].replace(old.encode(), new.encode())}


def zipped(files: dict[str, bytes], folder: str = "") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(folder + name, data)
    return buffer.getvalue()


# The real exports ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CATALYST_SETS)
def test_each_catalyst_set_reads_with_the_people_its_files_hold(fixtures: Path, name: str) -> None:
    bundle = read_bundle(files_from_directory(CATALYST / name))

    assert bundle.version == "1.1"
    assert len(bundle.users) == 6
    assert set(bundle.students) == {"usr-222-66778899", "usr-222-1234561232", "usr-222-567891"}
    assert set(bundle.teachers) == {"usr-222-123456", "usr-222-987654"}
    assert set(bundle.guardians) == {"usr-222-1234561"}
    assert len(bundle.classes) == 2
    assert len(bundle.enrollments) == 6  # the last row has no final newline after it
    assert len(bundle.orgs) == 1
    assert len(bundle.sessions) == 5


@pytest.mark.parametrize("name", CATALYST_SETS)
def test_each_zipped_catalyst_set_reads_the_same_as_its_folder(fixtures: Path, name: str) -> None:
    from_zip = read_bundle(files_from_zip((CATALYST / "zips" / f"{name}.zip").read_bytes()))

    assert from_zip == read_bundle(files_from_directory(CATALYST / name))
    assert (len(from_zip.users), len(from_zip.students), len(from_zip.teachers)) == (6, 3, 2)
    assert (len(from_zip.classes), len(from_zip.enrollments)) == (2, 6)


def test_quoted_lists_and_enumerations_read_as_the_specification_spells_them(
    full: dict[str, bytes],
) -> None:
    bundle = read_bundle(full)
    physics, history = bundle.classes["cls-222-123456"], bundle.classes["cls-222-123478"]
    parent = bundle.users["usr-222-1234561"]

    assert physics.grades == ("09", "10", "11")
    assert physics.class_type == "scheduled"  # written "Scheduled"
    assert history.term_ids == ("as-trm-222-1234", "as-trm-222-1235")
    assert history.status == "tobedeleted"
    assert parent.user_ids == ("{LDAP:12}", "{LTI:15}", "{Fed:23}")
    assert parent.agent_ids == ("usr-222-66778899",)
    assert parent.role == "parent"
    assert parent.enabled
    assert bundle.users["usr-222-66778899"].status is None  # empty in a bulk file
    assert not hasattr(parent, "password")
    assert bundle.sessions["as-grp-222-23456"].type == "gradingPeriod"


def test_a_department_named_as_the_school_of_classes_counts_as_a_school(
    full: dict[str, bytes],
) -> None:
    bundle = read_bundle(full)

    assert bundle.orgs["org-sch-222-456"].type == "department"
    assert set(bundle.schools) == {"org-sch-222-456"}


def test_the_catalyst_references_outside_its_package_are_warnings(full: dict[str, bytes]) -> None:
    warnings = read_bundle(full).warnings

    assert located(warnings) == {
        ("orgs.csv", 2, "parentSourcedId"),  # org-sch-222-3456 is not in the package
        ("academicSessions.csv", 3, "parentSourcedId"),  # nor is as-syr-222-2023
        ("academicSessions.csv", 6, "parentSourcedId"),
        ("academicSessions.csv", 4, "status"),  # 'inactive' is not a 1.1 status
        ("classes.csv", 2, "courseSourcedId"),  # courses.csv is absent by the manifest
        ("classes.csv", 3, "courseSourcedId"),
    }


def test_a_teacher_enrolled_as_a_student_keeps_the_enrollment_role(full: dict[str, bytes]) -> None:
    # usr-222-987654 is a teacher in users.csv and a student in two classes. OneRoster gives the
    # role per enrollment, so the reader keeps both; what it means is the importer's decision.
    bundle = read_bundle(full)

    assert bundle.users["usr-222-987654"].role == "teacher"
    assert bundle.enrollments["enr-s-222-12345-987654"].role == "student"


def test_the_oat_sa_set_is_refused_for_what_1_1_requires_not_for_its_empty_stamps(
    fixtures: Path,
) -> None:
    # Its academicSessions.csv has the 1.0 header (no schoolYear, which 1.1 requires) and its
    # classes leave courseSourcedId empty, which 1.1 requires too. Its empty status and
    # dateLastModified values are allowed in a bulk file, and its other empties (grade,
    # classCode, location, primary...) are optional columns, so none of those is a problem.
    problems = refused(files_from_directory(OAT_SA))

    assert located(problems) == {
        ("academicSessions.csv", 1, "schoolYear"),
        ("classes.csv", 2, "courseSourcedId"),
        ("classes.csv", 3, "courseSourcedId"),
        ("classes.csv", 4, "courseSourcedId"),
    }
    assert "missing" in rule_at(problems, "academicSessions.csv", 1, "schoolYear")
    assert all("required" in problem.rule for problem in problems)


# Broken bundles, made from the catalyst full set -------------------------------------------------


def test_a_missing_required_column_is_named_on_the_header_line(full: dict[str, bytes]) -> None:
    broken = edit(full, "users.csv", ",role,", ",rank,")

    [problem] = refused(broken)
    assert (problem.file, problem.line, problem.field) == ("users.csv", 1, "role")
    assert "missing" in problem.rule


def test_an_unknown_role_is_refused_with_the_roles_allowed(full: dict[str, bytes]) -> None:
    broken = edit(full, "users.csv", ",parent,", ",pupil,")

    [problem] = refused(broken)
    assert str(problem) == (
        "users.csv line 4, role: 'pupil' is not one of administrator, aide, guardian, parent,"
        " proctor, relative, student, teacher"
    )


def test_an_enrollment_of_an_unknown_user_is_refused(full: dict[str, bytes]) -> None:
    broken = edit(full, "enrollments.csv", UNKNOWN_USER[0], UNKNOWN_USER[1])

    [problem] = refused(broken)
    assert (problem.file, problem.line, problem.field) == ("enrollments.csv", 4, "userSourcedId")
    assert "'usr-222-nobody' is not a user" in problem.rule


def test_a_duplicate_sourced_id_names_both_lines(full: dict[str, bytes]) -> None:
    broken = edit(full, "users.csv", "usr-222-567891,", "usr-222-1234561232,")

    [problem] = refused(broken)
    assert (problem.file, problem.line, problem.field) == ("users.csv", 7, "sourcedId")
    assert "already" in problem.rule
    assert "line 6" in problem.rule


def test_a_file_not_in_utf_8_is_refused_without_a_cascade(full: dict[str, bytes]) -> None:
    broken = {**full, "users.csv": full["users.csv"].replace(b"Mary", "Marí".encode("latin-1"))}

    # Enrollments name users, but the users could not be read: one problem, not six.
    [problem] = refused(broken)
    assert (problem.file, problem.line, problem.field) == ("users.csv", None, None)
    assert "UTF-8" in problem.rule


def test_a_byte_order_mark_and_lf_endings_are_fine(full: dict[str, bytes]) -> None:
    users = b"\xef\xbb\xbf" + full["users.csv"].replace(b"\r\n", b"\n")

    assert len(read_bundle({**full, "users.csv": users}).users) == 6


def test_a_missing_manifest_is_refused(full: dict[str, bytes]) -> None:
    del full["manifest.csv"]

    [problem] = refused(full)
    assert (problem.file, problem.line) == ("manifest.csv", None)
    assert "missing" in problem.rule


def test_a_oneroster_1_2_manifest_is_refused(full: dict[str, bytes]) -> None:
    broken = edit(full, "manifest.csv", "oneroster.version,1.1", "oneroster.version,1.2")

    [problem] = refused(broken)
    assert (problem.file, problem.line, problem.field) == ("manifest.csv", 3, "oneroster.version")
    assert "unsupported" in problem.rule
    assert "'1.2'" in problem.rule


def test_a_file_the_manifest_lists_as_bulk_must_be_there(full: dict[str, bytes]) -> None:
    del full["orgs.csv"]

    # Classes and enrollments name the missing org; only the missing file is reported.
    [problem] = refused(full)
    assert (problem.file, problem.line) == ("orgs.csv", None)
    assert "missing" in problem.rule


def test_a_delta_file_is_refused(full: dict[str, bytes]) -> None:
    broken = edit(full, "manifest.csv", "file.users,bulk", "file.users,delta")

    [problem] = refused(broken)
    assert (problem.file, problem.line, problem.field) == ("manifest.csv", 16, "file.users")
    assert "delta" in problem.rule


def test_a_row_with_too_few_values_is_refused_and_not_read(full: dict[str, bytes]) -> None:
    broken = edit(full, "classes.csv", ',"1,2,3"', "")

    # No value is read from a row of the wrong shape, so the class it held is not in the bundle
    # and its three enrollments are refused with it.
    problems = refused(broken)
    assert located(problems) == {
        ("classes.csv", 3, None),
        ("enrollments.csv", 5, "classSourcedId"),
        ("enrollments.csv", 6, "classSourcedId"),
        ("enrollments.csv", 7, "classSourcedId"),
    }
    assert "13 values" in rule_at(problems, "classes.csv", 3, None)


def test_every_problem_is_reported_at_once(full: dict[str, bytes]) -> None:
    broken = edit(full, "users.csv", ",parent,", ",pupil,")
    broken = edit(broken, "enrollments.csv", *UNKNOWN_USER)
    broken = edit(broken, "manifest.csv", "oneroster.version,1.1", "oneroster.version,1.2")
    broken["orgs.csv"] = broken["orgs.csv"].replace(b"History", "Histoire \xe9".encode("latin-1"))

    assert located(refused(broken)) == {
        ("users.csv", 4, "role"),
        ("enrollments.csv", 4, "userSourcedId"),
        ("manifest.csv", 3, "oneroster.version"),
        ("orgs.csv", None, None),
    }


# Zipped packages ---------------------------------------------------------------------------------


def test_a_zip_with_its_files_in_a_folder_reads(full: dict[str, bytes]) -> None:
    full["Users.CSV"] = full.pop("users.csv")  # as some Windows exports name them
    files = files_from_zip(zipped(full, folder="district-export/2025-08-15/"))

    assert len(read_bundle(files).users) == 6


def test_a_zip_that_unpacks_past_the_limit_is_refused_before_it_is_read() -> None:
    bomb = zipped({"users.csv": b"0" * 2_000_000})  # about 2 KB on the wire

    with pytest.raises(InvalidRoster) as refusal:
        files_from_zip(bomb, max_total_bytes=1_000_000)
    [problem] = refusal.value.problems
    assert (problem.file, problem.line, problem.field) == ("<zip>", None, None)
    assert "more than 1000000 bytes" in problem.rule


def test_a_zip_of_too_many_files_is_refused() -> None:
    swarm = zipped({f"part-{n}.csv": b"" for n in range(101)})

    with pytest.raises(InvalidRoster) as refusal:
        files_from_zip(swarm)
    [problem] = refusal.value.problems
    assert problem.file == "<zip>"
    assert "101 files" in problem.rule


def test_bytes_that_are_not_a_zip_are_refused() -> None:
    with pytest.raises(InvalidRoster) as refusal:
        files_from_zip(b"sourcedId,name,type\r\n")
    assert located(refusal.value.problems) == {("<zip>", None, None)}
    assert "not a readable zip" in refusal.value.problems[0].rule


# The synthetic district --------------------------------------------------------------------------


def test_the_synthetic_district_reads_with_the_people_it_was_built_with() -> None:
    bundle = read_bundle(files_from_zip(zipped(build_bundle())))

    assert bundle.warnings == ()
    assert len(bundle.students) == 3 * 20
    assert len(bundle.teachers) == 3 * 2
    assert len(bundle.schools) == 3
    assert len(bundle.orgs) == 4  # and the district
    assert len(bundle.sessions) == 1
    assert len(bundle.classes) == 3 * 2
    assert len(bundle.enrollments) == 3 * 2 * (20 + 1)  # every student, one teacher per class
    assert len(bundle.users) == 60 + 6 + len(bundle.guardians)


def test_every_synthetic_student_has_one_or_two_guardians_linked_both_ways() -> None:
    bundle = read_bundle(build_bundle())

    for student in bundle.students.values():
        assert 1 <= len(student.agent_ids) <= 2
        for guardian_id in student.agent_ids:
            assert guardian_id in bundle.guardians
            assert student.sourced_id in bundle.guardians[guardian_id].agent_ids


def test_the_synthetic_district_is_the_same_for_the_same_seed() -> None:
    assert build_bundle(seed=3) == build_bundle(seed=3)
    assert build_bundle(seed=3) != build_bundle(seed=4)


def test_a_withdrawn_student_stays_on_the_roll_without_enrollments() -> None:
    first = read_bundle(build_bundle())
    then = read_bundle(build_bundle(withdraw=["usr-stu-2-005"]))

    assert then.users == first.users
    assert len(then.enrollments) == len(first.enrollments) - 2
    assert all(e.user_id != "usr-stu-2-005" for e in then.enrollments.values())


def test_added_students_join_without_changing_anyone_else() -> None:
    first = read_bundle(build_bundle())
    then = read_bundle(build_bundle(add_students=4))

    assert len(then.students) == len(first.students) + 4
    assert len(then.enrollments) == len(first.enrollments) + 4 * 2
    assert {key: then.users[key] for key in first.users} == first.users


def test_a_relinked_student_has_only_the_new_guardian_on_both_sides() -> None:
    first = read_bundle(build_bundle())
    student = first.users["usr-stu-1-001"]
    newcomer = "usr-grd-1-002-1"
    then = read_bundle(build_bundle(relink={student.sourced_id: newcomer}))

    assert then.users[student.sourced_id].agent_ids == (newcomer,)
    assert student.sourced_id in then.users[newcomer].agent_ids
    for old in student.agent_ids:
        assert student.sourced_id not in then.users[old].agent_ids
