import json

import jsonschema

from shared_events import Envelope, encode, registered_events
from shared_events.events.evidence import MasteryDecided, PolicyRef
from shared_events.schema_export import asyncapi_document, event_schema, export


def mastery_envelope() -> Envelope:
    event = MasteryDecided(
        learner_id="l1",
        competency_id="c1",
        policy=PolicyRef(policy_id="p", method="bkt", version=1, params={"prior": 0.3}),
        evidence=(),
        previous_level=None,
        new_level="attempted",
        previous_score=None,
        new_score=0.3,
        mastered=False,
    )
    return Envelope.wrap(event, source="evidence", subject="l1", district="d1")


def test_a_real_message_validates_against_its_exported_schema_and_a_broken_one_does_not():
    schema = event_schema(MasteryDecided)
    body, _ = encode(mastery_envelope())
    message = json.loads(body)
    jsonschema.Draft202012Validator(schema).validate(message)

    message["data"]["new_score"] = "high"
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(message))
    assert errors and "new_score" in str(errors[0].path)


def test_the_asyncapi_document_has_a_channel_and_message_per_event():
    doc = asyncapi_document()
    assert doc["asyncapi"].startswith("3.")
    names = {cls.__name__ for cls in registered_events().values()}
    assert set(doc["components"]["messages"]) == names
    addresses = {c["address"] for c in doc["channels"].values()}
    assert "evidence.{district}.{learner}.mastery" in addresses
    assert "rejections.{partner}" in addresses
    assert "frameworks.{district}.{framework}.imported" in addresses


def test_export_writes_one_file_per_event_and_the_asyncapi_document(tmp_path):
    written = export(tmp_path)
    assert len(written) == len(registered_events()) + 1
    assert (tmp_path / "asyncapi.json").exists()
    for path in written:
        json.loads(path.read_text())
