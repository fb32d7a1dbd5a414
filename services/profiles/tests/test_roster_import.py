"""Roster import through the profiles service, against real NATS and a real database."""

from __future__ import annotations

from collections import Counter

import pytest

import profiles.api.rosters
from profiles.app import create_app

from .profiles_fixtures import DISTRICT, zipped
from .roster_builder import build_bundle

pytestmark = pytest.mark.integration


async def event_types(js) -> Counter:
    info = await js.stream_info("PROFILES")
    types: Counter = Counter()
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        if info.state.messages == 0:
            break
        msg = await js.get_msg("PROFILES", seq)
        types[msg.headers["Ledger-Event-Type"].split(".")[1]] += 1
    return types


@pytest.fixture
def settings(ledger_settings):
    return ledger_settings("profiles")


@pytest.fixture
def admin(settings, bearer):
    return bearer(settings, "district_admin", sub="per-admin", district=DISTRICT)


async def test_import_then_reimport_then_a_changed_bundle_appends_only_differences(
    js, settings, admin, running_app
):
    first = build_bundle(schools=3, students_per_school=20, teachers_per_school=2, seed=7)
    async with running_app(create_app(settings)) as client:
        response = await client.post("/v1/rosters", content=zipped(first), headers=admin)
        assert response.status_code == 200, response.text
        imported = response.json()
        after_first = await event_types(js)
        assert after_first["learner_registered"] == 60
        assert after_first["staff_registered"] == 6
        assert after_first["guardian_registered"] >= 60
        assert after_first["class_listed"] == 6
        assert imported["appended"] == sum(after_first.values())

        again = await client.post("/v1/rosters", content=zipped(first), headers=admin)
        assert again.status_code == 200
        assert again.json() == {**imported, "changes": {}, "appended": 0}
        assert await event_types(js) == after_first

        students = sorted(u for u in _students(first))
        changed = build_bundle(
            schools=3,
            students_per_school=20,
            teachers_per_school=2,
            seed=7,
            withdraw=students[:2],
            add_students=3,
        )
        response = await client.post("/v1/rosters", content=zipped(changed), headers=admin)
        assert response.status_code == 200, response.text
        delta = await event_types(js) - after_first
        assert delta["learner_registered"] == 3
        assert delta["class_withdrawn"] >= 2
        assert delta["class_enrolled"] >= 3
        assert delta["staff_registered"] == 0
        assert delta["class_listed"] == 0
        assert response.json()["appended"] == sum(delta.values())


def _students(files):
    from profiles.roster.reader import read_bundle

    return [u.sourced_id for u in read_bundle(files).students.values()]


async def test_the_shared_oneroster_zips_import(js, settings, admin, running_app, shared_fixtures):
    zips = sorted((shared_fixtures / "oneroster").rglob("*.zip"))
    assert zips
    async with running_app(create_app(settings)) as client:
        for path in zips:
            response = await client.post("/v1/rosters", content=path.read_bytes(), headers=admin)
            assert response.status_code == 200, (path.name, response.text)
    assert (await event_types(js))["learner_registered"] >= 1


async def test_a_malformed_roster_is_refused_whole_with_file_line_and_rule(
    js, settings, admin, running_app
):
    files = dict(build_bundle(schools=1, students_per_school=5, teachers_per_school=1, seed=3))
    lines = files["enrollments.csv"].decode().splitlines()
    header = lines[0].split(",")
    row = lines[1].split(",")
    row[header.index("userSourcedId")] = "usr-nobody"
    lines[1] = ",".join(row)
    files["enrollments.csv"] = ("\n".join(lines) + "\n").encode()
    files["users.csv"] = files["users.csv"].replace(b",student,", b",pupil,", 1)

    async with running_app(create_app(settings)) as client:
        response = await client.post("/v1/rosters", content=zipped(files), headers=admin)

    assert response.status_code == 422
    problems = response.json()["detail"]
    assert {p["file"] for p in problems} >= {"enrollments.csv", "users.csv"}
    enrollment = next(p for p in problems if p["file"] == "enrollments.csv")
    assert enrollment["line"] == 2
    assert "usr-nobody" in enrollment["rule"] or "unknown" in enrollment["rule"]
    assert (await js.stream_info("PROFILES")).state.messages == 0


async def test_an_oversized_upload_gets_413(js, settings, admin, running_app, monkeypatch):
    monkeypatch.setattr(profiles.api.rosters, "MAX_UPLOAD_BYTES", 1024)
    async with running_app(create_app(settings)) as client:
        response = await client.post("/v1/rosters", content=b"x" * 5000, headers=admin)
    assert response.status_code == 413


async def test_unknown_fields_in_a_json_body_get_422_naming_the_field(
    js, settings, admin, running_app
):
    async with running_app(create_app(settings)) as client:
        response = await client.post(
            "/v1/learners",
            json={"sis_id": "s1", "given_name": "Ana", "family_name": "Ruiz", "nickname": "A"},
            headers=admin,
        )
    assert response.status_code == 422
    assert "nickname" in response.text


async def test_a_single_learner_registers_once_over_http(js, settings, admin, running_app):
    body = {"sis_id": "s-100", "given_name": "Ana", "family_name": "Ruiz", "grade_levels": ["04"]}
    async with running_app(create_app(settings)) as client:
        created = await client.post("/v1/learners", json=body, headers=admin)
        assert created.status_code == 201
        same = await client.post("/v1/learners", json=body, headers=admin)
        assert same.status_code == 200
        assert same.json() == created.json()
        other = await client.post(
            "/v1/learners", json={**body, "family_name": "Other"}, headers=admin
        )
        assert other.status_code == 409
        assert "sis_id" in other.json()["detail"]
    assert created.json()["learner_id"].startswith("lrn-")
    assert (await js.stream_info("PROFILES")).state.messages == 1
