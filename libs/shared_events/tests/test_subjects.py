import pytest

from shared_events import subjects
from shared_events.subjects import EntitySubject, IngestSubject, RejectionSubject, Timeline


def test_builders_and_parsers_round_trip():
    timeline = subjects.learner("evidence", "district-7", "lrn_9f3a")
    subject = timeline.subject("mastery")
    assert subject == "evidence.district-7.lrn_9f3a.mastery"
    assert timeline.filter == "evidence.district-7.lrn_9f3a.>"
    assert subjects.parse(subject) == EntitySubject(timeline, "mastery")
    assert subjects.parse(subjects.ingest("acme", "xapi")) == IngestSubject("acme", "xapi")
    assert subjects.parse(subjects.rejections("acme")) == RejectionSubject("acme")
    assert subjects.framework("d1", "fw-1").subject("imported") == "frameworks.d1.fw-1.imported"
    assert Timeline.of_subject("profiles.d1.l1.registered") == Timeline("profiles", "d1", "l1")


@pytest.mark.parametrize("bad", ["a.b", "a*", ">", "with space", "", "x" * 65, "tab\t", "ñ"])
def test_unsafe_tokens_are_refused_with_the_field_named(bad):
    with pytest.raises(subjects.UnsafeSubjectToken, match="entity"):
        Timeline("evidence", "d1", bad)
    with pytest.raises(subjects.UnsafeSubjectToken, match="partner"):
        subjects.ingest(bad, "native")


@pytest.mark.parametrize(
    "subject",
    ["ingest.acme.pdf", "evidence.d1.l1", "unknown.d1.l1.kind", "rejections.a.b", "profiles.d1..x"],
)
def test_subjects_outside_the_system_do_not_parse(subject):
    with pytest.raises(subjects.UnsafeSubjectToken):
        subjects.parse(subject)
