"""Two evidence replicas sharing the intake, one killed mid-batch after appending some events
but before writing its bookkeeping or acknowledging anything: the other takes its submissions
up, every input is recorded once, every decision is its policy applied to the evidence it
lists, and each learner ends where one sequential run over the same input ends."""

from __future__ import annotations

import asyncio
import json

import pytest

from evidence.app import create_app
from evidence.domain.learner_evidence import LearnerEvidence, decide, evolve
from evidence.domain.policies import DEFAULT_POLICY, Scored, rollup
from evidence.intake import settle as intake
from shared_events.events.evidence import EvidenceRecorded, MasteryDecided

from .evidence_world import FRAC, GEO, PARTNER, World, native

pytestmark = pytest.mark.integration

INPUTS = [
    native(
        f"r-{n}",
        f"sis-{n % 3}",
        round(0.3 + (n * 0.07) % 0.7, 2),
        f"2026-10-{1 + (n * 5) % 27:02d}T09:00:00Z",
        competency=FRAC if n % 2 else GEO,
    )
    for n in range(24)
]


def sequential_decisions(recorded: list[EvidenceRecorded]) -> dict[str, list[tuple]]:
    """What one replica, alone, deciding each recorded event in log order, would decide."""
    states: dict[str, LearnerEvidence] = {}
    decided: dict[str, list[tuple]] = {}
    for event in recorded:
        state = evolve(states.get(event.learner_id, LearnerEvidence(event.learner_id)), event)
        decision = decide(state, event.competency_id, DEFAULT_POLICY)
        assert decision is not None
        states[event.learner_id] = evolve(state, decision)
        decided.setdefault(event.learner_id, []).append(_key(decision))
    return decided


def _key(decision: MasteryDecided) -> tuple:
    return (
        decision.competency_id,
        tuple(e.evidence_id for e in decision.evidence),
        round(decision.new_score, 9),
        decision.new_level,
    )


class Killed(BaseException):
    """The process dies mid-batch: no ack, no NAK, nothing written after this point."""


async def test_two_replicas_and_a_crash_end_as_one_sequential_run(
    world: World, ledger_settings, running_app, monkeypatch
):
    settings = ledger_settings("evidence").model_copy(update={"batch_ack_wait": 1.5})
    replica_a = create_app(settings)
    replica_b = create_app(settings)
    for sis in ("sis-0", "sis-1", "sis-2"):
        await world.register(sis)
    appended = {"a": 0, "b": 0}
    real = intake.apply_steps

    async def crash_in_a(ctx, district, learner_id, steps, *args, **kwargs):
        replica = "a" if ctx is replica_a.state.evidence else "b"
        if replica == "a" and appended["a"] >= 10:
            raise Killed  # the process dies here: ten inputs appended, nothing acknowledged
        appended[replica] += len(steps)
        return await real(ctx, district, learner_id, steps, *args, **kwargs)

    monkeypatch.setattr(intake, "apply_steps", crash_in_a)
    # The world's own service stops consuming so only the two replicas share the work.
    await world.ctx.service.stop()

    replica_a_running = running_app(replica_a)
    await replica_a_running.__aenter__()
    intake_a = replica_a.state.evidence.service.parts.batches[0]
    await world.until(lambda: intake_a.running)
    for body in INPUTS:
        await world.js.publish(f"ingest.{PARTNER}.native", json.dumps(body).encode())
    await world.until(lambda: appended["a"] >= 10 and not intake_a.running)
    await replica_a_running.__aexit__(None, None, None)  # the rest of A goes too
    async with running_app(replica_b):

        async def all_decided():
            learners = [world.learner(f"sis-{i}") for i in range(3)]
            counts = [len(await world.events(lrn, "mastery")) for lrn in learners]
            return sum(counts) >= len(INPUTS)

        await world.until(all_decided, timeout=60)
        await asyncio.sleep(0.5)

    assert appended["b"] > 0, "the other replica took the dead one's submissions up"
    recorded: list[EvidenceRecorded] = []
    decided: dict[str, list[MasteryDecided]] = {}
    for i in range(3):
        learner = world.learner(f"sis-{i}")
        events = await world.events(learner)
        recorded += [e for e in events if isinstance(e, EvidenceRecorded)]
        decided[learner] = [e for e in events if isinstance(e, MasteryDecided)]
    assert len(recorded) == len(INPUTS)
    assert len({e.evidence_id for e in recorded}) == len(INPUTS)
    for decisions in decided.values():
        for decision in decisions:
            listed = [Scored(e.evidence_id, e.score, e.observed_at) for e in decision.evidence]
            result = rollup(DEFAULT_POLICY, listed)
            assert (result.score, result.level, result.mastered) == (
                decision.new_score,
                decision.new_level,
                decision.mastered,
            )
    recorded.sort(key=lambda e: e.ingest_sequence)
    assert _last_per_competency(decided) == {
        learner: dict((key[0], key) for key in keys)
        for learner, keys in sequential_decisions(recorded).items()
    }


def _last_per_competency(decided: dict[str, list[MasteryDecided]]) -> dict[str, dict]:
    return {
        learner: {d.competency_id: _key(d) for d in decisions}
        for learner, decisions in decided.items()
    }
