"""The notifications service against a real NATS server and database, a real SMTP server and a
real HTTP receiver: messages arrive once, in the recipient's language; webhooks are signed and
retried; failures are recorded with their reason; quiet hours and digests follow a scripted
clock; restarts, two replicas and rebuilds never send twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from notifications.app import create_app
from notifications.config import DeliverySettings
from shared_events import Timeline
from shared_events.events.notifications import (
    NotificationDelivered,
    NotificationFailed,
    NotificationQueued,
)
from shared_events.events.pathways import GoalAtRisk, InterventionRecommended
from shared_events.events.profiles import ClassEnrolled, GuardianLinked, LearnerErased

from .notifications_world import Clock, District, Mailbox, Receiver, start_receiver, start_smtp

pytestmark = pytest.mark.integration


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller, port = start_smtp(mailbox)
    yield mailbox, port
    controller.stop()


@pytest.fixture
def make_app(ledger_settings, smtp):
    _, port = smtp

    def make(clock=None, **delivery):
        options = {
            "smtp_port": port,
            "delivery_interval": 0.05,
            "backoff_base": 0.2,
            "backoff_cap": 1.0,
            "claim_ttl": 1.0,
            "webhook_allow_loopback_http": True,
            **delivery,
        }
        settings = DeliverySettings(**options)
        extra = {"clock": clock} if clock else {}
        return create_app(ledger_settings("notifications"), settings, **extra)

    return make


@pytest.fixture
async def district(js, make_app, running_app, until, bearer, ledger_settings):
    app = make_app()
    async with running_app(app) as client:
        world = District(app, js, until)
        world.client = client
        settings = ledger_settings("notifications")
        world.tokens = {
            who: bearer(settings, role, sub=who, district="d1")
            for who, role in (
                ("lrn-1", "learner"),
                ("grd-1", "guardian"),
                ("tch-1", "teacher"),
                ("adm-1", "district_admin"),
            )
        }
        await world.family()
        yield world


async def test_mastery_reaches_the_guardian_once_by_email_in_their_language(district, smtp):
    mailbox, _ = smtp
    saved = await district.client.put(
        "/v1/preferences", json={"language": "es"}, headers=district.tokens["grd-1"]
    )
    assert saved.status_code == 200, saved.text
    sender = {"from_address": "avisos@d1.example", "from_name": "Distrito Uno"}
    set_sender = await district.client.put(
        "/v1/sender", json=sender, headers=district.tokens["adm-1"]
    )
    assert set_sender.status_code == 200, set_sender.text
    await district.decide(mastered=True)

    await district.until(lambda: len(mailbox.messages) == 1)
    [message] = mailbox.messages
    assert message["to"] == "grace@home.test"
    assert message["subject"] == "Dominado: c1"
    assert message["text"].startswith("Ada ha dominado")
    assert message["from"] == "Distrito Uno <avisos@d1.example>"
    log = await district.until(lambda: _delivered(district, 3))  # inboxes of both, one email
    assert {(e.channel, e.attempts) for e in log} == {("inbox", 1), ("email", 1)}

    # The same mastery decided again is not news; a learner's own inbox has it, once.
    await district.decide(mastered=True)
    await asyncio.sleep(0.5)
    assert len(mailbox.messages) == 1
    learner = district.tokens["lrn-1"]
    items = (await district.client.get("/v1/inbox", headers=learner)).json()
    assert [i["template"] for i in items] == ["mastery_gained"]
    unread = await district.client.get("/v1/inbox/unread", headers=learner)
    assert unread.json() == {"unread": 1}
    read = await district.client.post(
        f"/v1/inbox/{items[0]['notification_id']}/read", headers=learner
    )
    assert read.status_code == 200
    assert (await district.client.get("/v1/inbox/unread", headers=learner)).json() == {"unread": 0}
    others = await district.client.post(
        f"/v1/inbox/{items[0]['notification_id']}/read", headers=district.tokens["tch-1"]
    )
    assert others.status_code == 404


async def _delivered(district, count):
    outcomes = await district.outcomes()
    return outcomes if len(outcomes) >= count else None


async def test_a_webhook_that_fails_twice_then_succeeds_is_delivered_once(district):
    receiver = Receiver(failures=2)
    url, server, task = await start_receiver(receiver)
    try:
        registered = await district.client.put(
            "/v1/webhooks/sis-sync",
            json={"url": url, "triggers": ["intervention_recommended"]},
            headers=district.tokens["adm-1"],
        )
        assert registered.status_code == 200, registered.text
        receiver.secret = registered.json()["secret"].encode()
        await district.publish(
            "lrn-1",
            InterventionRecommended(
                learner_id="lrn-1",
                intervention_id="iv-1",
                competency_id="c1",
                tier=2,
                reason="falling_trend",
                evidence_ids=("e1", "e2", "e3"),
                detail="the last 3 scores fall",
            ),
        )
        await district.until(lambda: len(receiver.accepted) == 1, timeout=20)
        assert [r["signed"] for r in receiver.requests] == [True, True, True]
        assert len({r["delivery"] for r in receiver.requests}) == 1  # the same delivery id
        [payload] = receiver.accepted
        assert payload["event"] == "intervention_recommended"
        assert payload["learner_id"] == "lrn-1" and "Ada" not in str(payload)
        outcomes = await district.until(lambda: _delivered(district, 3))
        hooks = [e for e in outcomes if e.channel == "webhook"]
        assert [(type(e).__name__, e.attempts) for e in hooks] == [("NotificationDelivered", 3)]
        await asyncio.sleep(0.5)
        assert len(receiver.accepted) == 1
    finally:
        server.should_exit = True
        await task


async def test_an_unreachable_smtp_server_retries_then_fails_with_the_reason(
    js, make_app, running_app, until
):
    app = make_app(smtp_host="127.0.0.1", smtp_port=1, max_attempts=3)  # nothing listens there
    async with running_app(app):
        world = District(app, js, until)
        await world.family()
        await world.decide(mastered=True)
        outcomes = await until(lambda: _delivered(world, 3), timeout=20)
        [failed] = [e for e in outcomes if isinstance(e, NotificationFailed)]
        assert failed.channel == "email" and failed.attempts == 3
        assert "smtp" in failed.reason
        delivered = [e for e in outcomes if isinstance(e, NotificationDelivered)]
        assert {e.channel for e in delivered} == {"inbox"}  # the others went on


async def test_bad_preferences_and_webhooks_are_refused_naming_the_field(district):
    guardian = district.tokens["grd-1"]
    for body, field in (
        ({"language": "fr"}, "language"),
        ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "start"),
        ({"quiet_hours": {"start": "21:00", "end": "07:00", "timezone": "Mars/Base"}}, "timezone"),
        ({"channels": {"mastery_gained": ["pigeon"]}}, "mastery_gained"),
        ({"channels": {"weather": ["email"]}}, "weather"),
        ({"digest": True}, "digest"),
        ({"colour": "blue"}, "colour"),
    ):
        response = await district.client.put("/v1/preferences", json=body, headers=guardian)
        assert response.status_code == 422, body
        assert field in response.text, (body, response.text)
    admin = district.tokens["adm-1"]
    for url in ("http://hooks.district.test/x", "ftp://127.0.0.1/x", "not a url"):
        response = await district.client.put(
            "/v1/webhooks/w1", json={"url": url, "triggers": ["goal_at_risk"]}, headers=admin
        )
        assert response.status_code == 422 and "url" in response.text, url
    assert (
        await district.client.put(
            "/v1/webhooks/w1",
            json={"url": "https://hooks.district.test/x", "triggers": ["goal_at_risk"]},
            headers=admin,
        )
    ).status_code == 200
    bad_sender = await district.client.put(
        "/v1/sender", json={"from_address": "nobody", "from_name": "D"}, headers=admin
    )
    assert bad_sender.status_code == 422 and "from_address" in bad_sender.text


async def test_quiet_hours_and_the_teachers_digest_follow_a_scripted_clock(
    js, make_app, running_app, until, bearer, ledger_settings, smtp
):
    mailbox, _ = smtp
    clock = Clock()
    app = make_app(clock=clock)
    settings = ledger_settings("notifications")
    async with running_app(app) as client:
        world = District(app, js, until)
        await world.family()
        # The guardian keeps quiet hours in New York time; the teacher's digest is in UTC.
        local = clock.now.astimezone(ZoneInfo("America/New_York"))
        hour = local.strftime("%H:%M")
        quiet_end = (local.replace(minute=0) + timedelta(hours=2)).strftime("%H:%M")
        later = (clock.now.replace(minute=0) + timedelta(hours=2)).strftime("%H:%M")
        guardian = bearer(settings, "guardian", sub="grd-1", district="d1")
        zone = "America/New_York"
        quiet = {"quiet_hours": {"start": hour, "end": quiet_end, "timezone": zone}}
        assert (
            await client.put("/v1/preferences", json=quiet, headers=guardian)
        ).status_code == 200
        teacher = bearer(settings, "teacher", sub="tch-1", district="d1")
        digest = {"digest": True, "digest_time": later}
        assert (
            await client.put("/v1/preferences", json=digest, headers=teacher)
        ).status_code == 200
        admin = bearer(settings, "district_admin", sub="adm-1", district="d1")
        rules = {"rules": [{"trigger": "goal_at_risk", "audiences": ["guardians", "teachers"]}]}
        assert (
            await client.put("/v1/notification-rules", json=rules, headers=admin)
        ).status_code == 200

        for n in (1, 2):
            await world.publish(
                "lrn-1",
                GoalAtRisk(
                    learner_id="lrn-1",
                    pathway_id=f"p{n}",
                    as_of=clock.now.date(),
                    expected_share=0.5,
                    actual_share=0.1,
                ),
            )
        # Two occasions, each to the guardian and the teacher, by inbox and by email.
        queued = await until(lambda: _queued(world, 8))
        await asyncio.sleep(0.5)
        assert mailbox.messages == []  # quiet hours, and the digest is later
        clock.advance(hours=2, minutes=1)
        await until(lambda: len(mailbox.messages) == 3)
        await asyncio.sleep(0.3)
        by_recipient = {}
        for message in mailbox.messages:
            by_recipient.setdefault(message["to"], []).append(message["subject"])
        assert by_recipient["grace@home.test"] == ["A goal is behind its pace"] * 2
        assert by_recipient["alan@school.test"] == ["Your daily summary (2)"]
        outcomes = await until(lambda: _delivered(world, len(queued)))
        digests = {e.digest_id for e in outcomes if e.channel == "email" and e.digest_id}
        assert len(digests) == 1


async def _queued(world, count):
    queued = [e for e in await world.log() if isinstance(e, NotificationQueued)]
    return queued if len(queued) >= count else None


async def test_a_service_killed_mid_delivery_sends_once_after_its_restart(
    js, make_app, running_app, until, smtp
):
    """The SMTP server holds the first message's DATA; the service is stopped while it waits
    (the conversation dies before the server accepts anything). The restarted service takes the
    delivery up once its claim has run out: one email arrives."""
    mailbox, _ = smtp
    mailbox.gate = asyncio.Event()
    first = make_app(smtp_timeout=1.0)  # its send gives up soon after the stop cancels it
    async with running_app(first):
        world = District(first, js, until)
        await world.family()
        await world.decide(mastered=True)
        await until(lambda: _sending(first))
    mailbox.gate.set()  # the server answers again; the first service is gone
    await asyncio.sleep(0.2)
    assert mailbox.messages == []
    second = make_app()
    async with running_app(second):
        world = District(second, js, until)
        outcomes = await until(lambda: _delivered(world, 3), timeout=20)
        await asyncio.sleep(0.5)
    assert [m["to"] for m in mailbox.messages] == ["grace@home.test"]
    assert sorted(e.channel for e in outcomes) == ["email", "inbox", "inbox"]


async def _sending(app) -> bool:
    from sqlalchemy import select

    from notifications.delivery.claims import attempts

    async with app.state.service.sessions()() as session:
        rows = await session.execute(select(attempts.c.claimed_by, attempts.c.outcome))
        return any(claimed and outcome is None for claimed, outcome in rows)


async def test_two_replicas_and_a_rebuilt_outbox_never_send_twice(
    js, make_app, running_app, until, smtp
):
    mailbox, _ = smtp
    one, two = make_app(), make_app()
    async with running_app(one), running_app(two):
        world = District(one, js, until)
        await world.family()
        for competency in ("c1", "c2", "c3", "c4", "c5"):
            await world.decide(mastered=True, competency=competency)
        await until(lambda: _delivered(world, 15), timeout=20)
        assert len(mailbox.messages) == 5
        rebuilt = one.state.service.projector("notifications-outbox")
        await rebuilt.rebuild()
        await rebuilt.wait_caught_up()
        await asyncio.sleep(1.0)  # several delivery rounds on both replicas
    assert len(mailbox.messages) == 5
    assert len(await world.outcomes()) == 15


async def test_a_redelivered_trigger_queues_nothing_new(district):
    from notifications.domain.rules import occasion_of
    from notifications.handlers import queue

    decision_id = await district.decide(mastered=True)
    await district.until(lambda: _queued(district, 3))
    [stored] = [
        e
        for e in await district.store.read(Timeline("evidence", "d1", "lrn-1"))
        if e.envelope.id == decision_id
    ]
    await district.app.state.service.projector("notifications-outbox").wait_caught_up()
    occasion = occasion_of(stored.envelope.data, decision_id, stored.envelope.time, False)
    assert await queue(district.ctx, "d1", occasion) == 0
    queued = [e for e in await district.log() if isinstance(e, NotificationQueued)]
    assert len(queued) == len({q.notification_id for q in queued}) == 3


async def test_a_batch_of_learners_in_two_districts_queues_what_one_at_a_time_would(
    js, ledger_settings, running_app, until, bearer, smtp
):
    """Decisions of five learners in two districts (their own guardians, teachers, rules,
    webhooks, statements, preferences; one erased, one unknown) wait in EVIDENCE and are taken
    in as one batch: each learner's log holds exactly, and in order, the notifications each
    occasion planned on its own (before the intake ran) calls for."""
    _, port = smtp
    clock = Clock()
    settings = ledger_settings("notifications").model_copy(update={"partitions": 1})
    app = create_app(settings, DeliverySettings(smtp_port=port, delivery_interval=60), clock)
    async with running_app(app) as client:
        service = app.state.service
        one, two = District(app, js, until), District(app, js, until, "d2")
        await one.family()  # lrn-1 with guardian grd-1 and teacher tch-1
        await one.register("lrn-2", "learner", given_name="Bo")
        await one.register("grd-2", "guardian", given_name="Cy")
        for guardian in ("grd-1", "grd-2"):
            await one.profile("lrn-2", GuardianLinked(learner_id="lrn-2", guardian_id=guardian))
        await one.register("lrn-4", "learner", given_name="Di")
        await one.profile(
            "lrn-4", LearnerErased(learner_id="lrn-4", requested_by="adm-1", reason="request")
        )
        await one.framework(c1="Fractions")
        await two.register("lrn-3", "learner", given_name="Ed")
        await two.register("grd-3", "guardian", given_name="Fi")
        await two.register("tch-3", "teacher", given_name="Gus")
        await two.profile("lrn-3", GuardianLinked(learner_id="lrn-3", guardian_id="grd-3"))
        for person, role in (("lrn-3", "student"), ("tch-3", "teacher")):
            await two.profile(person, ClassEnrolled(person_id=person, class_id="cls-3", role=role))
        await two.framework(c1="Fracciones", c2="Geometría")

        def token(role, who, district):
            return bearer(settings, role, sub=who, district=district)

        later = clock.now + timedelta(hours=2)
        quiet = {"start": clock.now.strftime("%H:%M"), "end": later.strftime("%H:%M")}
        for who, district, role, body in (
            ("grd-2", "d1", "guardian", {"language": "es", "quiet_hours": quiet}),
            ("grd-1", "d1", "guardian", {"channels": {"mastery_lost": ["inbox"]}}),
            ("tch-3", "d2", "teacher", {"digest": True, "digest_time": "17:00"}),
        ):
            saved = await client.put(
                "/v1/preferences", json=body, headers=token(role, who, district)
            )
            assert saved.status_code == 200, saved.text
        admin = token("district_admin", "adm-2", "d2")
        rules = {
            "rules": [
                {"trigger": "mastery_gained", "audiences": ["learner", "teachers"]},
                {"trigger": "mastery_lost", "audiences": ["guardians"]},
            ]
        }
        assert (
            await client.put("/v1/notification-rules", json=rules, headers=admin)
        ).status_code == 200
        hook = {"url": "https://hooks.district.test/x", "triggers": ["mastery_lost"]}
        assert (await client.put("/v1/webhooks/sis", json=hook, headers=admin)).status_code == 200
        for projection in (
            "notifications-recipients",
            "notifications-competencies",
            "notifications-settings",
        ):
            await service.projector(projection).wait_caught_up()

        for intake in service.parts.batches:
            await intake.stop()  # the decisions wait in EVIDENCE, to come as one batch
        decisions = {
            (one, "lrn-1"): [("c1", True), ("c1", True), ("c2", True), ("c1", False), ("c1", True)],
            (one, "lrn-2"): [("c1", True), ("c1", False), ("c2", False)],
            (two, "lrn-3"): [("c1", True), ("c2", True), ("c1", False), ("c2", True)],
            (one, "lrn-4"): [("c1", True)],  # erased
            (one, "lrn-5"): [("c2", True)],  # never registered: their inbox alone
        }
        await _decide_interleaved(decisions)

        expected = await _planned_alone(app, decisions)
        assert expected["lrn-4"] == [] and len(expected["lrn-5"]) == 1
        assert {q.recipient_id for q in expected["lrn-3"]} == {"lrn-3", "tch-3", "grd-3", "sis"}
        assert {q.facts["competency"] for q in expected["lrn-3"]} == {"Fracciones", "Geometría"}
        assert {q.facts["competency"] for q in expected["lrn-1"]} == {"Fractions", "c2"}

        for intake in service.parts.batches:
            await intake.start(service.js, service.engine)

        await until(lambda: _taken_in(js, service))
        assert await _queued_per_learner(decisions) == expected


async def test_a_learner_whose_append_fails_comes_back_in_order_while_the_others_go_on(
    js, ledger_settings, running_app, until, smtp
):
    """In one batch, the append of lrn-1's second occasion fails once: lrn-1's later decision
    fails with it and both come back behind it; lrn-2 goes on. In the end every log holds what
    each occasion planned on its own calls for, in order, and the flags remembered are the
    last decided."""
    from sqlalchemy import select

    from notifications.handlers import mastery_seen

    _, port = smtp
    settings = ledger_settings("notifications").model_copy(update={"partitions": 1})
    app = create_app(settings, DeliverySettings(smtp_port=port, delivery_interval=60))
    async with running_app(app):
        service, ctx = app.state.service, app.state.notifications
        world = District(app, js, until)
        await world.family()
        for intake in service.parts.batches:
            await intake.stop()
        decisions = {
            (world, "lrn-1"): [("c1", True), ("c1", False), ("c1", True)],
            (world, "lrn-2"): [("c1", True), ("c2", True)],
        }
        await _decide_interleaved(decisions)
        expected = await _planned_alone(app, decisions)
        lost = next(q.cause_event_id for q in expected["lrn-1"] if q.template == "mastery_lost")
        append, failed = ctx.append, []

        async def append_failing_once(district, entity, events, cause):
            if cause == lost and not failed:
                failed.append(cause)
                raise ConnectionError("the log does not answer")
            await append(district, entity, events, cause)

        ctx.append = append_failing_once
        for intake in service.parts.batches:
            await intake.start(service.js, service.engine)
        await until(lambda: _taken_in(js, service))
        assert failed == [lost]
        assert await _queued_per_learner(decisions) == expected
        async with service.sessions()() as session:
            rows = await session.execute(select(mastery_seen))
            flags = {(r.learner_id, r.competency_id): r.mastered for r in rows}
        assert flags == {("lrn-1", "c1"): True, ("lrn-2", "c1"): True, ("lrn-2", "c2"): True}


async def _decide_interleaved(decisions) -> None:
    """`{(world, learner): [(competency, mastered), ...]}`, the learners' turns interleaved."""
    for step in range(max(len(steps) for steps in decisions.values())):
        for (world, learner), steps in decisions.items():
            if step < len(steps):
                competency, mastered = steps[step]
                await world.decide(mastered, competency, learner)


async def _planned_alone(app, decisions) -> dict[str, list[NotificationQueued]]:
    """Per learner: what each occasion among their decisions (in log order), planned on its
    own, calls for."""
    from notifications.domain.rules import occasion_of
    from notifications.queueing import unqueued

    expected: dict[str, list[NotificationQueued]] = {}
    for world, learner in decisions:
        stored = await world.store.read(Timeline("evidence", world.name, learner))
        flags: dict[str, bool] = {}
        expected[learner] = []
        for envelope in (s.envelope for s in stored):
            decided = envelope.data
            was = flags.get(decided.competency_id)
            occasion = occasion_of(decided, envelope.id, envelope.time, was)
            flags[decided.competency_id] = decided.mastered
            if occasion is not None:
                alone = await unqueued(app.state.notifications, [(world.name, occasion)])
                expected[learner] += alone[occasion.cause_event_id]
    return expected


async def _taken_in(js, service) -> bool:
    """Every mastery decision handled and acknowledged."""
    infos = [await js.consumer_info("EVIDENCE", i.spec.name) for i in service.parts.batches]
    return not any(info.num_pending or info.num_ack_pending for info in infos)


async def _queued_per_learner(decisions) -> dict[str, list[NotificationQueued]]:
    return {
        learner: [e for e in await world.log(learner) if isinstance(e, NotificationQueued)]
        for world, learner in decisions
    }


async def test_after_erasure_nothing_is_said_and_pending_mail_cannot_be_opened(
    js, make_app, running_app, until, bearer, ledger_settings, smtp
):
    mailbox, _ = smtp
    clock = Clock()
    app = make_app(clock=clock)
    async with running_app(app) as client:
        world = District(app, js, until)
        await world.family()
        start = clock.now.strftime("%H:%M")
        end = (clock.now + timedelta(hours=1)).strftime("%H:%M")
        guardian = bearer(ledger_settings("notifications"), "guardian", sub="grd-1", district="d1")
        quiet = {"quiet_hours": {"start": start, "end": end}}
        assert (
            await client.put("/v1/preferences", json=quiet, headers=guardian)
        ).status_code == 200
        await world.decide(mastered=True)  # the guardian's email waits for the quiet hours
        await until(lambda: _delivered(world, 2))  # the two inboxes

        await world.ctx.keys.destroy("lrn-1")  # what the profiles service does on erasure
        await world.profile(
            "lrn-1", LearnerErased(learner_id="lrn-1", requested_by="adm-1", reason="request")
        )
        await app.state.service.projector("notifications-recipients").wait_caught_up()
        clock.advance(hours=1, minutes=1)
        outcomes = await until(lambda: _delivered(world, 3))
        [failed] = [e for e in outcomes if isinstance(e, NotificationFailed)]
        assert failed.channel == "email" and "erased" in failed.reason
        queued_before = len([e for e in await world.log() if isinstance(e, NotificationQueued)])
        await world.decide(mastered=False)  # mastery lost: nobody is told about an erased learner
        await asyncio.sleep(0.5)
        queued_after = len([e for e in await world.log() if isinstance(e, NotificationQueued)])
        assert queued_after == queued_before
    assert mailbox.messages == []


async def test_an_unreachable_webhook_retries_then_fails_with_the_reason(
    js, make_app, running_app, until, bearer, ledger_settings
):
    from eventlog.embedded_nats import free_port

    app = make_app(max_attempts=2)
    admin = bearer(ledger_settings("notifications"), "district_admin", sub="adm-1", district="d1")
    async with running_app(app) as client:
        world = District(app, js, until)
        await world.family()
        closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
        hook = {"url": closed, "triggers": ["goal_at_risk"]}
        assert (await client.put("/v1/webhooks/gone", json=hook, headers=admin)).status_code == 200
        await world.publish(
            "lrn-1",
            GoalAtRisk(
                learner_id="lrn-1",
                pathway_id="p",
                as_of=world.ctx.clock().date(),
                expected_share=0.5,
                actual_share=0.0,
            ),
        )
        outcomes = await until(lambda: _delivered(world, 4), timeout=20)
        [failed] = [e for e in outcomes if isinstance(e, NotificationFailed)]
        assert failed.channel == "webhook" and failed.attempts == 2
        assert "webhook" in failed.reason and "ConnectError" in failed.reason
        assert {e.channel for e in outcomes if isinstance(e, NotificationDelivered)} == {
            "inbox",
            "email",
        }
