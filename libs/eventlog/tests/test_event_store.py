"""Appending to a learner's timeline against a real JetStream server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from nats.errors import TimeoutError as NatsTimeout

from eventlog import event_store
from eventlog.acks import publish_acked
from eventlog.event_store import ANY, NO_EVENTS, ConcurrencyConflict, EventStore
from eventlog.hashchain import verify_chain
from shared_events import Timeline

from .events_for_tests import recorded

pytestmark = pytest.mark.integration

ALICE = Timeline("evidence", "d1", "learner-a")
BOB = Timeline("evidence", "d1", "learner-b")


async def stream_count(js) -> int:
    return (await js.stream_info("EVIDENCE")).state.messages


async def test_appends_chain_each_learners_events_in_order(js, nc):
    store = EventStore(js, client=nc)
    first = await store.append(ALICE, [recorded("learner-a", 1)], expected=NO_EVENTS)
    await store.append(BOB, [recorded("learner-b", 1)], expected=NO_EVENTS)
    await store.append(
        ALICE, [recorded("learner-a", 2), recorded("learner-a", 3)], first.last_sequence
    )

    events = await store.read(ALICE)
    assert [e.envelope.data.evidence_id for e in events] == [
        "ev-learner-a-1",
        "ev-learner-a-2",
        "ev-learner-a-3",
    ]
    assert events[0].envelope.prevhash is None
    report = verify_chain((e.sequence, e.body) for e in events)
    assert report.intact and report.checked == 3


async def test_a_stale_expected_sequence_is_refused_and_nothing_is_stored(js, nc):
    store = EventStore(js, client=nc)
    await store.append(ALICE, [recorded("learner-a", 1)], expected=NO_EVENTS)
    await store.append(BOB, [recorded("learner-b", 1)], expected=NO_EVENTS)
    before = await stream_count(js)

    with pytest.raises(ConcurrencyConflict) as conflict:
        await store.append(ALICE, [recorded("learner-a", 2)], expected=NO_EVENTS)

    assert conflict.value.expected == 0 and conflict.value.actual == 1
    assert await stream_count(js) == before


async def test_another_learners_appends_do_not_conflict(js, nc):
    store = EventStore(js, client=nc)
    a1 = await store.append(ALICE, [recorded("learner-a", 1)], expected=NO_EVENTS)
    await store.append(BOB, [recorded("learner-b", 1)], expected=NO_EVENTS)
    a2 = await store.append(ALICE, [recorded("learner-a", 2)], expected=a1.last_sequence)
    assert a2.last_sequence == 3


async def test_a_duplicate_append_is_stored_once(js, nc):
    store = EventStore(js, client=nc)
    event = recorded("learner-a", 1, id="fixed-event-id")
    await store.append(ALICE, [event])
    again = await store.append(ALICE, [event])
    again_with_stale_expectation = await store.append(ALICE, [event], expected=NO_EVENTS)

    assert await stream_count(js) == 1
    assert again.last_sequence == again_with_stale_expectation.last_sequence == 1


class LosesFirstAck:
    """Publishing whose first publish lands on the server but whose ack is lost."""

    def __init__(self) -> None:
        self.lost = 0

    async def __call__(self, *args, **kwargs):
        ack = await publish_acked(*args, **kwargs)
        if self.lost == 0:
            self.lost += 1
            raise NatsTimeout
        return ack


async def test_a_retried_append_after_a_lost_ack_reports_success(js, nc, monkeypatch):
    store = EventStore(js, client=nc)
    first = await store.append(ALICE, [recorded("learner-a", 1)], expected=NO_EVENTS)
    flaky = LosesFirstAck()
    monkeypatch.setattr(event_store, "publish_acked", flaky)

    result = await EventStore(js, client=nc).append(
        ALICE, [recorded("learner-a", 2)], expected=first.last_sequence
    )

    assert flaky.lost == 1
    assert result.last_sequence == 2
    assert await stream_count(js) == 2
    assert [e.sequence for e in await store.read(ALICE)] == [1, 2]


async def test_concurrent_appends_any_keep_one_unbroken_chain(js, nc):
    store = EventStore(js, client=nc)
    await asyncio.gather(
        *(store.append(ALICE, [recorded("learner-a", n)], ANY) for n in range(1, 9))
    )

    events = await store.read(ALICE)
    assert len(events) == 8
    assert verify_chain((e.sequence, e.body) for e in events).intact


async def test_read_up_to_a_time_leaves_out_later_events(js, nc):
    store = EventStore(js, client=nc)
    await store.append(ALICE, [recorded("learner-a", 1)])
    cut = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await store.append(ALICE, [recorded("learner-a", 2)])

    assert [e.envelope.data.evidence_id for e in await store.read(ALICE, until=cut)] == [
        "ev-learner-a-1"
    ]
    assert len(await store.read(ALICE)) == 2
    assert await store.read(BOB) == []


async def test_a_stored_v1_event_is_read_back_as_the_current_version(js, nc):
    import json

    from shared_events.events.profiles import LearnerRegistered

    v1 = {
        "specversion": "1.0",
        "id": "9b1d0c6e-0000-4000-8000-000000000001",
        "type": "profiles.learner_registered",
        "source": "profiles",
        "time": "2026-09-01T08:00:00Z",
        "subject": "lrn-1",
        "district": "d1",
        "dataschema": "urn:learner-ledger:event:profiles.learner_registered:1",
        "schemaversion": 1,
        "data": {
            "learner_id": "lrn-1",
            "grade_level": "10",
            "identity": {"key_id": "k1", "nonce": "bg", "ciphertext": "Yw"},
        },
    }
    # Written by an older release: the bytes stay as they were stored.
    await js.publish("profiles.d1.lrn-1.registered", json.dumps(v1).encode())

    [stored] = await EventStore(js, client=nc).read(Timeline("profiles", "d1", "lrn-1"))

    assert isinstance(stored.envelope.data, LearnerRegistered)
    assert stored.envelope.schemaversion == 2
    assert stored.envelope.data.grade_levels == ("10",)
    assert json.loads(stored.body)["schemaversion"] == 1


async def test_a_changed_stored_event_breaks_the_chain_at_the_next_link(js, nc):
    store = EventStore(js, client=nc)
    for n in (1, 2, 3):
        await store.append(ALICE, [recorded("learner-a", n)])
    events = [(e.sequence, e.body) for e in await store.read(ALICE)]
    assert verify_chain(events).intact

    seq, body = events[1]
    forged = body.replace(b'"score":0.5', b'"score":1.0')
    assert forged != body
    report = verify_chain([events[0], (seq, forged), events[2]])

    assert not report.intact
    assert report.broken is not None
    assert report.broken.sequence == events[2][0]
    assert report.checked == 2
    assert f"sequence {events[2][0]}" in str(report.broken)


async def test_a_removed_event_breaks_the_chain_where_it_was(js, nc):
    store = EventStore(js, client=nc)
    for n in (1, 2, 3):
        await store.append(ALICE, [recorded("learner-a", n)])
    events = [(e.sequence, e.body) for e in await store.read(ALICE)]

    report = verify_chain([events[0], events[2]])

    assert report.broken is not None
    assert report.broken.sequence == events[2][0]


async def stored_headers(js, sequence: int) -> dict[str, str]:
    return dict((await js.get_msg("EVIDENCE", sequence)).headers or {})


async def test_the_events_of_one_append_go_out_back_to_back_each_expecting_its_predecessor(js, nc):
    store = EventStore(js, client=nc)
    events = [recorded("learner-a", n) for n in (1, 2, 3)]
    appended = await store.append(ALICE, events, expected=NO_EVENTS)

    assert appended.sequences == (1, 2, 3)
    first, second, third = [await stored_headers(js, s) for s in appended.sequences]
    assert first["Nats-Expected-Last-Subject-Sequence"] == "0"
    assert second["Nats-Expected-Last-Msg-Id"] == events[0].id
    assert third["Nats-Expected-Last-Msg-Id"] == events[1].id
    stored = await store.read(ALICE)
    assert verify_chain((e.sequence, e.body) for e in stored).intact


def interleaving(js, interloper):
    """publish_all_acked that lets `interloper` publish right after the first message."""
    real = event_store.publish_all_acked

    async def publish(nc, messages, **kwargs):
        first = await real(nc, messages[:1], **kwargs)
        await interloper()
        return first + await real(nc, messages[1:], **kwargs)

    return publish


async def test_another_timeline_getting_between_two_events_sends_the_rest_one_at_a_time(
    js, nc, monkeypatch
):
    store = EventStore(js, client=nc)

    async def bob_appends():
        await store.append(BOB, [recorded("learner-b", 1)], expected=NO_EVENTS)

    monkeypatch.setattr(event_store, "publish_all_acked", interleaving(js, bob_appends))
    appended = await store.append(
        ALICE, [recorded("learner-a", 1), recorded("learner-a", 2)], expected=NO_EVENTS
    )

    # The server refused Alice's second event behind Bob's; it went again, checked by sequence.
    assert appended.sequences == (1, 3)
    second = await stored_headers(js, 3)
    assert "Nats-Expected-Last-Msg-Id" not in second
    assert second["Nats-Expected-Last-Subject-Sequence"] == "1"
    assert await stream_count(js) == 3
    stored = await store.read(ALICE)
    assert verify_chain((e.sequence, e.body) for e in stored).intact


async def test_a_writer_getting_between_two_events_of_the_same_timeline_is_a_conflict(
    js, nc, monkeypatch
):
    store = EventStore(js, client=nc)

    async def other_writer():
        await EventStore(js, client=nc).append(ALICE, [recorded("learner-a", 99)], ANY)

    monkeypatch.setattr(event_store, "publish_all_acked", interleaving(js, other_writer))
    with pytest.raises(ConcurrencyConflict):
        await store.append(
            ALICE, [recorded("learner-a", 1), recorded("learner-a", 2)], expected=NO_EVENTS
        )

    stored = await store.read(ALICE)
    assert [e.envelope.data.evidence_id for e in stored] == ["ev-learner-a-1", "ev-learner-a-99"]
    assert verify_chain((e.sequence, e.body) for e in stored).intact


async def test_lost_acks_of_back_to_back_events_are_asked_again_and_stored_once(
    js, nc, monkeypatch
):
    real = event_store.publish_all_acked

    async def first_ack_lost(nc, messages, **kwargs):
        acks = await real(nc, messages, **kwargs)
        return [TimeoutError("lost"), *acks[1:]]

    monkeypatch.setattr(event_store, "publish_all_acked", first_ack_lost)
    store = EventStore(js, client=nc)
    appended = await store.append(
        ALICE, [recorded("learner-a", 1), recorded("learner-a", 2)], expected=NO_EVENTS
    )

    assert appended.sequences == (1, 2)
    assert await stream_count(js) == 2


async def test_appends_made_while_the_server_restarts_are_stored_once_after_the_reconnect(
    tmp_path,
):
    """An append published into a dead connection (its events written at once, ADR 1) lands
    once the server is back: nats-py keeps what was published for the reconnect, and an append
    whose acks do not come retries with the same ids. Nothing twice, the chain unbroken."""
    from eventlog.connection import connect
    from eventlog.embedded_nats import EmbeddedNats, free_port
    from eventlog.stream_setup import ensure_streams
    from shared_events.streams import ALL

    server = EmbeddedNats(tmp_path / "nats", port=free_port())
    server.start()
    nc = await connect(server.url, name="restart-test")
    try:
        js = nc.jetstream()
        await ensure_streams(js, ALL)
        store = EventStore(js, client=nc, publish_timeout=2.0)
        first = await store.append(ALICE, [recorded("learner-a", 1)], expected=NO_EVENTS)

        server.stop()
        appending = asyncio.create_task(
            store.append(
                ALICE,
                [recorded("learner-a", 2), recorded("learner-a", 3)],
                expected=first.last_sequence,
                prevhash=first.last_hash,
            )
        )
        await asyncio.sleep(0.5)  # published into a dead connection
        server.start()
        await asyncio.wait_for(appending, timeout=30)

        events = await store.read(ALICE)
        assert [e.envelope.data.evidence_id for e in events] == [
            "ev-learner-a-1",
            "ev-learner-a-2",
            "ev-learner-a-3",
        ]
        assert verify_chain((e.sequence, e.body) for e in events).intact
    finally:
        await nc.close()
        server.stop()
