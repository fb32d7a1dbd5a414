"""IMS Caliper 1.1/1.2: a Sensor's envelope of Events and Entity describes.

    {"sensor": IRI, "sendTime": date-time, "dataVersion": ".../ctx/caliper/v1p1" | "…/v1p2",
     "data": [Event | Entity, …]}

Every item is checked against the Caliper vocabulary (`caliper_vocabulary`), all or nothing.
A GradeEvent whose generated Score gives `scoreGiven` and `maxScore` is an Observation of the
learner who made the graded Attempt. An Assessment(Item)Event would be one too if it generated
a Score or Result, but the vocabulary lets it generate only an Attempt or a Response, so in
practice it is NoEvidence, as is every other valid item.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from evidence.ingest.caliper_validation import validate_item
from evidence.ingest.caliper_values import is_iri, parse_datetime, shown
from evidence.ingest.caliper_vocabulary import CONTEXTS, EVENT_TYPES
from evidence.ingest.json_body import loaded, no_constant, unique_keys
from evidence.ingest.observation import LearnerRef, NoEvidence, Observation, Parsed, Rejection

ENVELOPE_KEYS = ("sensor", "sendTime", "dataVersion", "data")
ASSESSMENT_EVENTS = ("AssessmentEvent", "AssessmentItemEvent")
Node = dict[str, Any] | str
Described = dict[str, dict[str, Any]]
# Where each scored entity type keeps the score awarded and the most it could have been.
SCORE_FIELDS = {"Score": ("scoreGiven", "maxScore"), "Result": ("resultScore", "maxResultScore")}


def parse_envelope(body: bytes, *, received_at: datetime) -> list[Parsed]:
    """All items or none: the first invalid one raises a Rejection naming `data[i].field`.

    An entity an event names only by IRI is looked up among the entities described earlier in
    the same envelope, so a thinned event still yields the learner's SIS id and the
    assessment's learning objectives."""
    # `received_at` is not needed here: intake checks eventTime against the time of receipt.
    version, items = read_envelope(body)
    described: Described = {}
    parsed: list[Parsed] = []
    for index, item in enumerate(items):
        path = f"data[{index}]"
        try:
            validate_item(item, version, path)
        except RecursionError:
            raise Rejection(path, "entities are nested too deeply") from None
        parsed.append(_translate(item, path, described))
        if item["type"] not in EVENT_TYPES and isinstance(item.get("id"), str):
            described[item["id"]] = item
    return parsed


def read_envelope(body: bytes) -> tuple[str, list[Any]]:
    """The envelope's Caliper version and its data items, once the envelope itself is valid."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejection("body", "not UTF-8") from None
    envelope = loaded(
        lambda: json.loads(text, object_pairs_hook=unique_keys, parse_constant=no_constant)
    )
    if not isinstance(envelope, dict):
        raise Rejection("body", "must be a Caliper envelope object")
    version = envelope.get("dataVersion")
    if version not in CONTEXTS:
        raise Rejection(
            "dataVersion",
            f"unsupported Caliper version {shown(version)}; send {' or '.join(CONTEXTS)}",
        )
    for key in ENVELOPE_KEYS:
        if envelope.get(key) is None:
            raise Rejection(key, "is required in a Caliper envelope")
    if unknown := [key for key in envelope if key not in ENVELOPE_KEYS]:
        raise Rejection(unknown[0], "is not a property of a Caliper envelope")
    if not isinstance(envelope["sensor"], str) or not is_iri(envelope["sensor"]):
        raise Rejection("sensor", "must be the Sensor's IRI")
    if not isinstance(envelope["sendTime"], str) or parse_datetime(envelope["sendTime"]) is None:
        raise Rejection("sendTime", "must be an ISO 8601 date and time with zone")
    data = envelope["data"]
    if not isinstance(data, list) or not data:
        raise Rejection("data", "must be a list of one or more Events or Entities")
    return str(version), data


def _translate(item: dict[str, Any], path: str, described: Described) -> Parsed:
    type_name = item["type"]
    if type_name not in EVENT_TYPES:
        identity = item.get("id") or item.get("identifier") or path
        return NoEvidence(identity, f"an Entity describe ({type_name}) carries no evidence")
    if type_name == "GradeEvent" or type_name in ASSESSMENT_EVENTS:
        return _scored(item, path, described)
    return NoEvidence(item["id"], f"{type_name} {item['action']} carries no score")


def _scored(event: dict[str, Any], path: str, described: Described) -> Parsed:
    score = _score(event.get("generated"), f"{path}.generated", event["id"])
    if score is None:
        # Caliper reports scores with GradeEvent; an assessment event rarely carries one.
        return NoEvidence(event["id"], f"{event['type']} {event['action']} carries no score")
    attempt = event["object"] if event["type"] == "GradeEvent" else None
    learner = _learner(event, attempt, described)
    if learner is None:
        raise Rejection(
            f"{path}.object.assignee",
            "a scored GradeEvent must name the learner: the Attempt's assignee or a Person actor",
            event["id"],
        )
    assessed = attempt.get("assignable") if isinstance(attempt, dict) else None
    subject = _resolved(assessed or event["object"], described)
    observed_at = parse_datetime(event["eventTime"])
    assert observed_at is not None  # validated
    return Observation(
        source_id=event["id"],
        learner=learner,
        score=score,
        observed_at=observed_at,
        competency_refs=_competency_refs(subject),
        assessment_id=_id(subject),
        assessment_kind=subject.get("type") if isinstance(subject, dict) else None,
        assessment_title=subject.get("name") if isinstance(subject, dict) else None,
    )


def _score(generated: object, path: str, source_id: str) -> float | None:
    """The generated Score (or Result) as a fraction of its maximum, or None if it gives none."""
    if not isinstance(generated, dict) or generated.get("type") not in SCORE_FIELDS:
        return None
    given_field, max_field = SCORE_FIELDS[generated["type"]]
    given, maximum = generated.get(given_field), generated.get(max_field)
    if given is None or maximum is None:
        return None
    if maximum <= 0:
        raise Rejection(f"{path}.{max_field}", "must be greater than 0", source_id)
    if not 0 <= given <= maximum:
        raise Rejection(
            f"{path}.{given_field}",
            f"{given:g} out of {maximum:g} is outside [0, {max_field}]",
            source_id,
        )
    return float(given / maximum)


def _learner(event: dict[str, Any], attempt: object, described: Described) -> LearnerRef | None:
    """The Person assessed: who made the graded Attempt, else the actor when it is a Person."""
    assignee = attempt.get("assignee") if isinstance(attempt, dict) else None
    if assignee is not None:
        return _learner_ref(_resolved(assignee, described))
    actor = _resolved(event["actor"], described)
    # A bare IRI is a Person only where the vocabulary admits nothing else.
    if (isinstance(actor, dict) and actor["type"] == "Person") or (
        isinstance(actor, str) and event["type"] in ASSESSMENT_EVENTS
    ):
        return _learner_ref(actor)
    return None


def _learner_ref(person: Node) -> LearnerRef:
    if isinstance(person, str):
        return LearnerRef(sis_id=person)
    for other in person.get("otherIdentifiers", []):
        if isinstance(other, dict) and other["identifierType"] == "SisSourcedId":
            return LearnerRef(sis_id=other["identifier"], home_page=_id(other.get("source")))
    return LearnerRef(sis_id=person["id"])


def _competency_refs(subject: Node) -> tuple[str, ...]:
    """What the assessment is aligned to, most specific first: its learning objectives, then
    the assessment itself, then what it is part of."""
    if isinstance(subject, str):
        return (subject,)
    refs = [_id(objective) for objective in subject.get("learningObjectives", [])]
    refs += [_id(subject), _id(subject.get("isPartOf"))]
    return tuple(dict.fromkeys(ref for ref in refs if ref))


def _resolved(node: Node, described: Described) -> Node:
    """An entity given by IRI, as described earlier in the envelope if it was."""
    return described.get(node, node) if isinstance(node, str) else node


def _id(node: object) -> str | None:
    """The IRI of an entity given inline or by reference."""
    if isinstance(node, dict):
        return str(node["id"]) if "id" in node else None
    return node if isinstance(node, str) else None
