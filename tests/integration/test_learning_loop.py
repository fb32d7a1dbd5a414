"""The loop the product exists for, across three services on one NATS server: a learner's goal
becomes a pathway; a partner's evidence becomes mastery decisions; a learner stuck on a
competency gets an intervention that their profile shows; mastery unlocks what follows and
resolves the intervention everywhere."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

import evidence.app
import pathways.app
import profiles.app
from profiles.projections.progress import interventions as profile_interventions

from .case_package import FIRST, SECOND, package

pytestmark = pytest.mark.integration

D = "d1"


async def test_goal_evidence_intervention_and_mastery_flow_through_the_services(
    ledger_settings, running_app, bearer, until
):
    apps = {
        "profiles": profiles.app.create_app(ledger_settings("profiles")),
        "evidence": evidence.app.create_app(ledger_settings("evidence")),
        "pathways": pathways.app.create_app(ledger_settings("pathways")),
    }
    settings = ledger_settings("profiles")
    admin = bearer(settings, "district_admin", sub="adm-1", district=D)
    partner = bearer(settings, "partner", sub="acme", partner="acme")
    async with (
        running_app(apps["profiles"]) as people,
        running_app(apps["evidence"]) as evidence_api,
        running_app(apps["pathways"]) as paths,
    ):
        registered = await people.post(
            "/v1/learners",
            json={"sis_id": "sis-7", "given_name": "Ada", "family_name": "Byron"},
            headers=admin,
        )
        assert registered.status_code == 201, registered.text
        learner = registered.json()["learner_id"]
        imported = await paths.post(
            "/v1/frameworks", content=json.dumps(package()).encode(), headers=admin
        )
        assert imported.status_code == 200, imported.text
        for path, body in (
            ("/v1/ingest", {"partners": ["acme"]}),
            (f"/v1/policies/district/{D}", {"method": "latest"}),
        ):
            response = await evidence_api.put(path, json=body, headers=admin)
            assert response.status_code == 200, response.text
        await apps["evidence"].state.evidence.reference_caught_up()

        goal = await people.post(
            f"/v1/learners/{learner}/goals",
            json={
                "target_competencies": [SECOND],
                "target_date": (date.today() + timedelta(days=90)).isoformat(),
            },
            headers=admin,
        )
        assert goal.status_code == 201, goal.text

        async def pathway_view() -> dict:
            await apps["pathways"].state.service.projector("pathways-progress").wait_caught_up()
            response = await paths.get(f"/v1/learners/{learner}/pathways", headers=admin)
            assert response.status_code == 200, response.text
            return response.json()

        view = await until(lambda: _first_pathway(pathway_view))
        assert view["pathways"][0]["goal_id"] == goal.json()["goal_id"]
        assert view["pathways"][0]["next_steps"] == [FIRST]

        async def submit(n: int, score: float) -> None:
            response = await evidence_api.post(
                "/v1/evidence",
                json={
                    "id": f"quiz-{n}",
                    "district": D,
                    "learner_sis_id": "sis-7",
                    "competency": "M.1",  # the code; the evidence service resolves it
                    "scaled": score,
                    "observed_at": f"2026-11-0{n}T09:00:00Z",
                },
                headers=partner,
            )
            assert response.status_code == 200, response.text
            assert response.json()["items"][0]["status"] == "recorded"

        for n, score in enumerate([0.2, 0.3, 0.25], start=1):
            await submit(n, score)

        async def with_intervention():
            view = await pathway_view()
            return view if view["open_interventions"] else None

        view = await until(with_intervention)
        [raised] = view["open_interventions"]
        assert (raised["competency_id"], raised["tier"]) == (FIRST, 1)
        assert len(raised["evidence_ids"]) == 3

        async def profile() -> dict:
            response = await people.get(f"/v1/learners/{learner}", headers=admin)
            assert response.status_code == 200, response.text
            return response.json()

        assert FIRST in (await until(lambda: _when(profile, lambda p: FIRST in p["gaps"])))["gaps"]

        await submit(4, 0.97)

        async def advanced():
            view = await pathway_view()
            states = {c["competency_id"]: c["state"] for c in view["pathways"][0]["competencies"]}
            return view if states[FIRST] == "mastered" and not view["open_interventions"] else None

        view = await until(advanced)
        assert view["pathways"][0]["next_steps"] == [SECOND]
        # The profiles service takes the same decision in on its own, not in step with pathways.
        assert (
            FIRST in (await until(lambda: _when(profile, lambda p: FIRST in p["skills"])))["skills"]
        )

        async def closed_in_profiles() -> bool:
            async with apps["profiles"].state.service.sessions()() as session:
                rows = await session.execute(
                    select(profile_interventions.c.open).where(
                        profile_interventions.c.intervention_id == raised["intervention_id"]
                    )
                )
                return [r[0] for r in rows] == [False]

        assert await until(closed_in_profiles)


async def _first_pathway(read) -> dict | None:
    view = await read()
    return view if view["pathways"] else None


async def _when(read, holds):
    value = await read()
    return value if holds(value) else None
