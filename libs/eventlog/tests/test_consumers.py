"""Durable consumers are created with an explicit config and reconciled when it changes."""

from __future__ import annotations

import pytest
from nats.js.api import AckPolicy, ConsumerConfig

from eventlog.consumers import ConsumerSpec, ensure_consumer
from eventlog.event_store import EventStore
from eventlog.redelivery import RetryPolicy
from shared_events import Timeline

from .events_for_tests import recorded

pytestmark = pytest.mark.integration


async def test_a_changed_config_is_applied_not_silently_ignored(js):
    spec = ConsumerSpec("pathways-mastery", "EVIDENCE", ("evidence.*.*.mastery",))
    assert await ensure_consumer(js, spec) == "created"
    assert await ensure_consumer(js, spec) == "unchanged"

    changed = ConsumerSpec(
        "pathways-mastery",
        "EVIDENCE",
        ("evidence.*.*.mastery", "evidence.*.*.voided"),
        retry=RetryPolicy(max_deliver=9, ack_wait=12.0),
    )
    assert await ensure_consumer(js, changed) == "updated"

    config = (await js.consumer_info("EVIDENCE", "pathways-mastery")).config
    assert config.max_deliver == 9
    assert config.ack_wait == 12.0
    assert sorted(config.filter_subjects) == ["evidence.*.*.mastery", "evidence.*.*.voided"]


async def test_a_consumer_that_cannot_be_updated_is_recreated_where_it_had_reached(js):
    store = EventStore(js)
    for n in (1, 2, 3):
        await store.append(Timeline("evidence", "d1", "learner-a"), [recorded("learner-a", n)])
    # An older release created this durable with ack-all; the ack policy cannot be updated.
    await js.add_consumer(
        "EVIDENCE",
        ConsumerConfig(
            durable_name="profiles-evidence",
            ack_policy=AckPolicy.ALL,
            filter_subject="evidence.>",
        ),
    )
    sub = await js.pull_subscribe_bind(durable="profiles-evidence", stream="EVIDENCE")
    for msg in await sub.fetch(2, timeout=2):
        await msg.ack_sync()
    await sub.unsubscribe()

    spec = ConsumerSpec("profiles-evidence", "EVIDENCE", ("evidence.>",))
    assert await ensure_consumer(js, spec) == "recreated"

    info = await js.consumer_info("EVIDENCE", "profiles-evidence")
    assert info.config.ack_policy == AckPolicy.EXPLICIT
    sub = await js.pull_subscribe_bind(durable="profiles-evidence", stream="EVIDENCE")
    remaining = await sub.fetch(5, timeout=2)
    assert [m.metadata.sequence.stream for m in remaining] == [3]
