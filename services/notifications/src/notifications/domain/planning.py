"""Who gets what, through which channel, when: one NotificationQueued per (occasion, recipient,
channel), from the district's rules and each recipient's preferences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from notifications.domain.delivery import notification_id
from notifications.domain.rules import DEFAULT_RULES, URGENT, Occasion, audiences_for
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


@dataclass(frozen=True)
class Circumstances:
    """What the read models say about a set of occasions: their learners, the people who may
    hear of them, their districts' settings, the competencies they name. Planning any of the
    occasions needs nothing else."""

    erased: frozenset[str] = frozenset()
    """Learners erased: nothing is said about them."""
    audiences: Mapping[str, Mapping[Audience, Sequence[str]]] = field(default_factory=dict)
    """Per learner; a learner missing here is their only audience."""
    preferences: Mapping[str, PreferencesSet] = field(default_factory=dict)
    """Per person who set theirs."""
    rules: Mapping[str, tuple[NotificationRule, ...]] = field(default_factory=dict)
    """Per district that set its own; the others (and any that set none) follow DEFAULT_RULES."""
    webhooks: Mapping[str, Sequence[Webhook]] = field(default_factory=dict)
    """Per district."""
    statements: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """Per (district, competency id): what the competency says, to name it in messages."""


def plan_in(
    known: Circumstances, district: str, occasion: Occasion, now: datetime
) -> list[NotificationQueued]:
    """`plan` for an occasion in `district`, on what is known: nothing about an erased learner;
    the district's rules, or the defaults; the competency an occasion is about named by its
    statement (or its id)."""
    if occasion.learner_id in known.erased:
        return []
    if "competency_id" in occasion.facts:
        competency = occasion.facts["competency_id"]
        statement = known.statements.get((district, competency)) or competency
        occasion = replace(occasion, facts={**occasion.facts, "competency": statement})
    return plan(
        occasion,
        known.rules.get(district) or DEFAULT_RULES,
        known.audiences.get(occasion.learner_id, {"learner": [occasion.learner_id]}),
        known.preferences,
        known.webhooks.get(district, ()),
        now,
    )


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
