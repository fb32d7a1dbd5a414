import json

import pytest
from pydantic import ValidationError

from shared_events import Envelope, decode, encode, registered_events
from shared_events.codec import MSG_ID, UndecodableEvent
from shared_events.envelope import derived_event_id
from shared_events.events.profiles import LearnerErased, LearnerRegistered
from shared_events.pii import Sealed

SEALED = Sealed(key_id="k1", nonce="bm9uY2U", ciphertext="Y2lwaGVy")


def registered(**kw) -> Envelope:
    event = LearnerRegistered(learner_id="lrn-1", grade_levels=("09",), identity=SEALED)
    return Envelope.wrap(event, source="profiles", subject="lrn-1", district="d1", **kw)


def test_the_codec_round_trips_and_uses_the_event_id_as_msg_id():
    envelope = registered(causationid="cmd-1")
    body, headers = encode(envelope, {"traceparent": "00-abc-def-01", "x-other": "dropped"})
    assert headers[MSG_ID] == envelope.id
    assert headers["traceparent"] == "00-abc-def-01"
    assert "x-other" not in headers
    assert decode(body) == envelope
    assert json.loads(body)["correlationid"] == "cmd-1"


def test_events_are_frozen_and_refuse_unknown_fields():
    event = LearnerErased(learner_id="l", requested_by="admin-1", reason="request")
    with pytest.raises(ValidationError):
        event.reason = "other"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        LearnerErased(learner_id="l", requested_by="a", reason="r", name="Jane")  # type: ignore[call-arg]


def test_undecodable_bytes_name_the_field_and_the_rule():
    with pytest.raises(UndecodableEvent, match="body: not JSON"):
        decode(b"\xff\xfe")
    body, _ = encode(registered())
    raw = json.loads(body)
    raw["type"] = "profiles.learner_renamed"
    with pytest.raises(UndecodableEvent, match="type: unknown event type"):
        decode(json.dumps(raw).encode())
    raw = json.loads(body)
    raw["data"]["grade_levels"] = 9
    with pytest.raises(UndecodableEvent, match="grade_levels"):
        decode(json.dumps(raw).encode())


def test_derived_ids_are_stable_per_cause_and_index():
    assert derived_event_id("cmd-1", 0) == derived_event_id("cmd-1", 0)
    assert derived_event_id("cmd-1", 0) != derived_event_id("cmd-1", 1)
    assert derived_event_id("cmd-1") != derived_event_id("cmd-2")


def test_every_event_declares_type_kind_and_version_once():
    events = registered_events()
    assert len(events) >= 17
    for event_type, cls in events.items():
        assert event_type.split(".")[0] in {"profiles", "evidence", "pathways", "notifications"}
        assert cls.kind and cls.schema_version >= 1
        assert cls.model_config.get("frozen") is True
        assert cls.model_config.get("extra") == "forbid"


def test_derived_event_ids_are_uuid5_of_the_cause_and_index() -> None:
    import uuid

    from shared_events.envelope import _ID_NAMESPACE, derived_event_id

    for cause in ("ingest/1/0", "release/é", "x" * 300, ""):
        for index in (0, 1, 17):
            expected = str(uuid.uuid5(_ID_NAMESPACE, f"{cause}/{index}"))
            assert derived_event_id(cause, index) == expected
