from profiles.domain.access import LearnerRelations, Viewer, read_access, write_access

LEARNER = LearnerRelations(
    "lrn-1", "d1", guardian_ids=frozenset({"per-mum"}), class_ids=frozenset({"cls-math"})
)


def viewer(subject: str, *roles: str, district: str | None = "d1") -> Viewer:
    return Viewer(subject, frozenset(roles), district)


def test_a_learner_reads_their_own_record_without_a_disclosure():
    access = read_access(viewer("lrn-1", "learner"), LEARNER)
    assert access.allowed
    assert not access.disclosed


def test_another_learner_is_refused():
    assert not read_access(viewer("lrn-2", "learner"), LEARNER).allowed


def test_a_linked_guardian_reads_and_it_is_disclosed():
    access = read_access(viewer("per-mum", "guardian"), LEARNER)
    assert access.as_role == "guardian"
    assert access.disclosed


def test_a_guardian_of_another_learner_is_refused():
    assert not read_access(viewer("per-other", "guardian"), LEARNER).allowed


def test_a_teacher_reads_learners_of_their_classes_only():
    teacher = viewer("per-t", "teacher")
    assert read_access(teacher, LEARNER, frozenset({"cls-math"})).as_role == "teacher"
    assert not read_access(teacher, LEARNER, frozenset({"cls-art"})).allowed


def test_a_teacher_in_another_district_is_refused_even_with_a_matching_class():
    teacher = viewer("per-t", "teacher", district="d2")
    assert not read_access(teacher, LEARNER, frozenset({"cls-math"})).allowed


def test_district_admins_read_their_district_only():
    assert read_access(viewer("per-a", "district_admin"), LEARNER).allowed
    assert not read_access(viewer("per-a", "district_admin", district="d2"), LEARNER).allowed


def test_auditors_read_everything_but_change_nothing():
    auditor = viewer("per-audit", "auditor", district=None)
    assert read_access(auditor, LEARNER).as_role == "auditor"
    assert not write_access(auditor, LEARNER).allowed
