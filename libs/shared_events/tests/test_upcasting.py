import json

import pytest

from shared_events import decode, encode
from shared_events.codec import UndecodableEvent
from shared_events.events.profiles import LearnerRegistered
from shared_events.upcasting import UnknownSchemaVersion, upcast

V1_BODY = {
    "specversion": "1.0",
    "id": "2f0c3a2e-0000-4000-8000-000000000001",
    "type": "profiles.learner_registered",
    "source": "profiles",
    "time": "2026-09-01T08:00:00Z",
    "subject": "lrn-1",
    "district": "d1",
    "dataschema": "urn:learner-ledger:event:profiles.learner_registered:1",
    "schemaversion": 1,
    "data": {
        "learner_id": "lrn-1",
        "school_id": "sch-1",
        "grade_level": "09",
        "identity": {"key_id": "k1", "nonce": "bg", "ciphertext": "Yw"},
    },
}


def test_a_stored_v1_learner_registered_reads_as_the_current_version():
    envelope = decode(json.dumps(V1_BODY).encode())
    assert envelope.schemaversion == LearnerRegistered.schema_version == 2
    assert isinstance(envelope.data, LearnerRegistered)
    assert envelope.data.grade_levels == ("09",)
    assert envelope.dataschema.endswith(":2")


def test_a_v1_without_a_grade_reads_as_no_grades():
    body = json.loads(json.dumps(V1_BODY))
    del body["data"]["grade_level"]
    assert decode(json.dumps(body).encode()).data.grade_levels == ()


def test_current_events_pass_through_unchanged():
    envelope = decode(json.dumps(V1_BODY).encode())
    body, _ = encode(envelope)
    assert decode(body) == envelope


def test_a_version_newer_than_the_reader_is_refused():
    with pytest.raises(UnknownSchemaVersion, match="newer than this reader"):
        upcast("profiles.learner_registered", 3, {}, current=2)
    body = dict(V1_BODY, schemaversion=7)
    with pytest.raises(UndecodableEvent, match="schemaversion"):
        decode(json.dumps(body).encode())
