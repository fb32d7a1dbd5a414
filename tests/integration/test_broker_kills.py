"""kill -9 of nats-server, twice, at seeded random points of a partner's ingest, each time
restarted on the same store: every submission JetStream acknowledged is decided exactly once,
and the log of decisions, pathways and notifications is the one an uninterrupted run of the
same input writes.

Four services run in this process against a nats-server process of the test's own; the partner
publishes as partners do, retrying with the same `Nats-Msg-Id` until acknowledged. The seed is
printed; `LEDGER_KILL_SEED=<seed>` replays a schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from sqlalchemy import func, select

import evidence.app
import notifications.app
import pathways.app
import profiles.app
from eventlog.embedded_nats import EmbeddedNats, free_port
from eventlog.settings import Settings
from evidence.intake import bookkeeping
from shared_events import decode

from .case_package import DOC, package

pytestmark = pytest.mark.integration

D = "d1"
LEARNERS = 8
SUBMISSIONS = 300
LOGS = ("EVIDENCE", "PATHWAYS", "NOTIFICATIONS")


@dataclass(frozen=True)
class Schedule:
    seed: int
    submissions: list[dict]
    kills: tuple[int, ...]  # after this many acknowledged submissions
    downtimes: tuple[float, ...]

    @classmethod
    def from_seed(cls, seed: int) -> Schedule:
        rng = random.Random(seed)
        submissions = [
            {
                "id": f"quiz-{n}",
                "district": D,
                "learner_sis_id": f"sis-{rng.randrange(LEARNERS)}",
                "competency": rng.choice(("M.1", "M.2")),
                "scaled": round(rng.uniform(0.2, 1.0), 2),
                "observed_at": f"2026-11-{1 + n * 28 // SUBMISSIONS:02d}T{8 + n % 10:02d}:00:00Z",
            }
            for n in range(SUBMISSIONS)
        ]
        kills = tuple(sorted(rng.sample(range(SUBMISSIONS // 6, SUBMISSIONS * 5 // 6), 2)))
        return cls(seed, submissions, kills, (rng.uniform(0.2, 1.5), rng.uniform(0.2, 1.5)))


@contextlib.asynccontextmanager
async def district(
    root: Path, database_url: str, state: Path, running_app, bearer
) -> AsyncIterator[tuple[EmbeddedNats, dict, dict]]:
    """NATS and the four services, a framework imported, learners registered, each with a
    pathway; yields the server, the apps and their HTTP clients."""
    server = EmbeddedNats(root / "nats", port=free_port())
    url = server.start()

    def settings(service: str) -> Settings:
        return Settings(
            service=service,
            nats_url=url,
            database_url=database_url,
            state_dir=state,
            batch_ack_wait=2.0,
        )

    apps = {
        "profiles": profiles.app.create_app(settings("profiles")),
        "evidence": evidence.app.create_app(settings("evidence")),
        "pathways": pathways.app.create_app(settings("pathways")),
        "notifications": notifications.app.create_app(settings("notifications")),
    }
    admin = bearer(settings("profiles"), "district_admin", sub="per-admin", district=D)
    try:
        async with contextlib.AsyncExitStack() as stack:
            clients = {
                name: await stack.enter_async_context(running_app(app))
                for name, app in apps.items()
            }
            imported = await clients["pathways"].post(
                "/v1/frameworks", content=json.dumps(package()).encode(), headers=admin
            )
            assert imported.status_code == 200, imported.text
            configured = await clients["evidence"].put(
                "/v1/ingest", json={"partners": ["acme"]}, headers=admin
            )
            assert configured.status_code == 200, configured.text
            for n in range(LEARNERS):
                registered = await clients["profiles"].post(
                    "/v1/learners",
                    json={"sis_id": f"sis-{n}", "given_name": "Kim", "family_name": f"N{n}"},
                    headers=admin,
                )
                assert registered.status_code == 201, registered.text
                learner = registered.json()["learner_id"]
                for name in ("pathways-frameworks", "pathways-learner-facts"):
                    await apps["pathways"].state.service.projector(name).wait_caught_up()
                assigned = await clients["pathways"].post(
                    f"/v1/learners/{learner}/pathways", json={"framework_id": DOC}, headers=admin
                )
                assert assigned.status_code in (200, 201), assigned.text
            await apps["evidence"].state.evidence.reference_caught_up()
            yield server, apps, clients
    finally:
        server.kill()


async def publish_all(nc: Client, schedule: Schedule, server: EmbeddedNats | None) -> None:
    """Publish every submission until acknowledged; kill the server at the schedule's points
    (when given one) and start it again on the same store."""
    js = nc.jetstream()
    for acknowledged, submission in enumerate(schedule.submissions, start=1):
        body = json.dumps(submission).encode()
        while True:
            try:
                await js.publish(
                    "ingest.acme.native", body, headers={"Nats-Msg-Id": submission["id"]}, timeout=2
                )
                break
            except Exception:
                await asyncio.sleep(0.2)  # the server is down: publish again, same id
        if server is not None and acknowledged in schedule.kills:
            server.kill()
            await asyncio.sleep(schedule.downtimes[schedule.kills.index(acknowledged)])
            server.start()


async def settled(apps: dict, nc: Client) -> dict[str, list[tuple[str, str]]]:
    """Once every submission has its outcome and the logs stop growing: each learner's events
    after setup, as (type, id) in log order, per stream."""
    engine = apps["evidence"].state.evidence.service.engine

    async def outcomes() -> int:
        async with engine.connect() as conn:
            query = select(func.count()).select_from(bookkeeping.outcomes)
            return int((await conn.execute(query)).scalar_one())

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 180
    while await outcomes() < SUBMISSIONS:
        assert loop.time() < deadline, f"only {await outcomes()} of {SUBMISSIONS} decided"
        await asyncio.sleep(0.5)
    previous: dict | None = None
    while True:
        current = await learner_logs(nc)
        if current == previous:
            return current
        assert loop.time() < deadline, "the logs did not settle"
        previous = current
        await asyncio.sleep(3.0)


async def learner_logs(nc: Client) -> dict[str, list[tuple[str, str]]]:
    """Per learner and stream, the (type, id) of their events in log order. Notifications as
    a sorted list of what was queued and which notifications were delivered: they are queued
    by two consumers (mastery decisions, pathway events) and delivered when they are, so what
    they are is fixed, not how they interleave; a delivery tried while the broker was away is
    tried again (another attempt, another event id) and still delivers the same notification."""
    js = nc.jetstream()
    logs: dict[str, list[tuple[str, str]]] = {}
    for stream in LOGS:
        info = await js.stream_info(stream)
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            if msg.subject.count(".") != 3 or msg.subject.startswith("frameworks."):
                continue
            learner = msg.subject.split(".")[2]
            if not learner.startswith("lrn-"):
                continue  # the district's settings, written once by the setup
            envelope = decode(msg.data)
            entry = (envelope.type, envelope.id)
            if stream == "NOTIFICATIONS" and envelope.type != "notifications.notification_queued":
                if envelope.type != "notifications.notification_delivered":
                    continue  # a failed attempt, a read: not what was said
                entry = (envelope.type, envelope.data.notification_id)
            logs.setdefault(f"{stream}/{learner}", []).append(entry)
    return {k: sorted(v) if k.startswith("NOTIFICATIONS/") else v for k, v in logs.items()}


async def run(root: Path, schedule: Schedule, kill: bool, running_app, bearer, state: Path):
    database_url = f"sqlite+aiosqlite:///{root / 'readmodels.db'}"
    async with district(root, database_url, state, running_app, bearer) as (server, apps, _):
        nc = await nats.connect(server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
        try:
            await publish_all(nc, schedule, server if kill else None)
            logs = await settled(apps, nc)
            recorded = [
                event_id
                for key, events in logs.items()
                if key.startswith("EVIDENCE/")
                for kind, event_id in events
                if kind == "evidence.evidence_recorded"
            ]
            return logs, recorded
        finally:
            await nc.close()


async def test_killing_nats_twice_mid_ingest_changes_nothing(tmp_path, running_app, bearer):
    seed = int(os.environ.get("LEDGER_KILL_SEED") or random.randrange(2**32))
    schedule = Schedule.from_seed(seed)
    print(f"LEDGER_KILL_SEED={seed}: kills after {schedule.kills} acknowledged submissions")
    state = tmp_path / "state"  # one pseudonym key: the same learner ids in both runs

    calm, calm_recorded = await run(tmp_path / "calm", schedule, False, running_app, bearer, state)
    killed, recorded = await run(tmp_path / "killed", schedule, True, running_app, bearer, state)

    assert len(calm_recorded) == len(set(calm_recorded)) == SUBMISSIONS
    assert len(recorded) == len(set(recorded)) == SUBMISSIONS, "each submission recorded once"
    assert killed.keys() == calm.keys()
    differing = {
        key: _first_difference(calm[key], killed[key]) for key in calm if killed[key] != calm[key]
    }
    assert not differing, f"seed {seed}: {differing}"


def _first_difference(calm: list, killed: list) -> tuple:
    for index, (a, b) in enumerate(zip(calm, killed, strict=False)):
        if a != b:
            return index, a, b
    return len(calm), len(killed)
