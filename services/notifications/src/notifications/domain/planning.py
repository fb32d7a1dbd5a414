"""Who gets what, through which channel, when: one NotificationQueued per (occasion, recipient,
channel), from the district's rules and each recipient's preferences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from notifications.domain.delivery import notification_id
from notifications.domain.rules import URGENT, Occasion, audiences_for
from notifications.domain.schedule import after_quiet_hours, next_digest
from shared_events.events.notifications import (
    Audience,
    Channel,
    NotificationQueued,
    NotificationRule,
    PreferencesSet,
    RecipientRole,
    Trigger,
)

DEFAULT_CHANNELS: dict[str, tuple[Channel, ...]] = {
    "learner": ("inbox",),
    "guardian": ("inbox", "email"),
    "teacher": ("inbox", "email"),
}

_ROLE: dict[Audience, RecipientRole] = {
    "learner": "learner",
    "guardians": "guardian",
    "teachers": "teacher",
}


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    triggers: tuple[Trigger, ...]
    enabled: bool = True


def plan(
    occasion: Occasion,
    rules: tuple[NotificationRule, ...],
    audiences: Mapping[Audience, Sequence[str]],
    preferences: Mapping[str, PreferencesSet],
    webhooks: Sequence[Webhook],
    now: datetime,
) -> list[NotificationQueued]:
    """The notifications an occasion calls for. `audiences` names the people in each audience
    (the learner, their guardians, their teachers); `now` is when it is decided."""
    queued: list[NotificationQueued] = []
    for audience in audiences_for(rules, occasion.trigger):
        role = _ROLE[audience]
        for person in audiences.get(audience, ()):
            prefs = preferences.get(person)
            channels = (
                prefs.channels.get(occasion.trigger, DEFAULT_CHANNELS[role])
                if prefs
                else DEFAULT_CHANNELS[role]
            )
            for channel in channels:
                if channel == "webhook":
                    continue  # webhooks belong to the district, not to a person
                queued.append(_queued(occasion, person, role, channel, prefs, now))
    for hook in webhooks:
        if hook.enabled and occasion.trigger in hook.triggers:
            queued.append(_queued(occasion, hook.webhook_id, "district", "webhook", None, now))
    return queued


def _queued(
    occasion: Occasion,
    recipient: str,
    role: RecipientRole,
    channel: Channel,
    prefs: PreferencesSet | None,
    now: datetime,
) -> NotificationQueued:
    deliver_after = None
    digest = False
    if prefs is not None and channel == "email":
        zone = prefs.quiet_hours.timezone if prefs.quiet_hours else "UTC"
        if prefs.digest and occasion.trigger not in URGENT:
            digest, deliver_after = True, next_digest(now, prefs.digest_time, zone)
        else:
            deliver_after = after_quiet_hours(now, prefs.quiet_hours)
    return NotificationQueued(
        notification_id=notification_id(occasion.cause_event_id, recipient, channel),
        learner_id=occasion.learner_id,
        cause_event_id=occasion.cause_event_id,
        recipient_id=recipient,
        recipient_role=role,
        channel=channel,
        template=occasion.trigger,
        locale=prefs.language if prefs else "en",
        facts=dict(occasion.facts),
        deliver_after=deliver_after,
        digest=digest,
    )
