"""The evidence service end to end: partner submissions in, evidence and decisions out, with
real NATS and a real database."""

from __future__ import annotations

import asyncio
import json

import pytest

from eventlog import event_store
from eventlog.event_store import EventStore
from evidence.ingest.observation import MAX_SUBMISSION_BYTES
from shared_events import Envelope, Timeline
from shared_events.events.evidence import EvidenceHeld, EvidenceRecorded, MasteryDecided
from shared_events.events.profiles import LearnerErased

from .evidence_world import DISTRICT, FRAC, FRAC_URI, GEO, HOME, native

pytestmark = pytest.mark.integration

DAY, NEXT_DAY = "2026-10-01T09:00:00Z", "2026-10-02T09:00:00Z"


async def test_native_evidence_over_nats_is_recorded_and_decided_with_its_reasons(world):
    learner = await world.register("sis-1")
    await world.publish("native", native("a-1", "sis-1", 0.8, "2026-10-01T09:00:00Z"))

    decisions = await world.until(lambda: world.events(learner, "mastery"))
    [recorded] = await world.events(learner, "recorded")
    [decision] = decisions
    assert isinstance(recorded, EvidenceRecorded)
    assert recorded.score == 0.8
    assert recorded.competency_id == FRAC
    assert recorded.partner == "acme"
    assert isinstance(decision, MasteryDecided)
    assert decision.policy.policy_id == "district-default"
    assert [e.evidence_id for e in decision.evidence] == [recorded.evidence_id]
    assert decision.previous_level is None
    assert decision.new_score == pytest.approx(0.8)


async def test_the_same_evidence_twice_is_recorded_once_and_other_content_is_a_conflict(world):
    learner = await world.register("sis-1")
    body = native("a-1", "sis-1", 0.8, "2026-10-01T09:00:00Z")
    first = await world.client.post("/v1/evidence", json=body, headers=world.partner)
    again = await world.client.post("/v1/evidence", json=body, headers=world.partner)
    assert first.status_code == 200, first.text
    assert first.json()["items"][0]["status"] == "recorded"
    assert again.status_code == 200

    changed = await world.client.post(
        "/v1/evidence", json={**body, "scaled": 0.2}, headers=world.partner
    )
    assert changed.status_code == 409
    assert changed.json()["detail"][0]["field"] == "id"
    assert len(await world.events(learner, "recorded")) == 1
    [rejection] = await world.rejections()
    assert rejection.rule.startswith("conflict")
    assert rejection.ingest_sequence >= 1


@pytest.mark.parametrize(
    ("payload", "status", "field", "word"),
    [
        (b"{not json", 400, "body", "JSON"),
        ({"id": "x", "district": "d1"}, 422, "learner_sis_id", "required"),
        (native("b-1", "sis-1", 1.7, "2026-10-01T09:00:00Z"), 422, "scaled", "outside"),
        (
            native("b-2", "sis-1", 0.5, "2026-10-01T09:00:00Z", competency="art.9"),
            422,
            "competency",
            "unknown",
        ),
        (
            native("b-3", "sis-1", 0.5, "2026-10-01T09:00:00Z", district="d9"),
            422,
            "district",
            "unknown",
        ),
        (native("b-4", "sis-1", 0.5, "2099-01-01T00:00:00Z"), 422, "observed_at", "future"),
        (native("b-5", "sis-1", 0.5, "2026-10-01T09:00:00Z", colour="red"), 422, "colour", "Extra"),
    ],
)
async def test_bad_submissions_get_the_field_and_the_rule(world, payload, status, field, word):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = await world.client.post(
        "/v1/evidence", content=body, headers={**world.partner, "Content-Type": "application/json"}
    )
    assert response.status_code == status, response.text
    [problem] = response.json()["detail"]
    assert field in problem["field"]
    assert word.lower() in problem["rule"].lower()
    [rejection] = await world.rejections()
    assert field in rejection.field


async def test_an_oversized_submission_gets_413(world):
    huge = b"[" + b" " * (1024 * 1024) + b"]"
    response = await world.client.post("/v1/evidence", content=huge, headers=world.partner)
    assert response.status_code == 413


async def test_an_oversized_submission_over_nats_is_rejected_and_the_next_one_flows(world):
    learner = await world.register("sis-1")
    padded = json.dumps(native("big-1", "sis-1", 0.5, DAY)).encode()
    padded = padded[:-1] + b', "pad": "' + b"x" * (MAX_SUBMISSION_BYTES + 1) + b'"}'
    sequence = await world.publish("native", padded)
    await world.publish("native", native("small-1", "sis-1", 0.9, DAY))
    assert await world.until(lambda: world.events(learner, "mastery"))
    [rejection] = await world.rejections()
    assert rejection.field == "body"
    assert rejection.rule.startswith("oversized")
    assert rejection.ingest_sequence == sequence


async def test_evidence_for_an_erased_learner_is_rejected_not_held(world):
    learner = await world.register("sis-1")
    erased = LearnerErased(learner_id=learner, requested_by="per-admin", reason="guardian request")
    envelope = Envelope.wrap(erased, source="profiles", subject=learner, district=DISTRICT)
    await EventStore(world.js).append(Timeline("profiles", DISTRICT, learner), [envelope])
    await world.ctx.reference_caught_up()

    response = await world.client.post(
        "/v1/evidence", json=native("e-1", "sis-1", 0.5, DAY), headers=world.partner
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "learner"
    assert "erased" in response.json()["detail"][0]["rule"]
    assert await world.events(learner) == []


async def test_a_decision_lost_to_a_failure_after_its_evidence_is_made_on_redelivery(
    world, monkeypatch
):
    """The connection fails between appending the evidence and appending its decision: the
    redelivered submission finds the evidence recorded and makes the missing decision."""
    learner = await world.register("sis-1")
    real = EventStore._publish
    failed: list[str] = []

    async def publish(self, stream, timeline, subject, body, headers, expected):
        if subject.endswith(".mastery") and not failed:
            failed.append(subject)
            raise ConnectionError("connection lost")
        return await real(self, stream, timeline, subject, body, headers, expected)

    real_all = event_store.publish_all_acked

    async def publish_all(nc, messages, **kwargs):
        """The connection goes down after the evidence: the decision never leaves."""
        if failed:
            return await real_all(nc, messages, **kwargs)
        landed = await real_all(nc, messages[:1], **kwargs)
        return landed + [ConnectionError("connection lost")] * (len(messages) - 1)

    monkeypatch.setattr(EventStore, "_publish", publish)
    monkeypatch.setattr(event_store, "publish_all_acked", publish_all)
    await world.publish("native", native("m-1", "sis-1", 0.8, DAY))

    [decision] = await world.until(lambda: world.events(learner, "mastery"))
    assert failed
    [recorded] = await world.events(learner, "recorded")
    assert [e.evidence_id for e in decision.evidence] == [recorded.evidence_id]
    await asyncio.sleep(0.5)
    assert len(await world.events(learner, "mastery")) == 1, "decided once, not twice"


async def test_good_evidence_behind_a_bad_one_still_flows(world):
    learner = await world.register("sis-1")
    await world.publish("native", b"garbage")
    await world.publish("native", native("c-1", "sis-1", 0.9, "2026-10-01T09:00:00Z"))
    assert await world.until(lambda: world.events(learner, "mastery"))
    assert len(await world.rejections()) == 1


async def test_evidence_for_an_unknown_learner_is_held_then_decided_on_registration(world):
    learner = world.learner("sis-new")
    await world.publish("native", native("d-1", "sis-new", 0.7, "2026-10-01T09:00:00Z"))
    [held] = await world.until(lambda: world.events(learner, "held"))
    assert isinstance(held, EvidenceHeld)
    assert await world.events(learner, "mastery") == []

    await world.register("sis-new")
    [decision] = await world.until(lambda: world.events(learner, "mastery"))
    [recorded] = await world.events(learner, "recorded")
    assert recorded.evidence_id == held.evidence_id
    assert decision.evidence[0].evidence_id == held.evidence_id


async def test_late_evidence_yields_a_new_decision_over_the_corrected_history(world):
    learner = await world.register("sis-1")
    await world.client.put(
        "/v1/policies/competency/" + FRAC,
        json={"method": "latest", "mastery_threshold": 0.9},
        headers=world.admin,
    )
    for source, score, day in (("e-1", 0.5, 1), ("e-2", 0.95, 3)):
        observed = f"2026-10-0{day}T09:00:00Z"
        response = await world.client.post(
            "/v1/evidence", json=native(source, "sis-1", score, observed), headers=world.partner
        )
        assert response.status_code == 200
    late = native("e-late", "sis-1", 0.3, "2026-10-02T09:00:00Z")
    assert (
        await world.client.post("/v1/evidence", json=late, headers=world.partner)
    ).status_code == 200

    decisions = await world.until(lambda: _at_least(world.events(learner, "mastery"), 3))
    first, second, third = decisions
    assert third.policy.method == "latest"
    assert [e.evidence_id for e in third.evidence][-1] == second.evidence[-1].evidence_id
    assert [e.score for e in third.evidence] == [0.5, 0.3, 0.95]
    assert third.mastered
    assert first.new_score == 0.5


async def _at_least(events_coroutine, n):
    events = await events_coroutine
    return events if len(events) >= n else None


async def test_a_policy_change_applies_from_now_and_is_recorded_in_each_decision(world):
    learner = await world.register("sis-1")
    await world.client.post(
        "/v1/evidence",
        json=native("f-1", "sis-1", 0.6, DAY),
        headers=world.partner,
    )
    set_policy = await world.client.put(
        "/v1/policies/district/d1",
        json={"method": "highest", "mastery_threshold": 0.55},
        headers=world.admin,
    )
    assert set_policy.status_code == 200
    assert set_policy.json()["version"] == 1
    bad = await world.client.put(
        "/v1/policies/district/d1",
        json={"method": "n_mastery", "params": {"n": 0, "mastery_points": 0.8}},
        headers=world.admin,
    )
    assert bad.status_code == 422
    assert "params.n" in bad.text
    await world.ctx.reference_caught_up()
    await world.client.post(
        "/v1/evidence",
        json=native("f-2", "sis-1", 0.4, NEXT_DAY),
        headers=world.partner,
    )
    first, second = await world.until(lambda: _at_least(world.events(learner, "mastery"), 2))
    assert first.policy.policy_id == "district-default"
    assert second.policy.method == "highest"
    assert second.policy.version == 1
    assert second.new_score == 0.6
    assert second.mastered
    assert not first.mastered


async def test_the_xapi_statement_resource(world):
    learner = await world.register("sis-7")
    statement_id = "f1b8ad5e-5a3e-4b0c-9d4e-3a7b6c5d4e3f"
    statement = {
        "actor": {"objectType": "Agent", "account": {"homePage": HOME, "name": "sis-7"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored", "display": {"en-US": "scored"}},
        "object": {"objectType": "Activity", "id": FRAC_URI},
        "result": {"score": {"scaled": 0.92}},
        "timestamp": "2026-10-05T10:00:00Z",
    }
    version = {"X-Experience-API-Version": "2.0.0"}
    about = await world.client.get("/xapi/about")
    assert about.status_code == 200
    assert "2.0.0" in about.json()["version"]
    missing_header = await world.client.put(
        f"/xapi/statements?statementId={statement_id}", json=statement, headers=world.partner
    )
    assert missing_header.status_code == 400
    put = await world.client.put(
        f"/xapi/statements?statementId={statement_id}",
        json=statement,
        headers={**world.partner, **version},
    )
    assert put.status_code == 204, put.text
    again = await world.client.put(
        f"/xapi/statements?statementId={statement_id}",
        json=statement,
        headers={**world.partner, **version},
    )
    assert again.status_code == 204
    conflict = await world.client.put(
        f"/xapi/statements?statementId={statement_id}",
        json={**statement, "result": {"score": {"scaled": 0.1}}},
        headers={**world.partner, **version},
    )
    assert conflict.status_code == 409
    fetched = await world.client.get(
        f"/xapi/statements?statementId={statement_id}", headers={**world.partner, **version}
    )
    assert fetched.status_code == 200
    assert fetched.json()["result"]["score"]["scaled"] == 0.92
    assert fetched.headers["X-Experience-API-Version"].startswith("2.0")
    [recorded] = await world.events(learner, "recorded")
    assert recorded.source_id == statement_id
    assert recorded.competency_id == FRAC

    voiding = {
        "actor": statement["actor"],
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": statement_id},
    }
    voided = await world.client.post(
        "/xapi/statements", json=voiding, headers={**world.partner, **version}
    )
    assert voided.status_code == 200, voided.text
    [void] = await world.events(learner, "voided")
    assert void.evidence_id == recorded.evidence_id
    decisions = await world.events(learner, "mastery")
    assert decisions[-1].evidence == ()
    assert decisions[-1].new_level == "not_started"


async def test_an_unsupported_xapi_version_is_rejected(world):
    response = await world.client.post(
        "/xapi/statements",
        json={"actor": {}, "verb": {}, "object": {}},
        headers={**world.partner, "X-Experience-API-Version": "0.95"},
    )
    assert response.status_code == 400
    assert "X-Experience-API-Version" in response.json()["detail"][0]["field"]


async def test_a_caliper_grade_event_over_http_is_recorded_through_an_alignment(
    world, shared_fixtures
):
    grade = json.loads(
        (shared_fixtures / "caliper" / "v1p2" / "caliperEventGradeGraded.json").read_text()
    )
    assessment = grade["object"]["assignable"]["id"]
    learner = await world.register(grade["object"]["assignee"]["id"])
    aligned = await world.client.put(
        "/v1/alignments", json={"alignments": {assessment: FRAC}}, headers=world.admin
    )
    assert aligned.status_code == 200
    await world.ctx.reference_caught_up()
    envelope = {
        "sensor": "https://example.edu/sensors/1",
        "sendTime": "2026-10-01T10:00:00.000Z",
        "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "data": [grade],
    }
    response = await world.client.post("/caliper", json=envelope, headers=world.partner)
    assert response.status_code == 200, response.text
    [recorded] = await world.events(learner, "recorded")
    assert recorded.source_format == "caliper"
    assert recorded.score == pytest.approx(10 / 15)
    assert recorded.competency_id == FRAC

    wrong_version = {**envelope, "dataVersion": "http://purl.imsglobal.org/ctx/caliper/v9"}
    refused = await world.client.post("/caliper", json=wrong_version, headers=world.partner)
    assert refused.status_code == 400
    assert refused.json()["detail"][0]["field"] == "dataVersion"


@pytest.mark.parametrize("version", ["v1_0_3", "v2_0"])
async def test_conformance_statements_carrying_a_result_are_accepted_and_held(
    world, shared_fixtures, version
):
    """The ADL templates name their actor by mbox, not a district account: valid evidence for
    a learner the district cannot know yet, so it is held, never dropped."""
    folder = shared_fixtures / "xapi" / "adl-conformance" / version
    statement = json.loads((folder / "statements" / "default.json").read_text())
    activity = statement["object"]["id"]
    await world.client.put(
        "/v1/alignments", json={"alignments": {activity: GEO}}, headers=world.admin
    )
    await world.ctx.reference_caught_up()
    headers = {
        **world.partner,
        "X-Experience-API-Version": "2.0.0" if version == "v2_0" else "1.0.3",
    }
    for result_file in sorted((folder / "results").glob("*.json")):
        with_result = {**statement, "result": json.loads(result_file.read_text())}
        response = await world.client.post("/xapi/statements", json=with_result, headers=headers)
        assert response.status_code == 200, (result_file.name, response.text)
    held_for = world.ctx.ids.learner_id("d1", f"ifi:mbox:{statement['actor']['mbox']}")
    held = await world.events(held_for, "held")
    assert held
    assert {h.competency_id for h in held} == {GEO}
    assert await world.rejections() == []


async def test_xapi_statements_are_queried_by_agent_verb_activity_and_time_page_by_page(world):
    await world.register("sis-7")
    await world.register("sis-8")
    version = {"X-Experience-API-Version": "2.0.0"}
    scored, attempted = (f"http://adlnet.gov/expapi/verbs/{v}" for v in ("scored", "attempted"))

    def statement(n: int, sis: str, verb: str) -> dict:
        return {
            "id": f"00000000-0000-4000-8000-{n:012d}",
            "actor": {"objectType": "Agent", "account": {"homePage": HOME, "name": sis}},
            "verb": {"id": verb},
            "object": {"objectType": "Activity", "id": FRAC_URI},
            "result": {"score": {"scaled": 0.5}},
            "timestamp": "2026-10-05T10:00:00Z",
        }

    sent = [
        statement(1, "sis-7", scored),
        statement(2, "sis-7", attempted),
        statement(3, "sis-8", scored),
        statement(4, "sis-7", scored),
    ]
    for one in sent:
        posted = await world.client.post(
            "/xapi/statements", json=one, headers={**world.partner, **version}
        )
        assert posted.status_code == 200, posted.text
    voiding = {
        "actor": sent[3]["actor"],
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": sent[3]["id"]},
    }
    voided = await world.client.post(
        "/xapi/statements", json=voiding, headers={**world.partner, **version}
    )
    assert voided.status_code == 200, voided.text

    async def get(**params):
        response = await world.client.get(
            "/xapi/statements", params=params, headers={**world.partner, **version}
        )
        assert response.status_code == 200, response.text
        return response.json()

    def ids(result):
        return [s["id"] for s in result["statements"]]

    everything = await get()
    voiding_id = voided.json()[0]
    assert ids(everything) == [voiding_id, sent[2]["id"], sent[1]["id"], sent[0]["id"]]
    assert sent[3]["id"] not in ids(everything), "a voided statement is not listed"
    assert everything["statements"][-1]["stored"]
    assert everything["statements"][-1]["authority"]["account"]["name"] == "acme"
    agent = json.dumps(sent[0]["actor"])
    assert ids(await get(agent=agent, verb=scored)) == [sent[0]["id"]]
    by_agent = await get(agent=agent, ascending="true")
    assert ids(by_agent) == [sent[0]["id"], sent[1]["id"], voiding_id]
    assert len(ids(await get(activity=FRAC_URI))) == 3
    assert ids(await get(since="2999-01-01T00:00:00Z")) == []

    first = await get(limit=2, ascending="true")
    assert ids(first) == [sent[0]["id"], sent[1]["id"]]
    assert first["more"]
    rest = await world.client.get(first["more"], headers={**world.partner, **version})
    assert ids(rest.json())[0] == sent[2]["id"]

    gone = await world.client.get(
        "/xapi/statements",
        params={"statementId": sent[3]["id"]},
        headers={**world.partner, **version},
    )
    assert gone.status_code == 404
    kept = await world.client.get(
        "/xapi/statements",
        params={"voidedStatementId": sent[3]["id"]},
        headers={**world.partner, **version},
    )
    assert kept.status_code == 200
    assert kept.json()["id"] == sent[3]["id"]
    bad = await world.client.get(
        "/xapi/statements", params={"since": "yesterday"}, headers={**world.partner, **version}
    )
    assert bad.status_code == 400
    assert "since" in bad.json()["detail"]


async def test_a_failed_bookkeeping_write_is_tried_again(world, monkeypatch):
    """The database refuses the bookkeeping once: the write is tried again, nothing is
    recorded twice, and the partner id is then known for good (a changed resend conflicts)."""
    learner = await world.register("sis-1")
    real = world.ctx.notes.write
    refused: list[int] = []

    async def write_once_refused(session, many):
        if not refused:
            refused.append(len(many))
            raise ConnectionError("database unavailable")
        await real(session, many)

    monkeypatch.setattr(world.ctx.notes, "write", write_once_refused)
    body = native("w-1", "sis-1", 0.8, DAY)
    await world.publish("native", body)
    await world.until(lambda: world.events(learner, "mastery"))
    await world.until(lambda: refused)

    changed = await world.client.post(
        "/v1/evidence", json={**body, "scaled": 0.1}, headers=world.partner
    )
    assert changed.status_code == 409, changed.text
    assert len(await world.events(learner, "recorded")) == 1
    assert len(await world.events(learner, "mastery")) == 1


async def test_a_submission_that_fails_every_delivery_is_parked_with_its_rejection_recorded(
    world, monkeypatch
):
    """The database refuses one submission's run for good: it is retried, delivered again,
    and after its last delivery parked — and rejected with the reason, so its sender has a
    verdict. The submission behind it is decided meanwhile."""
    from sqlalchemy import select

    from eventlog.sql import parked_events, sessions
    from evidence.intake import bookkeeping, process

    learner = await world.register("sis-1")
    other = await world.register("sis-2")
    world.ctx.retry_deadline = 0.3
    real = process.settle

    async def stuck(ctx, known, members):
        if any(m.items and m.items[0].parsed.source_id == "stuck-1" for m in members):
            raise ConnectionError("database unavailable")
        return await real(ctx, known, members)

    monkeypatch.setattr(process, "settle", stuck)
    sequence = await world.publish("native", native("stuck-1", "sis-1", 0.8, DAY))
    await world.publish("native", native("fine-1", "sis-2", 0.6, DAY))

    await world.until(lambda: world.events(other, "mastery"))
    [refused] = await world.until(world.rejections, timeout=60)
    assert refused.ingest_sequence == sequence
    assert "could not be processed" in refused.rule and "database unavailable" in refused.rule

    async def parked_rows():
        # The verdict is recorded first, then the message parked: the row follows shortly.
        async with sessions(world.ctx.service.engine)() as session:
            return (await session.execute(select(parked_events.c.sequence))).scalars().all()

    parked = await world.until(parked_rows, timeout=10)
    async with sessions(world.ctx.service.engine)() as session:
        verdict = await bookkeeping.outcome(session, sequence)  # what an HTTP sender waits on
    assert parked == [sequence]
    assert verdict is not None and verdict["status"] == "rejected"
    assert await world.events(learner) == []
