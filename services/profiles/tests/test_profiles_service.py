"""The profiles service end to end: real NATS, real database, its own HTTP app."""

from __future__ import annotations

import pytest

from eventlog.event_store import NO_EVENTS, EventStore
from profiles.app import create_app
from shared_events import Envelope, Timeline
from shared_events.events.profiles import LearnerRegistered
from shared_events.pii import Sealed

pytestmark = pytest.mark.integration


def registration(learner: str) -> Envelope:
    event = LearnerRegistered(
        learner_id=learner,
        school_id="school-1",
        grade_levels=("07",),
        identity=Sealed(key_id="k", nonce="bm9uY2U", ciphertext="c2VhbGVk"),
    )
    return Envelope.wrap(event, source="profiles", subject=learner, district="d1")


async def test_a_registered_learner_is_readable_by_staff_of_the_district(
    js, ledger_settings, running_app, bearer, until
):
    settings = ledger_settings("profiles")
    app = create_app(settings)
    teacher = bearer(settings, "teacher", sub="t-1", district="d1")
    async with running_app(app) as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        await EventStore(js).append(
            Timeline("profiles", "d1", "lrn-7"), [registration("lrn-7")], NO_EVENTS
        )

        async def visible():
            response = await client.get("/v1/learners/lrn-7", headers=teacher)
            return response.status_code == 200 and response.json()

        learner = await until(visible)
        assert learner == {
            "learner_id": "lrn-7",
            "district": "d1",
            "school_id": "school-1",
            "grade_levels": ["07"],
            "status": "active",
        }
        assert (await client.get("/readyz")).status_code == 200
        other_district = bearer(settings, "teacher", sub="t-2", district="d2")
        assert (await client.get("/v1/learners/lrn-7", headers=other_district)).status_code == 404


async def test_no_token_is_401_and_the_wrong_role_is_403(js, ledger_settings, running_app, bearer):
    settings = ledger_settings("profiles")
    async with running_app(create_app(settings)) as client:
        anonymous = await client.get("/v1/learners/lrn-1")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")

        forged = await client.get(
            "/v1/learners/lrn-1", headers={"Authorization": "Bearer not.a.token"}
        )
        assert forged.status_code == 401

        partner = bearer(settings, "partner", sub="acme")
        assert (await client.get("/v1/learners/lrn-1", headers=partner)).status_code == 403
