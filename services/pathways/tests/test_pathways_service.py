"""The pathways service against a real NATS server and database: a CASE framework imported over
HTTP, a learner's path through it driven only by MasteryDecided events published into EVIDENCE,
overrides, goals, pace, interventions, a re-import that leaves running pathways on their
version, and the refusals."""

from __future__ import annotations

import asyncio
import copy
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from eventlog.event_store import EventStore
from eventlog.hashchain import verify_chain
from pathways.app import create_app
from pathways.handlers import sweep_pace
from shared_events import Envelope, Timeline
from shared_events.events.pathways import (
    CompetencyUnlocked,
    GoalAtRisk,
    InterventionRecommended,
    InterventionResolved,
    PathwayAdvanced,
    PathwayAssigned,
)
from shared_events.events.profiles import ClassEnrolled, GoalSet

from .pathways_world import sequential_run, store_decision

pytestmark = pytest.mark.integration

D = "d1"
SAMPLE = "case/samples/docs/opensalt-framework-20c5134f-423d-4097-a971-3dd5152bf507.json"
FRAMEWORK_ID = "20c5134f-423d-4097-a971-3dd5152bf507"


class District:
    """The service running, a district admin, and ways to publish what other services would."""

    def __init__(self, client, app, js, settings, bearer, until, package) -> None:
        self.client, self.app, self.js, self.until = client, app, js, until
        self.store = EventStore(js)
        self.admin = bearer(settings, "district_admin", sub="adm-1", district=D)
        self.other_admin = bearer(settings, "district_admin", sub="adm-9", district="d2")
        self.teacher = bearer(settings, "teacher", sub="tch-1", district=D)
        self.learner_token = bearer(settings, "learner", sub="lrn-1", district=D)
        self.package = package
        items = {i["humanCodingScheme"]: i["identifier"] for i in package["CFItems"]}
        self.ids = {code.removeprefix("CCSS.Math.Content."): uid for code, uid in items.items()}
        self.decisions = 0

    @property
    def ctx(self):
        return self.app.state.pathways

    async def import_framework(self, package=None):
        body = json.dumps(package or self.package).encode()
        return await self.client.post("/v1/frameworks", content=body, headers=self.admin)

    async def decide(self, learner: str, code: str, scores: list[float], mastered: bool) -> str:
        """A MasteryDecided as the evidence service would store it."""
        self.decisions += 1
        at = datetime.now(UTC) + timedelta(seconds=self.decisions)
        return await store_decision(
            self.store, learner, self.ids.get(code, code), scores, mastered, self.decisions, at
        )

    async def profile_event(self, person: str, event) -> None:
        envelope = Envelope.wrap(event, source="profiles", subject=person, district=D)
        await self.store.append(Timeline("profiles", D, person), [envelope])

    async def log(self, learner: str) -> list:
        return [e.envelope.data for e in await self.store.read(Timeline("pathways", D, learner))]

    async def settled(self, learner: str, check) -> list:
        """The learner's log once `check(log)` holds."""

        async def ready():
            events = await self.log(learner)
            return events if check(events) else None

        return await self.until(ready)

    async def view(self, learner: str, headers=None) -> dict:
        await self.app.state.service.projector("pathways-progress").wait_caught_up()
        response = await self.client.get(
            f"/v1/learners/{learner}/pathways", headers=headers or self.admin
        )
        assert response.status_code == 200, response.text
        return response.json()

    def code_of(self, competency_id: str) -> str:
        return next(c for c, i in self.ids.items() if i == competency_id)


@pytest.fixture
async def district(js, ledger_settings, running_app, bearer, until, shared_fixtures):
    settings = ledger_settings("pathways")
    package = json.loads((shared_fixtures / SAMPLE).read_text())
    app = create_app(settings)
    async with running_app(app) as client:
        yield District(client, app, js, settings, bearer, until, package)


def unlocked(events) -> list[str]:
    return [e.competency_id for e in events if isinstance(e, CompetencyUnlocked)]


async def test_a_path_through_the_sample_framework_is_driven_by_mastery_decisions(district):
    imported = await district.import_framework()
    assert imported.status_code == 200, imported.text
    body = imported.json()
    assert (body["framework_id"], body["version"], body["changed"]) == (FRAMEWORK_ID, 1, True)
    assert body["warnings"], "the sample bends the CASE schema; each bend is reported"
    again = (await district.import_framework()).json()
    assert (again["version"], again["changed"]) == (1, False)

    assigned = await district.client.post(
        "/v1/learners/lrn-1/pathways",
        json={"framework_id": FRAMEWORK_ID, "pathway_id": "p1"},
        headers=district.admin,
    )
    assert assigned.status_code == 200, assigned.text
    view = await district.view("lrn-1")
    states = {
        district.code_of(c["competency_id"]): c["state"]
        for c in view["pathways"][0]["competencies"]
    }
    # The sample's `precedes` edges gate the ready set.
    assert states["6.RP.A.1"] == "ready"
    assert states["6.RP.A.2"] == "locked"
    assert states["7.RP.A.1"] == "locked"
    assert states["7.RP.A.3"] == "locked"
    ids = district.ids

    await district.decide("lrn-1", "6.RP.A.1", [0.95], True)
    log = await district.settled("lrn-1", lambda log: unlocked(log))
    assert unlocked(log) == [ids["6.RP.A.2"]]
    await district.decide("lrn-1", "6.RP.A.2", [0.3], False)  # not yet
    await district.decide("lrn-1", "6.RP.A.2", [0.3, 0.96], True)
    log = await district.settled("lrn-1", lambda log: len(unlocked(log)) == 2)
    assert unlocked(log) == [ids["6.RP.A.2"], ids["7.RP.A.1"]]

    # 6.RP.A.3 has four parts: it rolls up when they are all mastered, and unlocks 7.RP.A.3.
    for part in ("3a", "3b", "3c"):
        await district.decide("lrn-1", f"6.RP.A.{part}", [0.9], True)
    log = await district.settled(
        "lrn-1", lambda log: sum(isinstance(e, PathwayAdvanced) for e in log) == 5
    )
    assert ids["7.RP.A.3"] not in unlocked(log)
    await district.decide("lrn-1", "6.RP.A.3d", [0.9], True)
    log = await district.settled("lrn-1", lambda log: ids["7.RP.A.3"] in unlocked(log))
    rolled = [e for e in log if isinstance(e, PathwayAdvanced) and e.how == "rolled_up"]
    # …and with it 6.RP.A, whose three children are now all done.
    assert [e.competency_id for e in rolled] == [ids["6.RP.A"], ids["6.RP.A.3"]]
    advanced = [e.competency_id for e in log if isinstance(e, PathwayAdvanced)]
    assert len(advanced) == len(set(advanced)) == 8
    # Appended on the remembered state with the remembered hash: the chain holds.
    stored = await district.store.read(Timeline("pathways", D, "lrn-1"))
    assert verify_chain((e.sequence, e.body) for e in stored).intact

    view = await district.view("lrn-1", headers=district.learner_token)
    pathway = view["pathways"][0]
    assert pathway["done"] == 8 and pathway["framework_version"] == 1
    states = {district.code_of(c["competency_id"]): c["state"] for c in pathway["competencies"]}
    assert states["6.RP.A.3"] == "rolled_up" and states["7.RP.A.3"] == "ready"
    assert ids["7.RP.A.3"] in pathway["next_steps"]
    assert all(
        states[district.code_of(c)] in ("ready", "in_progress") for c in pathway["next_steps"]
    )
    graph = await district.client.get(
        f"/v1/frameworks/{FRAMEWORK_ID}/graph", headers=district.learner_token
    )
    edges = {(e["from"], e["to"]) for e in graph.json()["edges"] if e["type"] == "precedes"}
    assert (ids["6.RP.A.1"], ids["6.RP.A.2"]) in edges


async def test_a_teacher_waives_for_learners_in_their_class_only(district):
    assert (await district.import_framework()).status_code == 200
    for person, role in (("tch-1", "teacher"), ("lrn-1", "student")):
        await district.profile_event(
            person, ClassEnrolled(person_id=person, class_id="cls-1", role=role)
        )
    await district.app.state.service.projector("pathways-learner-facts").wait_caught_up()
    assign = {"framework_id": FRAMEWORK_ID, "pathway_id": "p1"}
    done = await district.client.post(
        "/v1/learners/lrn-1/pathways", json=assign, headers=district.teacher
    )
    assert done.status_code == 200, done.text
    other = await district.client.post(
        "/v1/learners/lrn-9/pathways", json=assign, headers=district.teacher
    )
    assert other.status_code == 403

    waiver = {"competency_id": district.ids["6.RP.A.1"], "action": "waived", "reason": "transfer"}
    response = await district.client.post(
        "/v1/learners/lrn-1/pathways/p1/overrides", json=waiver, headers=district.teacher
    )
    assert response.status_code == 200, response.text
    assert response.json()["events"][:2] == ["CompetencyOverridden", "PathwayAdvanced"]
    log = await district.log("lrn-1")
    assert unlocked(log) == [district.ids["6.RP.A.2"]]
    outside = {**waiver, "competency_id": "not-in-it"}
    refused = await district.client.post(
        "/v1/learners/lrn-1/pathways/p1/overrides", json=outside, headers=district.teacher
    )
    assert refused.status_code == 422 and "competency_id" in refused.json()["detail"]

    await district.app.state.service.projector("pathways-progress").wait_caught_up()
    classes = await district.client.get("/v1/classes/cls-1/pathways", headers=district.teacher)
    assert classes.status_code == 200, classes.text
    [row] = classes.json()["learners"]
    assert row["learner_id"] == "lrn-1" and district.ids["6.RP.A.2"] in row["ready"]
    assert (
        await district.client.get("/v1/classes/cls-2/pathways", headers=district.teacher)
    ).status_code == 403
    as_admin = await district.client.get("/v1/classes/cls-1/pathways", headers=district.admin)
    assert [r["learner_id"] for r in as_admin.json()["learners"]] == ["lrn-1"]
    other_district = district.other_admin
    elsewhere = await district.client.get("/v1/classes/cls-1/pathways", headers=other_district)
    assert elsewhere.json()["learners"] == []


async def test_a_goal_assigns_a_pathway_that_starts_from_mastery_already_decided(district):
    assert (await district.import_framework()).status_code == 200
    await district.decide("lrn-2", "6.RP.A.1", [0.97], True)  # before any pathway
    goal = GoalSet(
        learner_id="lrn-2",
        goal_id="g1",
        author_id="lrn-2",
        author_role="learner",
        target_competencies=(district.ids["6.RP.A.2"],),
        target_date=date.today() + timedelta(days=60),
    )
    await district.profile_event("lrn-2", goal)
    log = await district.settled("lrn-2", lambda log: unlocked(log))
    assigned = next(e for e in log if isinstance(e, PathwayAssigned))
    assert assigned.pathway_id == "goal-g1" and assigned.goal_id == "g1"
    assert set(assigned.competencies) == {district.ids["6.RP.A.1"], district.ids["6.RP.A.2"]}
    assert unlocked(log) == [district.ids["6.RP.A.2"]]


async def test_stuck_learners_get_interventions_and_slow_pathways_a_goal_at_risk(district):
    assert (await district.import_framework()).status_code == 200
    target = date.today() + timedelta(days=30)
    response = await district.client.post(
        "/v1/learners/lrn-3/pathways",
        json={"framework_id": FRAMEWORK_ID, "pathway_id": "p3", "target_date": target.isoformat()},
        headers=district.admin,
    )
    assert response.status_code == 200, response.text
    for scores in ([0.2], [0.2, 0.3], [0.2, 0.3, 0.25]):
        await district.decide("lrn-3", "6.RP.A.1", scores, False)
    log = await district.settled(
        "lrn-3", lambda log: any(isinstance(e, InterventionRecommended) for e in log)
    )
    [raised] = [e for e in log if isinstance(e, InterventionRecommended)]
    assert (raised.tier, raised.reason, len(raised.evidence_ids)) == (1, "repeated_attempts", 3)
    view = await district.view("lrn-3")
    assert [i["intervention_id"] for i in view["open_interventions"]] == [raised.intervention_id]

    await district.decide("lrn-3", "6.RP.A.1", [0.2, 0.3, 0.25, 0.95], True)
    log = await district.settled(
        "lrn-3", lambda log: any(isinstance(e, InterventionResolved) for e in log)
    )
    assert (await district.view("lrn-3"))["open_interventions"] == []

    # A scripted clock: three weeks on, one of 16 done is far behind the pace.
    await district.app.state.service.projector("pathways-progress").wait_caught_up()
    assert await sweep_pace(district.ctx, date.today() + timedelta(days=21)) >= 1
    log = await district.log("lrn-3")
    [risk] = [e for e in log if isinstance(e, GoalAtRisk)]
    assert risk.pathway_id == "p3" and risk.expected_share == 0.7
    assert await sweep_pace(district.ctx, date.today() + timedelta(days=21)) == 0
    assert (await district.view("lrn-3"))["pathways"][0]["at_risk"] is True


async def test_a_changed_framework_is_a_new_version_and_running_pathways_keep_theirs(district):
    assert (await district.import_framework()).status_code == 200
    response = await district.client.post(
        "/v1/learners/lrn-1/pathways",
        json={"framework_id": FRAMEWORK_ID, "pathway_id": "p1"},
        headers=district.admin,
    )
    assert response.status_code == 200
    changed = copy.deepcopy(district.package)
    item = next(
        i for i in changed["CFItems"] if i["humanCodingScheme"] == "CCSS.Math.Content.7.RP.A.3"
    )
    item["fullStatement"] = "Use proportional relationships (revised)."
    response = await district.import_framework(changed)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["changed"]) == (2, True)
    assert body["changes"]["changed"] == [district.ids["7.RP.A.3"]]

    view = await district.view("lrn-1")
    assert view["pathways"][0]["framework_version"] == 1
    moved = await district.client.post(
        "/v1/learners/lrn-1/pathways/p1/move", json={}, headers=district.admin
    )
    assert moved.status_code == 200, moved.text
    assert (await district.view("lrn-1"))["pathways"][0]["framework_version"] == 2


async def test_bad_frameworks_and_assignments_are_refused_naming_the_problem(district):
    not_case = await district.import_framework({"title": "a list of skills"})
    assert not_case.status_code == 422
    assert any(p["field"] == "CFDocument" for p in not_case.json()["detail"])

    cyclic = copy.deepcopy(district.package)
    first, second = district.ids["6.RP.A.1"], district.ids["6.RP.A.2"]
    back = copy.deepcopy(
        next(a for a in cyclic["CFAssociations"] if a["associationType"] == "precedes")
    )
    back["identifier"] = "5f0e8a3c-0000-4000-8000-000000000001"
    back["originNodeURI"] = {**back["originNodeURI"], "identifier": second}
    back["destinationNodeURI"] = {**back["destinationNodeURI"], "identifier": first}
    cyclic["CFAssociations"].append(back)
    refused = await district.import_framework(cyclic)
    assert refused.status_code == 422
    assert any("cycle" in p["rule"] for p in refused.json()["detail"])
    listed = await district.client.get("/v1/frameworks", headers=district.admin)
    assert listed.json() == [], "nothing imported"

    assert (await district.import_framework()).status_code == 200
    unknown = await district.client.post(
        "/v1/learners/lrn-1/pathways", json={"framework_id": "nope"}, headers=district.admin
    )
    assert unknown.status_code == 422 and "framework_id" in unknown.json()["detail"]
    outside = await district.client.post(
        "/v1/learners/lrn-1/pathways",
        json={"framework_id": FRAMEWORK_ID, "competencies": ["not-a-competency"]},
        headers=district.admin,
    )
    assert outside.status_code == 422
    assert "competencies[0]" in outside.json()["detail"]
    assert "not-a-competency" in outside.json()["detail"]


async def test_two_replicas_and_a_crash_decide_exactly_as_one_sequential_run(
    district, ledger_settings, running_app, monkeypatch, until
):
    """Two replicas run together; the one working the decisions (the lease holder) freezes
    once after an append, before acknowledging anything of its batch — a dead process, as far as
    NATS can tell. The other takes the lease over once it expires and gets the batch back after
    `ack_wait`; the decision already taken in changes nothing, and each learner's log is what one
    replica deciding the same decisions in order would have written."""
    from pathways import context as context_module
    from pathways.domain.graph import Graph
    from shared_events.events.pathways import MasteryObserved

    assert (await district.import_framework()).status_code == 200
    learners = ("lrn-a", "lrn-b", "lrn-c")
    for learner in learners:
        response = await district.client.post(
            f"/v1/learners/{learner}/pathways",
            json={"framework_id": FRAMEWORK_ID, "pathway_id": "p"},
            headers=district.admin,
        )
        assert response.status_code == 200, response.text
    await district.app.state.service.parts.batches[0].stop()  # the two replicas below do it
    settings = ledger_settings("pathways").model_copy(
        update={"handler_ack_wait": 1.5, "lease_ttl": 1.0}
    )
    replicas = [create_app(settings), create_app(settings)]
    contexts = [app.state.pathways for app in replicas]
    real_settle = context_module.PathwaysContext._settle
    frozen: list = []
    settled_by: list = []
    thawed = asyncio.Event()

    async def settle_then_freeze_once(self, *args, **kwargs):
        outcomes, decided = await real_settle(self, *args, **kwargs)
        if self in contexts:
            settled_by.append(contexts.index(self))
            if decided and not frozen:
                frozen.append(contexts.index(self))
                await thawed.wait()  # no ack, no NAK, no lease renewal until the end
        return outcomes, decided

    monkeypatch.setattr(context_module.PathwaysContext, "_settle", settle_then_freeze_once)
    codes = ["6.RP.A.1", "6.RP.A.2", "6.RP.A.3a", "6.RP.A.3b", "7.RP.A.1"]
    async with running_app(replicas[0]), running_app(replicas[1]):
        for n in range(15):
            learner = learners[n % 3]
            mastered = n % 4 != 1
            await district.decide(
                learner, codes[n // 3], [0.5, 0.95 if mastered else 0.4], mastered
            )

        def observed_all(log) -> bool:
            return sum(isinstance(e, MasteryObserved) for e in log) == 5

        for learner in learners:
            await district.settled(learner, observed_all)
        thawed.set()
    assert frozen, "the lease holder took a decision in and froze"
    assert 1 - frozen[0] in settled_by, "the other replica took the work over"

    graph = Graph.of(await district.ctx.framework(D, FRAMEWORK_ID))

    for learner in learners:
        # One append's events land one after another: read until the last one is in.
        log = await district.settled(learner, lambda log: sequential_run(graph, log) == log)
        decisions = [e.decision_id for e in log if isinstance(e, MasteryObserved)]
        assert len(decisions) == len(set(decisions)) == 5


async def test_the_district_sets_its_thresholds_and_roll_up_rules_as_a_recorded_policy(district):
    assert (await district.import_framework()).status_code == 200
    ids = district.ids
    bad = await district.client.put(
        "/v1/pathway-policy", json={"falling_trend_window": 1}, headers=district.admin
    )
    assert bad.status_code == 422 and "falling_trend_window" in bad.text
    unknown = await district.client.put(
        "/v1/pathway-policy", json={"attempts": 2}, headers=district.admin
    )
    assert unknown.status_code == 422 and "attempts" in unknown.text
    teacher = await district.client.put("/v1/pathway-policy", json={}, headers=district.teacher)
    assert teacher.status_code == 403
    policy = {
        "attempts_without_proficient": 2,
        "rollups": {
            ids["6.RP.A.3"]: {
                "method": "points",
                "required": [ids["6.RP.A.3a"]],
                "points_needed": 2,
            }
        },
    }
    for version in (1, 2):
        response = await district.client.put(
            "/v1/pathway-policy", json=policy, headers=district.admin
        )
        assert response.status_code == 200, response.text
        assert response.json()["version"] == version
    response = await district.client.post(
        "/v1/learners/lrn-4/pathways",
        json={"framework_id": FRAMEWORK_ID, "competencies": [ids["6.RP.A.3"]], "pathway_id": "p"},
        headers=district.admin,
    )
    assert response.status_code == 200, response.text
    await district.decide("lrn-4", "6.RP.A.3b", [0.2, 0.3], False)  # two attempts are enough
    log = await district.settled(
        "lrn-4", lambda log: any(isinstance(e, InterventionRecommended) for e in log)
    )
    for part in ("3a", "3c"):  # the required part and one more: two points
        await district.decide("lrn-4", f"6.RP.A.{part}", [0.95], True)
    log = await district.settled(
        "lrn-4",
        lambda log: any(isinstance(e, PathwayAdvanced) and e.how == "rolled_up" for e in log),
    )
    [rolled] = [e for e in log if isinstance(e, PathwayAdvanced) and e.how == "rolled_up"]
    assert rolled.competency_id == ids["6.RP.A.3"]


async def test_the_read_models_rebuild_from_the_log_to_the_same_views(district):
    assert (await district.import_framework()).status_code == 200
    response = await district.client.post(
        "/v1/learners/lrn-5/pathways",
        json={"framework_id": FRAMEWORK_ID, "pathway_id": "p"},
        headers=district.admin,
    )
    assert response.status_code == 200
    await district.decide("lrn-5", "6.RP.A.1", [0.95], True)
    for scores in ([0.9, 0.6], [0.9, 0.6, 0.3]):
        await district.decide("lrn-5", "6.RP.A.2", scores, False)
    await district.settled(
        "lrn-5", lambda log: any(isinstance(e, InterventionRecommended) for e in log)
    )
    before = await district.view("lrn-5")
    from pathways.projections import progress

    async with district.app.state.service.sessions()() as session, session.begin():
        await progress.PathwaysProjection().reset(session)  # the read model lost
    assert (await district.view("lrn-5"))["pathways"] == []
    rebuilt = await district.client.post(
        "/v1/operations/projections/pathways-progress/rebuild", headers=district.admin
    )
    assert rebuilt.status_code == 202, rebuilt.text

    async def same_again():
        return await district.view("lrn-5") == before

    assert await district.until(same_again)
    assert before["open_interventions"][0]["reason"] == "falling_trend"
