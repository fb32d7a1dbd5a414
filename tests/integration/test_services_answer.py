"""Each service starts through its own app, connects, projects its stream and answers over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import evidence.app
import notifications.app
import pathways.app
from eventlog.event_store import EventStore
from shared_events import Envelope, Timeline
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef
from shared_events.events.notifications import NotificationQueued
from shared_events.events.pathways import CompetencyDefinition, FrameworkImported

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def mastery() -> tuple[Timeline, Envelope]:
    event = MasteryDecided(
        learner_id="lrn-1",
        competency_id="math.frac.1",
        policy=PolicyRef(policy_id="district-default", method="latest", version=1),
        evidence=(EvidenceUsed(evidence_id="ev-1", score=0.92, observed_at=NOW),),
        previous_level=None,
        new_level="mastered",
        previous_score=None,
        new_score=0.92,
        mastered=True,
    )
    envelope = Envelope.wrap(event, source="evidence", subject="lrn-1", district="d1")
    return Timeline("evidence", "d1", "lrn-1"), envelope


def framework() -> tuple[Timeline, Envelope]:
    event = FrameworkImported(
        framework_id="fw-math",
        version=1,
        title="Grade 5 Mathematics",
        competencies=(
            CompetencyDefinition(competency_id="c1", statement="Add fractions"),
            CompetencyDefinition(competency_id="c2", statement="Multiply fractions"),
        ),
        content_hash="0" * 64,
    )
    envelope = Envelope.wrap(event, source="pathways", subject="fw-math", district="d1")
    return Timeline("frameworks", "d1", "fw-math"), envelope


def queued() -> tuple[Timeline, Envelope]:
    event = NotificationQueued(
        notification_id="n-1",
        learner_id="lrn-1",
        cause_event_id="evt-9",
        recipient_id="grd-4",
        recipient_role="guardian",
        channel="inbox",
        template="mastery_gained",
        locale="es",
    )
    envelope = Envelope.wrap(event, source="notifications", subject="lrn-1", district="d1")
    return Timeline("notifications", "d1", "lrn-1"), envelope


CASES = {
    "evidence": (evidence.app, mastery, "/v1/learners/lrn-1/mastery", "teacher", "t-1"),
    "pathways": (pathways.app, framework, "/v1/frameworks", "learner", "lrn-1"),
    "notifications": (notifications.app, queued, "/v1/inbox", "guardian", "grd-4"),
}


@pytest.mark.parametrize("service", sorted(CASES))
async def test_the_service_projects_its_stream_and_answers(
    service, js, ledger_settings, running_app, bearer, until
):
    module, make_event, path, role, subject = CASES[service]
    settings = ledger_settings(service)
    headers = bearer(settings, role, sub=subject, district="d1")
    async with running_app(module.create_app(settings)) as client:
        timeline, envelope = make_event()
        await EventStore(js).append(timeline, [envelope])

        async def listed():
            response = await client.get(path, headers=headers)
            assert response.status_code == 200, response.text
            return response.json()

        [item] = await until(listed)
        assert (await client.get("/readyz")).json()["ready"] is True
        assert (await client.get(path)).status_code == 401
        wrong_role = bearer(settings, "partner", sub="acme")
        assert (await client.get(path, headers=wrong_role)).status_code == 403

    expected = {
        "evidence": {"competency_id": "math.frac.1", "level": "mastered", "mastered": True},
        "pathways": {"framework_id": "fw-math", "version": 1, "competency_count": 2},
        "notifications": {"notification_id": "n-1", "template": "mastery_gained", "locale": "es"},
    }[service]
    assert {k: item[k] for k in expected} == expected


async def test_an_operator_rebuilds_a_read_model_from_the_log(
    js, ledger_settings, running_app, bearer, until
):
    settings = ledger_settings("evidence")
    admin = bearer(settings, "district_admin", sub="per-admin", district="d1")
    teacher = bearer(settings, "teacher", sub="t-1", district="d1")
    async with running_app(evidence.app.create_app(settings)) as client:
        timeline, envelope = mastery()
        await EventStore(js).append(timeline, [envelope])

        async def listed():
            return (await client.get("/v1/learners/lrn-1/mastery", headers=teacher)).json()

        before = await until(listed)
        models = await client.get("/v1/operations/projections", headers=admin)
        assert "evidence-mastery" in {m["name"] for m in models.json()}
        assert (await client.get("/v1/operations/projections", headers=teacher)).status_code == 403

        rebuilt = await client.post(
            "/v1/operations/projections/evidence-mastery/rebuild", headers=admin
        )
        assert rebuilt.status_code == 202
        assert await until(listed) == before
        unknown = await client.post("/v1/operations/projections/nope/rebuild", headers=admin)
        assert unknown.status_code == 404
        assert (await client.get("/v1/operations/parked", headers=admin)).json() == []
