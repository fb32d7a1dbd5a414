"""Durable consumers with an explicit config, reconciled when the config changes.

JetStream keeps a durable's old config when a client binds with a new one, silently. Here the
wanted config is compared with the server's; a difference is applied as an update, and where the
server refuses an update (some fields cannot change), the consumer is recreated at the position
the old one had reached, so nothing is skipped or replayed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError, NotFoundError

from eventlog.redelivery import RetryPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """What a durable pull consumer should be; its start only matters when it is created."""

    name: str
    stream: str
    subjects: tuple[str, ...]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_ack_pending: int = 1000
    description: str = ""
    inactive_threshold: float | None = None
    ack_policy: AckPolicy = AckPolicy.EXPLICIT
    """ALL for a consumer read in order that acknowledges a batch by its last message."""
    deliver_group: str | None = None
    """Set for push consumers (handlers): their messages go to `deliver_subject`, shared by
    every replica in this queue group."""

    @property
    def deliver_subject(self) -> str | None:
        return f"_ledger.deliver.{self.deliver_group}" if self.deliver_group else None

    def config(self, start_sequence: int | None = None) -> ConsumerConfig:
        # Redelivery after a crash waits ack_wait; after a failure the handler NAKs with the
        # retry policy's delay, so the consumer itself carries no backoff list.
        return ConsumerConfig(
            durable_name=self.name,
            name=self.name,
            description=self.description or None,
            ack_policy=self.ack_policy,
            ack_wait=self.retry.ack_wait,
            max_deliver=self.retry.max_deliver,
            max_ack_pending=self.max_ack_pending,
            filter_subjects=list(self.subjects),
            deliver_subject=self.deliver_subject,
            inactive_threshold=self.inactive_threshold,
            deliver_group=self.deliver_group,
            deliver_policy=(
                DeliverPolicy.BY_START_SEQUENCE if start_sequence else DeliverPolicy.ALL
            ),
            opt_start_seq=start_sequence or None,
        )


_RECONCILED = (
    "ack_wait",
    "max_deliver",
    "max_ack_pending",
    "filter_subjects",
    "description",
    "ack_policy",
    "deliver_subject",
    "deliver_group",
)


def _differences(current: ConsumerConfig, wanted: ConsumerConfig) -> list[str]:
    def norm(name: str, value: object) -> object:
        if name == "filter_subjects":
            return sorted(value or [])  # type: ignore[call-overload]
        if isinstance(value, list):
            return [round(v, 3) for v in value]
        if isinstance(value, float):
            return round(value, 3)
        return value

    current_filters = current.filter_subjects or (
        [current.filter_subject] if current.filter_subject else []
    )
    diffs = []
    for name in _RECONCILED:
        have = current_filters if name == "filter_subjects" else getattr(current, name)
        if norm(name, have) != norm(name, getattr(wanted, name)):
            diffs.append(name)
    return diffs


async def ensure_consumer(
    js: JetStreamContext, spec: ConsumerSpec, start_sequence: int | None = None
) -> str:
    """Create the durable (at `start_sequence`, default the beginning) or reconcile its config.

    Returns "created", "unchanged", "updated" or "recreated".
    """
    try:
        info = await js.consumer_info(spec.stream, spec.name)
    except NotFoundError:
        await js.add_consumer(spec.stream, spec.config(start_sequence))
        log.info("consumer %s created on %s", spec.name, spec.stream)
        return "created"
    diffs = _differences(info.config, spec.config())
    if not diffs:
        return "unchanged"
    wanted = spec.config()
    wanted.deliver_policy = info.config.deliver_policy
    wanted.opt_start_seq = info.config.opt_start_seq
    wanted.opt_start_time = info.config.opt_start_time
    try:
        await js.add_consumer(spec.stream, wanted)
        log.info("consumer %s updated: %s", spec.name, ", ".join(diffs))
        return "updated"
    except APIError as exc:
        resume_at = (info.ack_floor.stream_seq if info.ack_floor else 0) + 1
        log.warning(
            "consumer %s cannot be updated (%s); recreating at sequence %d",
            spec.name,
            exc.description,
            resume_at,
        )
        await js.delete_consumer(spec.stream, spec.name)
        for attempt in range(10):
            try:
                await js.add_consumer(spec.stream, spec.config(resume_at))
                return "recreated"
            except APIError as again:
                # nats-server 2.15 may still be removing the old consumer's files: a moment
                # later the same name can be created.
                if again.code != 500 or attempt == 9:
                    raise
                await asyncio.sleep(0.2)
        raise AssertionError("unreachable") from exc
