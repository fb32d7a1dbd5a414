"""Events published by the notifications service, on `notifications.<district>.<learner>.<kind>`
(a notification, filed under the learner it is about), `notifications.<district>.<person>.<kind>`
(a recipient's preferences) and `notifications.<district>.settings.<kind>` (district settings)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field

from shared_events.envelope import Event, Value
from shared_events.pii import Sealed

Channel = Literal["inbox", "email", "webhook"]
RecipientRole = Literal["learner", "guardian", "teacher", "district"]
Trigger = Literal[
    "mastery_gained",
    "mastery_lost",
    "intervention_recommended",
    "goal_at_risk",
    "goal_achieved",
    "pathway_completed",
]
Audience = Literal["learner", "guardians", "teachers"]


class NotificationQueued(Event):
    """A message will be sent; at most one per (cause, recipient, channel)."""

    event_type = "notifications.notification_queued"
    kind = "queued"

    notification_id: str
    learner_id: str
    cause_event_id: str
    recipient_id: str = Field(description="pseudonymous id of the recipient (or the webhook)")
    recipient_role: RecipientRole
    channel: Channel
    template: str
    locale: str = "en"
    facts: dict[str, str] = Field(
        default_factory=dict, description="what the template says: ids, levels, never PII"
    )
    deliver_after: AwareDatetime | None = Field(
        default=None, description="not before this (quiet hours, or the daily digest's time)"
    )
    digest: bool = False


class NotificationDelivered(Event):
    event_type = "notifications.notification_delivered"
    kind = "delivered"

    notification_id: str
    learner_id: str
    channel: Channel
    attempts: int = Field(ge=1)
    digest_id: str | None = Field(default=None, description="the digest that carried it")


class NotificationFailed(Event):
    event_type = "notifications.notification_failed"
    kind = "failed"

    notification_id: str
    learner_id: str
    channel: Channel
    attempts: int = Field(ge=1)
    reason: str


class NotificationRead(Event):
    """The recipient opened an in-app notification."""

    event_type = "notifications.notification_read"
    kind = "read"

    notification_id: str
    learner_id: str
    recipient_id: str
    read_at: datetime


class NotificationRule(Value):
    trigger: Trigger
    audiences: tuple[Audience, ...]
    enabled: bool = True


class NotificationRulesSet(Event):
    """What triggers a notification in the district, and to whom; replaces the rules before."""

    event_type = "notifications.rules_set"
    kind = "rules_set"

    version: int = Field(ge=1)
    rules: tuple[NotificationRule, ...]
    set_by: str


class SenderSet(Event):
    """The district's email sender settings."""

    event_type = "notifications.sender_set"
    kind = "sender_set"

    from_address: str
    from_name: str
    reply_to: str | None = None
    set_by: str


class WebhookSet(Event):
    """A district system that receives notifications as signed HTTPS POSTs."""

    event_type = "notifications.webhook_set"
    kind = "webhook_set"

    webhook_id: str
    url: str
    triggers: tuple[Trigger, ...]
    secret: Sealed = Field(description="the HMAC key, sealed with the district's data key")
    enabled: bool = True
    set_by: str


class QuietHours(Value):
    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="HH:MM, local time")
    end: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    timezone: str = "UTC"


class PreferencesSet(Event):
    """A recipient's choices: channels per trigger, quiet hours, language, daily digest."""

    event_type = "notifications.preferences_set"
    kind = "preferences_set"

    person_id: str
    channels: dict[Trigger, tuple[Channel, ...]] = Field(default_factory=dict)
    quiet_hours: QuietHours | None = None
    language: Literal["en", "es"] = "en"
    digest: bool = Field(default=False, description="one message a day instead of each event")
    digest_time: str = Field(default="16:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    set_by: str
