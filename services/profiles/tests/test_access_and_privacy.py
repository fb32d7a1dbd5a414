"""Access by relationship, disclosures, erasure and derived progress — the whole service, with
real NATS and a real database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from eventlog.event_store import EventStore
from eventlog.sealing import Shredded
from profiles.app import create_app
from shared_events import Envelope, Timeline, decode
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef

from .profiles_fixtures import DISTRICT, people, zipped
from .roster_builder import build_bundle

pytestmark = pytest.mark.integration

FILES = build_bundle(schools=2, students_per_school=6, teachers_per_school=2, seed=11)


@pytest.fixture
async def world(ledger_settings, bearer, running_app):
    """A running profiles service with the roster imported; yields (client, app, who, tokens)."""
    settings = ledger_settings("profiles")
    app = create_app(settings)
    admin = bearer(settings, "district_admin", sub="per-admin", district=DISTRICT)
    async with running_app(app) as client:
        response = await client.post("/v1/rosters", content=zipped(FILES), headers=admin)
        assert response.status_code == 200, response.text
        who = people(FILES, app.state.profiles.ids)

        def token(role: str, sub: str):
            return bearer(settings, role, sub=sub, district=DISTRICT)

        await app.state.profiles.directory_caught_up()
        yield client, app, who, token


def a_student_with_guardian_and_teacher(who):
    for student in who.bundle.students.values():
        classes = who.classes_of(student.sourced_id, "student")
        guardians = who.guardians_of(student.sourced_id)
        if classes and guardians:
            teachers = [
                e.user_id
                for e in who.bundle.enrollments.values()
                if e.class_id == classes[0] and e.role == "teacher"
            ]
            if teachers:
                return student.sourced_id, guardians[0], teachers[0], classes[0]
    raise AssertionError("the bundle has no student with a guardian and a teacher")


async def test_each_role_sees_only_what_its_relationship_allows(world):
    client, _app, who, token = world
    student, guardian, teacher, _class = a_student_with_guardian_and_teacher(who)
    learner_id = who.learner(student)
    path = f"/v1/learners/{learner_id}"

    other_student = next(
        s.sourced_id for s in who.bundle.students.values() if s.sourced_id != student
    )
    other_guardians = [
        g
        for s in who.bundle.students.values()
        for g in who.guardians_of(s.sourced_id)
        if g not in who.guardians_of(student)
    ]
    student_classes = set(who.classes_of(student, "student"))
    other_teachers = [
        t.sourced_id
        for t in who.bundle.teachers.values()
        if not student_classes & set(who.classes_of(t.sourced_id, "teacher"))
    ]
    assert other_guardians
    assert other_teachers

    allowed = {
        "learner self": token("learner", learner_id),
        "linked guardian": token("guardian", who.person(guardian)),
        "their teacher": token("teacher", who.person(teacher)),
        "district admin": token("district_admin", "per-admin"),
        "auditor": token("auditor", "per-auditor"),
    }
    for name, headers in allowed.items():
        response = await client.get(path, headers=headers)
        assert response.status_code == 200, (name, response.text)
        assert response.json()["name"]["given_name"] == who.bundle.users[student].given_name

    refused = {
        "another learner": token("learner", who.learner(other_student)),
        "guardian of another learner": token("guardian", who.person(other_guardians[0])),
        "teacher of another class": token("teacher", who.person(other_teachers[0])),
        "partner": token("partner", "acme"),
    }
    for name, headers in refused.items():
        assert (await client.get(path, headers=headers)).status_code == 403, name

    disclosures = await client.get(f"{path}/disclosures", headers=allowed["learner self"])
    assert disclosures.status_code == 200
    roles = sorted(d["viewer_role"] for d in disclosures.json())
    assert roles == ["auditor", "district_admin", "guardian", "teacher"]
    teacher_read = next(d for d in disclosures.json() if d["viewer_role"] == "teacher")
    assert teacher_read["viewer_id"] == who.person(teacher)
    assert "educational interest" in teacher_read["purpose"]
    by_guardian = await client.get(f"{path}/disclosures", headers=allowed["linked guardian"])
    assert by_guardian.status_code == 200


async def test_a_teacher_lists_their_class_but_not_another(world):
    client, _app, who, token = world
    _student, _guardian, teacher, class_sis = a_student_with_guardian_and_teacher(who)
    mine = await client.get(
        f"/v1/classes/{who.class_id(class_sis)}/learners",
        headers=token("teacher", who.person(teacher)),
    )
    assert mine.status_code == 200
    expected = {
        who.learner(e.user_id)
        for e in who.bundle.enrollments.values()
        if e.class_id == class_sis and e.role == "student"
    }
    assert {m["learner_id"] for m in mine.json()} == expected
    others = [c for c in who.bundle.classes if c not in who.classes_of(teacher, "teacher")]
    theirs = await client.get(
        f"/v1/classes/{who.class_id(others[0])}/learners",
        headers=token("teacher", who.person(teacher)),
    )
    assert theirs.status_code == 403


async def test_profile_changes_follow_the_role_rules(world, until):
    client, _app, who, token = world
    student, guardian, teacher, _ = a_student_with_guardian_and_teacher(who)
    learner_id = who.learner(student)
    path = f"/v1/learners/{learner_id}/profile"
    own = token("learner", learner_id)
    assert (
        await client.patch(
            path, json={"interests": ["robots"], "aspirations": "engineer"}, headers=own
        )
    ).status_code == 200
    refused = await client.patch(path, json={"learning_needs": "extra time"}, headers=own)
    assert refused.status_code == 403
    assert "learning_needs" in refused.json()["detail"]
    by_teacher = await client.patch(
        path,
        json={"learning_needs": "extra time", "supports": ["audio"]},
        headers=token("teacher", who.person(teacher)),
    )
    assert by_teacher.status_code == 200
    bad = await client.patch(path, json={"favourite_colour": "red"}, headers=own)
    assert bad.status_code == 422
    assert "favourite_colour" in bad.text
    goal = await client.post(
        f"/v1/learners/{learner_id}/goals",
        json={
            "target_competencies": ["c1"],
            "target_date": "2027-06-01",
            "description": "fractions",
        },
        headers=token("guardian", who.person(guardian)),
    )
    assert goal.status_code == 201

    async def profile():
        response = await client.get(f"/v1/learners/{learner_id}", headers=own)
        body = response.json()
        return body if body["goals"] and body["learning_needs"] else None

    body = await until(profile)
    assert body["interests"] == ["robots"]
    assert body["aspirations"] == "engineer"
    assert body["supports"] == ["audio"]
    assert body["goals"][0]["description"] == "fractions"


def mastery(learner_id: str, competency: str, score: float, mastered: bool, n: int) -> Envelope:
    now = datetime.now(UTC)
    event = MasteryDecided(
        learner_id=learner_id,
        competency_id=competency,
        policy=PolicyRef(policy_id="default", method="latest", version=1),
        evidence=tuple(
            EvidenceUsed(evidence_id=f"ev-{competency}-{i}", score=score, observed_at=now)
            for i in range(n)
        ),
        previous_level=None,
        new_level="mastered" if mastered else "familiar",
        previous_score=None,
        new_score=score,
        mastered=mastered,
    )
    return Envelope.wrap(event, source="evidence", subject=learner_id, district=DISTRICT)


async def test_skills_gaps_strengths_and_goal_status_follow_mastery_decisions(world, js, until):
    client, _app, who, token = world
    student, *_ = a_student_with_guardian_and_teacher(who)
    learner_id = who.learner(student)
    own = token("learner", learner_id)
    soon = (date.today() + timedelta(days=60)).isoformat()
    await client.post(
        f"/v1/learners/{learner_id}/goals",
        json={"target_competencies": ["frac.1", "frac.2"], "target_date": soon},
        headers=own,
    )
    store = EventStore(js)
    timeline = Timeline("evidence", DISTRICT, learner_id)
    await store.append(timeline, [mastery(learner_id, "frac.1", 0.96, True, 2)])
    await store.append(timeline, [mastery(learner_id, "frac.2", 0.55, False, 3)])
    await store.append(timeline, [mastery(learner_id, "geo.1", 0.97, True, 6)])

    async def derived():
        body = (await client.get(f"/v1/learners/{learner_id}", headers=own)).json()
        return body if len(body["skills"]) == 2 and body["goals"] else None

    body = await until(derived)
    assert body["skills"] == ["frac.1", "geo.1"]
    assert body["gaps"] == ["frac.2"]
    assert body["strengths"][0] == "frac.1"
    assert body["goals"][0]["status"] == "on_track"

    await store.append(timeline, [mastery(learner_id, "frac.2", 0.98, True, 4)])

    async def achieved():
        body = (await client.get(f"/v1/learners/{learner_id}", headers=own)).json()
        return body if body["goals"][0]["status"] == "achieved" else None

    assert (await until(achieved))["gaps"] == []


async def test_erasure_shreds_pii_in_the_log_and_survives_rebuilds(world, js, until):
    client, app, who, token = world
    student, *_ = a_student_with_guardian_and_teacher(who)
    learner_id = who.learner(student)
    user = who.bundle.users[student]
    own = token("learner", learner_id)
    await client.patch(
        f"/v1/learners/{learner_id}/profile",
        json={"aspirations": "astronaut Zephyrine"},
        headers=own,
    )
    admin = token("district_admin", "per-admin")
    assert (
        await client.post(
            f"/v1/learners/{learner_id}/erasure",
            json={"reason": "parent request"},
            headers=token("teacher", "per-x"),
        )
    ).status_code == 403
    erased = await client.post(
        f"/v1/learners/{learner_id}/erasure", json={"reason": "parent request"}, headers=admin
    )
    assert erased.status_code == 202

    ctx = app.state.profiles
    events = await EventStore(js).read(Timeline("profiles", DISTRICT, learner_id))
    clear = [
        v.encode()
        for v in (user.given_name, user.family_name, user.email, user.sourced_id, "Zephyrine")
        if v
    ]
    sealed_values = []
    for event in events:
        for value in clear:
            assert value not in event.body, "clear personal data in the log"
        data = decode(event.body).data
        sealed_values += [
            getattr(data, f) for f in ("identity", "aspirations") if getattr(data, f, None)
        ]
    assert len(sealed_values) >= 2
    for sealed in sealed_values:
        with pytest.raises(Shredded):
            await ctx.sealer.open(sealed)

    async def shows_erased():
        body = (await client.get(f"/v1/learners/{learner_id}", headers=admin)).json()
        return body if body["status"] == "erased" else None

    body = await until(shows_erased)
    assert body["name"] is None
    assert body["aspirations"] is None

    for projector in ctx.service.projectors:
        await projector.rebuild()
    await ctx.directory_caught_up()
    body = (await client.get(f"/v1/learners/{learner_id}", headers=admin)).json()
    assert body["status"] == "erased"
    assert body["name"] is None
    assert body["sis_id"] is None
    patch = await client.patch(
        f"/v1/learners/{learner_id}/profile", json={"interests": ["x"]}, headers=admin
    )
    assert patch.status_code == 409


async def test_staff_find_a_learner_by_sis_id_and_the_lookup_is_disclosed(world, until):
    client, _app, who, token = world
    student, *_ = a_student_with_guardian_and_teacher(who)
    admin = token("district_admin", "per-admin")
    found = await client.get("/v1/learners", params={"sis_id": student}, headers=admin)
    assert found.status_code == 200
    assert found.json()["learner_id"] == who.learner(student)
    assert found.json()["sis_id"] == student

    unknown = await client.get("/v1/learners", params={"sis_id": "no-such-id"}, headers=admin)
    assert unknown.status_code == 404
    by_learner = await client.get(
        "/v1/learners", params={"sis_id": student}, headers=token("learner", who.learner(student))
    )
    assert by_learner.status_code == 403

    async def disclosed():
        listed = await client.get(f"/v1/learners/{who.learner(student)}/disclosures", headers=admin)
        return [d for d in listed.json() if d["viewer_id"] == "per-admin"]

    assert await until(disclosed)
