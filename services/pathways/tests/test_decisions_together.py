"""A learner's mastery decisions of one fetched batch are decided together and appended in one
append: each on the state the ones before it left, so the log reads exactly as if they had been
taken in one at a time. A decision that fails leaves the ones before it appended and holds the
ones after it back until it comes back; a state remembered from before another writer moved the
learner's timeline is read again and decided again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest

from eventlog.event_store import ConcurrencyConflict, EventStore
from eventlog.hashchain import verify_chain
from eventlog.stored import RawStored
from pathways import commands
from pathways.app import create_app
from pathways.context import PathwaysContext
from pathways.domain.graph import Graph
from shared_events import Timeline
from shared_events.events.pathways import (
    InterventionRecommended,
    InterventionResolved,
    MasteryObserved,
    PathwayAdvanced,
    PathwayAssigned,
)

from .pathways_world import sequential_run, store_decision

pytestmark = pytest.mark.integration

D, D2 = "d1", "d2"
SAMPLE = "case/samples/docs/opensalt-framework-20c5134f-423d-4097-a971-3dd5152bf507.json"
FRAMEWORK_ID = "20c5134f-423d-4097-a971-3dd5152bf507"
TODAY = datetime.now(UTC).date()
MORNING = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=8)


class Ledger:
    """The pathways service running with the sample framework imported in two districts, and
    ways to give a learner a pathway, take decisions in and read the learner's log."""

    def __init__(self, client, app, js, settings, bearer, until, package) -> None:
        self.client, self.app, self.until, self.package = client, app, until, package
        self.store = EventStore(js)
        self.admins = {
            district: bearer(settings, "district_admin", sub=f"adm-{district}", district=district)
            for district in (D, D2)
        }
        items = {i["humanCodingScheme"]: i["identifier"] for i in package["CFItems"]}
        self.ids = {code.removeprefix("CCSS.Math.Content."): uid for code, uid in items.items()}
        self.published = 0

    @property
    def ctx(self) -> PathwaysContext:
        return self.app.state.pathways

    async def import_framework(self, district: str) -> None:
        body = json.dumps(self.package).encode()
        response = await self.client.post(
            "/v1/frameworks", content=body, headers=self.admins[district]
        )
        assert response.status_code == 200, response.text

    async def assign(self, district: str, learner: str) -> None:
        """The whole framework as pathway `p` (the cause names the district, so the same
        learner id in two districts gets two assignments)."""
        ctx = self.ctx
        graph = await ctx.graph(district, FRAMEWORK_ID, 1)
        assigned = PathwayAssigned(
            learner_id=learner,
            pathway_id="p",
            framework_id=FRAMEWORK_ID,
            framework_version=1,
            competencies=graph.scope(()),
            assigned_by="adm",
            start_date=TODAY,
        )
        await ctx.settle(
            district,
            learner,
            commands.assign(assigned, [], TODAY),
            cause=f"assign/{district}/{learner}/p",
            extra=[(FRAMEWORK_ID, 1)],
        )

    def observed(
        self, learner: str, n: int, code: str, scores: list[float], mastered: bool
    ) -> MasteryObserved:
        """The `n`-th mastery decision of the story, as the pathways service takes it in."""
        return MasteryObserved(
            learner_id=learner,
            competency_id=self.ids[code],
            decision_id=f"dec-{n}",
            mastered=mastered,
            level="mastered" if mastered else "attempted",
            score=scores[-1],
            evidence_ids=tuple(f"ev-{n}-{i}" for i in range(len(scores))),
            scores=tuple(scores),
            decided_at=MORNING + timedelta(minutes=n),
        )

    def step(self, district: str, observed: MasteryObserved) -> tuple[commands.Step, str]:
        return commands.observe(observed), f"{district}/{observed.decision_id}/pathways"

    async def decide(self, learner: str, code: str, scores: list[float], mastered: bool) -> str:
        """A MasteryDecided as the evidence service would store it; its envelope id."""
        self.published += 1
        at = MORNING + timedelta(minutes=self.published)
        return await store_decision(
            self.store, learner, self.ids[code], scores, mastered, self.published, at
        )

    async def give_pathways(self, *learners: str) -> None:
        """Each learner the whole framework as pathway `p`, over HTTP, then the intake of
        decisions stopped: what the test publishes waits for it."""
        for learner in learners:
            response = await self.client.post(
                f"/v1/learners/{learner}/pathways",
                json={"framework_id": FRAMEWORK_ID, "pathway_id": "p"},
                headers=self.admins[D],
            )
            assert response.status_code == 200, response.text
        for batch in self.app.state.service.parts.batches:
            await batch.stop()

    async def stored(self, district: str, learner: str):
        return await self.store.read(Timeline("pathways", district, learner))

    async def log(self, district: str, learner: str) -> list:
        return [e.envelope.data for e in await self.stored(district, learner)]

    async def sequential_run(self, log: list) -> list:
        """What one replica taking the log's facts in one at a time would have written."""
        return sequential_run(Graph.of(await self.ctx.framework(D, FRAMEWORK_ID)), log)


@pytest.fixture
async def ledger(js, ledger_settings, running_app, bearer, until, shared_fixtures):
    settings = ledger_settings("pathways")
    package = json.loads((shared_fixtures / SAMPLE).read_text())
    app = create_app(settings)
    async with running_app(app) as client:
        ledger = Ledger(client, app, js, settings, bearer, until, package)
        for district in (D, D2):
            await ledger.import_framework(district)
        yield ledger


@pytest.fixture
def appends(monkeypatch):
    """Every append to a PATHWAYS timeline from now on: (timeline, event types, outcome)."""
    seen: list[tuple[Timeline, list[str], object]] = []
    real = EventStore.append

    async def counted(self, timeline, envelopes, *args, **kwargs):
        if timeline.family != "pathways":
            return await real(self, timeline, envelopes, *args, **kwargs)
        types = [e.type for e in envelopes]
        try:
            appended = await real(self, timeline, envelopes, *args, **kwargs)
        except Exception as exc:
            seen.append((timeline, types, exc))
            raise
        seen.append((timeline, types, appended))
        return appended

    monkeypatch.setattr(EventStore, "append", counted)

    def of(district: str, learner: str) -> list[tuple[list[str], object]]:
        wanted = Timeline("pathways", district, learner)
        return [(types, outcome) for timeline, types, outcome in seen if timeline == wanted]

    return of


def story(ledger: Ledger, learner: str) -> list[MasteryObserved]:
    """6.RP.A.1 mastered, then three unsuccessful attempts at 6.RP.A.2 (an intervention), then
    6.RP.A.2 mastered (the intervention resolved): each decision's consequences depend on the
    state every one before it left."""
    return [
        ledger.observed(learner, 1, "6.RP.A.1", [0.95], True),
        ledger.observed(learner, 2, "6.RP.A.2", [0.3], False),
        ledger.observed(learner, 3, "6.RP.A.2", [0.3, 0.35], False),
        ledger.observed(learner, 4, "6.RP.A.2", [0.3, 0.35, 0.3], False),
        ledger.observed(learner, 5, "6.RP.A.2", [0.3, 0.35, 0.3, 0.96], True),
    ]


def contents(log: list) -> list[tuple[str, dict]]:
    return [(e.event_type, e.model_dump(mode="json")) for e in log]


def decisions(log: list) -> list[str]:
    return [e.decision_id for e in log if isinstance(e, MasteryObserved)]


async def test_a_learners_decisions_of_a_batch_are_appended_together_as_one_at_a_time_would(
    ledger, appends
):
    learner = "lrn-1"
    for district in (D, D2):
        await ledger.assign(district, learner)
    # District d1 takes the five decisions in together, d2 one at a time: the same learner,
    # the same framework, the same decisions.
    results = await ledger.ctx.settle_all(
        D, learner, [ledger.step(D, o) for o in story(ledger, learner)]
    )
    assert results == [None] * 5
    for observed in story(ledger, learner):
        await ledger.ctx.settle(D2, learner, *ledger.step(D2, observed))

    together, one_at_a_time = await ledger.log(D, learner), await ledger.log(D2, learner)
    assert decisions(together) == ["dec-1", "dec-2", "dec-3", "dec-4", "dec-5"]
    assert any(isinstance(e, InterventionRecommended) for e in together), "the story's point"
    assert any(isinstance(e, InterventionResolved) for e in together)
    assert contents(together) == contents(one_at_a_time)
    assert together == await ledger.sequential_run(together)

    (assignment, _), *after_assignment = appends(D, learner)
    assert len(after_assignment) == 1, "the five decisions and what follows: one append"
    [(types, appended)] = after_assignment
    assert types == [e.event_type for e in together[len(assignment) :]]
    stored = await ledger.stored(D, learner)
    assert appended.sequences == tuple(e.sequence for e in stored[len(assignment) :])
    assert len(appends(D2, learner)) == 1 + 5, "one at a time: an append per decision"
    assert verify_chain((e.sequence, e.body) for e in stored).intact


class FailsOnce:
    """A step that fails the first time it runs (the reference data it needs not there yet,
    say) and takes the decision in when it comes back."""

    def __init__(self, observed: MasteryObserved) -> None:
        self.step = commands.observe(observed)
        self.calls = 0

    def __call__(self, state, policy, graph_of):
        self.calls += 1
        if self.calls == 1:
            raise ValueError("not yet")
        return self.step(state, policy, graph_of)


async def test_a_failed_decision_leaves_the_ones_before_it_appended_and_fails_the_ones_after(
    ledger, appends
):
    learner = "lrn-2"
    await ledger.assign(D, learner)
    first = ledger.observed(learner, 1, "6.RP.A.1", [0.95], True)
    second = ledger.observed(learner, 2, "6.RP.A.2", [0.9], True)
    third = ledger.observed(learner, 3, "7.RP.A.1", [0.9], True)
    flaky = FailsOnce(second)
    _, second_cause = ledger.step(D, second)
    later = [(flaky, second_cause), ledger.step(D, third)]

    results = await ledger.ctx.settle_all(D, learner, [ledger.step(D, first), *later])

    assert results[0] is None
    assert isinstance(results[1], ValueError) and results[2] is results[1]
    log = await ledger.log(D, learner)
    assert decisions(log) == ["dec-1"], "the one before it is appended, the ones after wait"
    assert log == await ledger.sequential_run(log)
    assert len(appends(D, learner)) == 1 + 1

    # The failed decision and the one after it come back (a redelivery) and follow.
    assert await ledger.ctx.settle_all(D, learner, later) == [None, None]
    log = await ledger.log(D, learner)
    assert decisions(log) == ["dec-1", "dec-2", "dec-3"]
    assert log == await ledger.sequential_run(log)
    advanced = [e.competency_id for e in log if isinstance(e, PathwayAdvanced)]
    assert advanced == [ledger.ids[c] for c in ("6.RP.A.1", "6.RP.A.2", "7.RP.A.1")]
    stored = await ledger.stored(D, learner)
    assert verify_chain((e.sequence, e.body) for e in stored).intact

    # A step failing first fails every one: nothing is appended.
    fourth = ledger.observed(learner, 4, "7.RP.A.2", [0.9], True)
    _, fourth_cause = ledger.step(D, fourth)
    steps = [
        (FailsOnce(fourth), fourth_cause),
        ledger.step(D, ledger.observed(learner, 5, "7.RP.A.3", [0.9], True)),
    ]
    first_failed = await ledger.ctx.settle_all(D, learner, steps)
    assert isinstance(first_failed[0], ValueError) and first_failed == [first_failed[0]] * 2
    assert len(await ledger.stored(D, learner)) == len(stored)


async def test_a_stale_remembered_state_is_read_again_and_decided_again(ledger, appends):
    learner = "lrn-3"
    await ledger.assign(D, learner)
    first = ledger.observed(learner, 1, "6.RP.A.1", [0.95], True)
    await ledger.ctx.settle(D, learner, *ledger.step(D, first))
    remembered = ledger.ctx.timelines[(D, learner)]

    # Another replica (its own context, its own remembered states) takes a decision in for the
    # learner: this replica's remembered state is now behind the log.
    other = PathwaysContext()
    other.bind(ledger.app.state.service)
    elsewhere = ledger.observed(learner, 2, "6.RP.A.2", [0.9], True)
    await other.settle(D, learner, *ledger.step(D, elsewhere))
    timeline = Timeline("pathways", D, learner)
    assert await ledger.store.last_sequence(timeline) > remembered.sequence
    assert ledger.ctx.timelines[(D, learner)] == remembered

    # This replica's batch: the decision the other took in comes to it again, between two new.
    steps = [
        ledger.step(D, ledger.observed(learner, 3, "7.RP.A.1", [0.9], True)),
        ledger.step(D, elsewhere),
        ledger.step(D, ledger.observed(learner, 4, "7.RP.A.2", [0.2], False)),
    ]
    before = len(appends(D, learner))
    assert await ledger.ctx.settle_all(D, learner, steps) == [None, None, None]

    tried = [outcome for _, outcome in appends(D, learner)[before:]]
    assert [type(o) for o in tried][:1] == [ConcurrencyConflict], "the remembered state first"
    assert len(tried) == 2, "then read again, decided again, appended once"
    log = await ledger.log(D, learner)
    assert decisions(log) == ["dec-1", "dec-2", "dec-3", "dec-4"], "no decision twice"
    assert log == await ledger.sequential_run(log), "decided on the state the log has"
    stored = await ledger.stored(D, learner)
    assert verify_chain((e.sequence, e.body) for e in stored).intact
    assert ledger.ctx.timelines[(D, learner)].sequence == stored[-1].sequence

    # The whole batch once more (a redelivery): everything is known, nothing is appended.
    assert await ledger.ctx.settle_all(D, learner, steps) == [None, None, None]
    assert len(await ledger.stored(D, learner)) == len(stored)
    assert len(appends(D, learner)) == before + 2


async def test_the_mastery_intake_takes_a_learners_decisions_of_a_batch_in_with_one_append(
    ledger, appends
):
    service = ledger.app.state.service
    learners = ("lrn-4", "lrn-5")
    await ledger.give_pathways(*learners)
    published: dict[str, list[str]] = {learner: [] for learner in learners}
    for learner in learners:
        for code, scores, mastered in (
            ("6.RP.A.1", [0.95], True),
            ("6.RP.A.2", [0.3], False),
            ("6.RP.A.2", [0.3, 0.35], False),
            ("6.RP.A.2", [0.3, 0.35, 0.3], False),
            ("6.RP.A.2", [0.3, 0.35, 0.3, 0.96], True),
        ):
            published[learner].append(await ledger.decide(learner, code, scores, mastered))
    for learner in learners:
        assert decisions(await ledger.log(D, learner)) == [], "the intake is stopped"

    settings = service.settings
    for batch in service.parts.batches:
        await batch.start(
            service.js,
            service.engine,
            ack_wait=settings.batch_ack_wait,
            lease_ttl=settings.lease_ttl,
        )

    async def taken_in(learner: str):
        log = await ledger.log(D, learner)
        return log if len(decisions(log)) == 5 and log == await ledger.sequential_run(log) else None

    for learner in learners:
        log = await ledger.until(lambda learner=learner: taken_in(learner), timeout=10)
        assert decisions(log) == published[learner], "in log order"
        assert any(isinstance(e, InterventionResolved) for e in log)
        (assignment, _), *after_assignment = appends(D, learner)
        assert len(after_assignment) == 1, "the five decisions and what follows: one append"
        [(types, _)] = after_assignment
        assert types == [e.event_type for e in log[len(assignment) :]]


async def test_a_learners_next_batch_waits_for_the_one_before_and_fails_with_it(ledger):
    """Two batches of a partition are in hand at once: a learner's decisions in the second
    start only when the first is done with the learner, and come back with it when it failed;
    other learners do not wait."""
    service = ledger.app.state.service
    await ledger.give_pathways("lrn-6", "lrn-7")
    first = await ledger.decide("lrn-6", "6.RP.A.1", [0.95], True)
    other = await ledger.decide("lrn-7", "6.RP.A.1", [0.95], True)
    second = await ledger.decide("lrn-6", "6.RP.A.2", [0.3], False)
    raw = await evidence_messages(ledger, (first, other, second))
    handler = service.parts.batches[0].handler
    ctx = ledger.ctx
    real = ctx.settle_all
    release = asyncio.Event()
    failing = {"lrn-6": 1}

    async def away_once(district, learner, steps, *args, **kwargs):
        if failing.get(learner):
            failing[learner] -= 1
            await release.wait()
            raise ConnectionError("the database went away")
        return await real(district, learner, steps, *args, **kwargs)

    ctx.settle_all = away_once
    try:
        one = asyncio.create_task(handler([raw[first], raw[other]]))
        two = asyncio.create_task(handler([raw[second]]))
        await ledger.until(lambda: _observed(ledger, "lrn-7", 1), timeout=10)
        assert not two.done(), "the learner's next batch waits for the one before"
        release.set()
        results_one, results_two = await one, await two
        assert isinstance(results_one[0], ConnectionError) and results_one[1] is None
        assert results_two == [results_one[0]], "and comes back with it"
        assert decisions(await ledger.log(D, "lrn-6")) == []
        assert await handler([raw[first]]) == [None]  # redelivered, in log order
        assert await handler([raw[second]]) == [None]
    finally:
        ctx.settle_all = real
    assert decisions(await ledger.log(D, "lrn-6")) == [first, second]


async def evidence_messages(ledger: Ledger, ids) -> dict[str, RawStored]:
    """The stored MasteryDecided messages with these envelope ids, as a consumer hands them."""
    js = ledger.app.state.service.js
    found: dict[str, RawStored] = {}
    last = (await js.stream_info("EVIDENCE")).state.last_seq
    for seq in range(1, last + 1):
        msg = await js.get_msg("EVIDENCE", seq)
        envelope_id = (msg.headers or {}).get("Nats-Msg-Id")
        if envelope_id in ids:
            at = datetime.now(UTC)
            found[envelope_id] = RawStored("EVIDENCE", seq, msg.subject, at, msg.data, {})
    return found


async def _observed(ledger: Ledger, learner: str, count: int) -> bool:
    return len(decisions(await ledger.log(D, learner))) >= count
