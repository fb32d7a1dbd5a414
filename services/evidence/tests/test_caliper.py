"""Caliper envelopes: the published IMS fixtures (read in place, never copied) and a few
hand-written cases for the evidence rules."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evidence.ingest.caliper import parse_envelope
from evidence.ingest.observation import LearnerRef, NoEvidence, Observation, Rejection

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "caliper"
VERSIONS = {
    "v1p1": "http://purl.imsglobal.org/ctx/caliper/v1p1",
    "v1p2": "http://purl.imsglobal.org/ctx/caliper/v1p2",
}
RECEIVED = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"no fixtures at {FIXTURES}")

# Neither an envelope nor an Event or Entity: an endpoint's self-description, and a bare
# SystemIdentifier meant to sit inside an entity's `otherIdentifiers`. Sent as a data item each
# lacks the `@context` every top-level item needs, so it is refused; the fragment is accepted
# where it belongs (test_a_system_identifier_fragment_is_accepted_inside_an_entity).
NEITHER = {"caliperEndpointConfigPayload.json", "caliperIdentifierSystemIdentifier.json"}

# The error fixtures the fixtures README calls doubtful, with the decision taken on each.
ACCEPTED_ERRORS = {
    # Each differs from its valid twin only by an integer literal (15) where the twin has 15.0.
    # JSON does not tell the two apart and Caliper types these properties as numbers, so
    # refusing them would refuse real partners' scores over a formatting detail.
    "caliperEntityAggregateMeasure-MalformedMaxMetricValueNotAnInt.json",
    "caliperEntityAggregateMeasure-MalformedMetricValueNotAnInt.json",
    "caliperEntityAssignableDigitalResource-MalformedMaxSubmitsNotAnInt.json",  # maxScore: 50
    "caliperEntityScore-MalformedMaxScoreNotAnInt.json",
}
DOUBTFUL_REJECTIONS = {
    # Misspelled key `endedAtTiem`: custom data belongs in `extensions`; a typo must not pass
    # silently and lose the value.
    "caliperEntitySession-MalformedEndedAtTimeNotValidDateTime.json": "data[0].endedAtTiem",
    # Named for datePublished, but the bare date is in dateCreated: reject, at dateCreated.
    "caliperEntityDigitalResource-MalformedDatePublishedNotValidDateTime.json": (
        "data[0].dateCreated"
    ),
    # Named for maxScore, but maxSubmits is "Two": reject, at maxSubmits.
    "caliperEntityAssignableDigitalResource-MalformedMaxScoreNotAFloat.json": "data[0].maxSubmits",
    # A list where a single string or object belongs ("NotAList" means "must not be a list").
    "caliperEntityQuery-MalformedSearchTermsNotAList.json": "data[0].searchTerms",
    "caliperEntityLtiSession-MalformedMessageParametersNotAList.json": "data[0].messageParameters",
    # Meant as a Person among a Survey's items, but its trailing comma makes it not JSON at all.
    "caliperEntitySurvey-MalformedItemsContainsWrongEntityType.json": "body",
}

# Error fixtures and the property each one breaks, across the kinds of error in the set.
BROKEN_PROPERTY = {
    "caliperEntity-NoId.json": "id",
    "caliperEntity-MalformedIdNotAnIRI.json": "id",
    "caliperEntity-UnknownContext.json": "@context",
    "caliperEntity-UnknownEntityType.json": "type",
    "caliperEntity-MalformedOtherIdentifiersContainsWrongEntityType.json": "otherIdentifiers",
    "caliperEntityAttempt-MalformedCountNotAnInt.json": "count",
    "caliperEntityAttempt-MalformedAssigneeWrongEntityType.json": "assignee",
    "caliperEntityAggregateMeasure-MalformedMetricNotPresent.json": "metric",
    "caliperEntityMembership-MalformedRolesContainsUnknownValue.json": "roles",
    "caliperEntityLtiLink-MalformedMessageTypeUnknownValue.json": "messageType",
    "caliperEntitySystemIdentifier-MalformedIdentifierTypeUnknownValue.json": "identifierType",
    "caliperEntityForum-MalformedItemsNotAList.json": "items",
    "caliperEntityTagAnnotation-MalformedTagsWrongListElementType.json": "tags",
    "caliperEntitySurveyInvitation-MalformedDateSentNotValidDateTime.json": "dateSent",
    "caliperEntityMediaLocation-MalformedCurrentTimeNotValidDuration.json": "currentTime",
    "caliperEntityResult-MalformedAttemptNoValue.json": "attempt",
    "caliperEntityHighlightAnnotation-MalformedSelectionWrongEntityType.json": "selection",
    "caliperEntityScore-MalformedScoreGivenNotAString.json": "scoreGiven",
    "caliperEvent-NullActor.json": "actor",
    "caliperEvent-NoEventTime.json": "eventTime",
    "caliperEvent-UnknownProfile.json": "profile",
    "caliperEvent-MalformedExtensionsNotAnIRI.json": "extensions",
    "caliperEvent-MalformedTargetNotAString.json": "target",
    "caliperEventGrade-WrongAction.json": "action",
    "caliperEventGrade-MalformedGeneratedWrongEntityType.json": "generated",
    "caliperEventSessionTimedOut-MalformedObjectWrongEntityType.json": "object",
    "caliperEventToolLaunchLaunched-NoFederatedSession.json": "federatedSession",
    # Named for target, but what the file breaks is `generated` (a Person).
    "caliperEventAssignable-MalformedTargetWrongEntityType.json": "generated",
}


def fixture_files(folder: str) -> list[Path]:
    return sorted((FIXTURES / folder).glob("*.json")) if FIXTURES.is_dir() else []


def wrapped(item: Any, version: str = VERSIONS["v1p2"]) -> bytes:
    envelope = {
        "sensor": "https://example.edu/sensor",
        "sendTime": "2026-11-01T10:00:00.000Z",
        "dataVersion": version,
        "data": [item],
    }
    return json.dumps(envelope).encode()


def as_sent(path: Path, version: str) -> bytes:
    """The fixture as a Sensor would send it: an envelope as is, anything else wrapped in one;
    bytes that are not JSON go as they are."""
    raw = path.read_bytes()
    try:
        content = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return (
        raw if isinstance(content, dict) and "dataVersion" in content else wrapped(content, version)
    )


def rejection_of(body: bytes) -> Rejection:
    with pytest.raises(Rejection) as caught:
        parse_envelope(body, received_at=RECEIVED)
    return caught.value


def broken_property(field: str) -> str:
    return re.sub(r"\[\d+\]", "", field).rsplit(".", 1)[-1]


@needs_fixtures
@pytest.mark.parametrize("folder", ["v1p1", "v1p2"])
def test_every_valid_fixture_is_accepted_except_the_two_that_are_no_caliper_data(folder):
    accepted, refused = [], {}
    for path in fixture_files(folder):
        try:
            parse_envelope(as_sent(path, VERSIONS[folder]), received_at=RECEIVED)
            accepted.append(path.name)
        except Rejection as rejection:
            refused[path.name] = str(rejection)
    expected_refused = NEITHER & {p.name for p in fixture_files(folder)}
    assert set(refused) == expected_refused, refused
    assert all(rule.startswith("data[0].@context: is required") for rule in refused.values())
    assert len(accepted) == {"v1p1": 129, "v1p2": 142}[folder]


@needs_fixtures
@pytest.mark.parametrize("folder", ["v1p1", "v1p2"])
def test_a_graded_attempt_becomes_an_observation_of_its_assignee(folder):
    expected = {
        "caliperEventGradeGraded.json": (
            10 / 15,
            ("https://example.edu/terms/201601/courses/7/sections/1/assess/1",),
        ),
        "caliperEventGradeGradedItem.json": (
            1.0,
            (
                "https://example.edu/terms/201601/courses/7/sections/1/assess/1/items/3",
                "https://example.edu/terms/201601/courses/7/sections/1/assess/1",
            ),
        ),
    }
    for name, (score, refs) in expected.items():
        [parsed] = parse_envelope(
            as_sent(FIXTURES / folder / name, VERSIONS[folder]), received_at=RECEIVED
        )
        assert isinstance(parsed, Observation)
        assert parsed.score == pytest.approx(score)
        assert parsed.learner == LearnerRef(sis_id="https://example.edu/users/554433")
        assert parsed.competency_refs == refs
        assert parsed.observed_at.tzinfo is not None


@needs_fixtures
@pytest.mark.parametrize("folder", ["v1p1", "v1p2"])
def test_assessment_events_are_accepted_without_a_score(folder):
    names = [p for p in fixture_files(folder) if p.name.startswith("caliperEventAssessment")]
    assert len(names) == 5
    for path in names:
        [parsed] = parse_envelope(as_sent(path, VERSIONS[folder]), received_at=RECEIVED)
        # Caliper carries scores in GradeEvent; none of these generates a Score or Result.
        assert isinstance(parsed, NoEvidence)
        assert "carries no score" in parsed.reason


@needs_fixtures
def test_a_mixed_batch_resolves_the_thinned_grade_against_the_entities_described_before_it():
    body = (FIXTURES / "v1p2" / "caliperEnvelopeMixedBatch.json").read_bytes()
    parsed = parse_envelope(body, received_at=RECEIVED)
    assert [type(p).__name__ for p in parsed] == ["NoEvidence"] * 6 + ["Observation"]
    graded = parsed[-1]
    assert isinstance(graded, Observation)
    assert graded.assessment_kind == "Assessment"  # only an IRI in the event, described above


@needs_fixtures
def test_every_error_fixture_is_rejected_but_the_four_integer_literals():
    rejected = {}
    for path in fixture_files("v1p2-errors"):
        try:
            parse_envelope(as_sent(path, VERSIONS["v1p2"]), received_at=RECEIVED)
        except Rejection as rejection:
            rejected[path.name] = rejection
    names = {p.name for p in fixture_files("v1p2-errors")}
    assert names - set(rejected) == ACCEPTED_ERRORS
    assert len(rejected) == 275
    assert all(rejection.rule for rejection in rejected.values())
    for name, field in DOUBTFUL_REJECTIONS.items():
        assert rejected[name].field == field, name


@needs_fixtures
@pytest.mark.parametrize("name", sorted(BROKEN_PROPERTY))
def test_a_rejection_names_the_property_the_error_fixture_breaks(name):
    rejection = rejection_of(as_sent(FIXTURES / "v1p2-errors" / name, VERSIONS["v1p2"]))
    assert rejection.field.startswith("data[0].")
    assert broken_property(rejection.field) == BROKEN_PROPERTY[name], rejection


@needs_fixtures
def test_a_system_identifier_fragment_is_accepted_inside_an_entity():
    fragment = json.loads(
        (FIXTURES / "v1p2" / "caliperIdentifierSystemIdentifier.json").read_text()
    )
    person = {
        "@context": VERSIONS["v1p2"],
        "id": "https://example.edu/users/1",
        "type": "Person",
        "otherIdentifiers": [fragment],
    }
    [parsed] = parse_envelope(wrapped(person), received_at=RECEIVED)
    assert isinstance(parsed, NoEvidence)


# Hand-written cases: the evidence rules on top of the vocabulary.


def graded(score: dict[str, Any], assignee: Any = "https://example.edu/users/1") -> dict[str, Any]:
    return {
        "@context": VERSIONS["v1p2"],
        "id": "urn:uuid:0b4a3c1e-2f47-4d55-9a0e-5d6c7e8f9a01",
        "type": "GradeEvent",
        "actor": {"id": "https://example.edu/grader", "type": "SoftwareApplication"},
        "action": "Graded",
        "object": {
            "id": "https://example.edu/attempts/1",
            "type": "Attempt",
            "assignee": assignee,
            "assignable": {
                "id": "https://example.edu/quizzes/fractions",
                "type": "Assessment",
                "learningObjectives": [
                    {
                        "id": "https://example.edu/objectives/add-fractions",
                        "type": "LearningObjective",
                    }
                ],
            },
        },
        "eventTime": "2026-10-31T09:30:00.000Z",
        "generated": {"id": "https://example.edu/scores/1", "type": "Score", **score},
    }


def test_an_envelope_of_another_caliper_version_is_refused():
    body = wrapped(
        graded({"scoreGiven": 3.0, "maxScore": 4.0}), "http://purl.imsglobal.org/ctx/caliper/v1p0"
    )
    rejection = rejection_of(body)
    assert rejection.field == "dataVersion"
    assert rejection.rule.startswith("unsupported Caliper version")


def test_a_body_that_is_not_utf8_is_refused():
    event = graded({"scoreGiven": 3.0, "maxScore": 4.0})
    event["object"]["assignable"]["name"] = "Fractions : révision"
    latin1 = json.dumps(event, ensure_ascii=False).encode("latin-1")
    envelope = wrapped("ITEM").replace(b'"ITEM"', latin1)
    rejection = rejection_of(envelope)
    assert (rejection.field, rejection.rule) == ("body", "not UTF-8")


def test_a_score_above_its_maximum_is_refused():
    rejection = rejection_of(wrapped(graded({"scoreGiven": 5.0, "maxScore": 4.0})))
    assert rejection.field == "data[0].generated.scoreGiven"
    assert rejection.source_id == "urn:uuid:0b4a3c1e-2f47-4d55-9a0e-5d6c7e8f9a01"


def test_a_maximum_score_of_zero_is_refused():
    rejection = rejection_of(wrapped(graded({"scoreGiven": 0.0, "maxScore": 0.0})))
    assert rejection.field == "data[0].generated.maxScore"


def test_a_grade_names_the_sis_id_and_its_issuer_when_the_learner_carries_one():
    person = {
        "id": "https://example.edu/users/1",
        "type": "Person",
        "otherIdentifiers": [
            {
                "type": "SystemIdentifier",
                "identifier": "S-1042",
                "identifierType": "SisSourcedId",
                "source": {"id": "https://sis.example.edu", "type": "SoftwareApplication"},
            }
        ],
    }
    [parsed] = parse_envelope(
        wrapped(graded({"scoreGiven": 3.0, "maxScore": 4.0}, person)), received_at=RECEIVED
    )
    assert isinstance(parsed, Observation)
    assert parsed.learner == LearnerRef(sis_id="S-1042", home_page="https://sis.example.edu")
    assert parsed.score == 0.75
    assert parsed.competency_refs == (
        "https://example.edu/objectives/add-fractions",
        "https://example.edu/quizzes/fractions",
    )


def test_a_grade_without_a_score_is_no_evidence():
    [parsed] = parse_envelope(wrapped(graded({"comment": "see me"})), received_at=RECEIVED)
    assert isinstance(parsed, NoEvidence)


def test_one_bad_item_refuses_the_whole_batch_and_names_its_index():
    good = graded({"scoreGiven": 3.0, "maxScore": 4.0})
    bad = graded({"scoreGiven": "3", "maxScore": 4.0}) | {
        "id": "urn:uuid:0b4a3c1e-2f47-4d55-9a0e-5d6c7e8f9a02"
    }
    envelope = json.loads(wrapped(good))
    envelope["data"].append(bad)
    rejection = rejection_of(json.dumps(envelope).encode())
    assert rejection.field == "data[1].generated.scoreGiven"


def test_a_key_given_twice_is_refused():
    body = wrapped(graded({"scoreGiven": 3.0, "maxScore": 4.0})).replace(
        b'"scoreGiven": 3.0', b'"scoreGiven": 3.0, "scoreGiven": 1.0'
    )
    assert rejection_of(body).field == "body"


def test_an_infinite_score_is_refused():
    body = wrapped(graded({"scoreGiven": 1.0, "maxScore": 4.0})).replace(b"1.0", b"1e400", 1)
    assert rejection_of(body).field == "data[0].generated.scoreGiven"


def test_entities_nested_too_deeply_are_refused_not_crashed():
    document: dict[str, Any] = {"id": "https://example.edu/docs/0", "type": "Document"}
    for level in range(1, 400):
        document = {
            "id": f"https://example.edu/docs/{level}",
            "type": "Document",
            "isPartOf": document,
        }
    rejection = rejection_of(wrapped(document | {"@context": VERSIONS["v1p2"]}))
    assert rejection.field.startswith("data[0].isPartOf.isPartOf")
    assert rejection.rule == "nested deeper than 64 levels"


def test_json_nested_too_deeply_to_parse_is_refused_not_crashed():
    depth = 100_000
    nested = b'{"type": "Document", "isPartOf": ' * depth + b"null" + b"}" * depth
    rejection = rejection_of(wrapped("ITEM").replace(b'"ITEM"', nested))
    assert rejection.field == "body"
