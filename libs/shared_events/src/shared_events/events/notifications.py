"""Events published by the notifications service, on `notifications.<district>.<learner>.<kind>`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared_events.envelope import Event

Channel = Literal["inbox", "email", "webhook"]
RecipientRole = Literal["learner", "guardian", "teacher"]


class NotificationQueued(Event):
    """A message will be sent; at most one per (cause, recipient, channel)."""

    event_type = "notifications.notification_queued"
    kind = "queued"

    notification_id: str
    learner_id: str
    cause_event_id: str
    recipient_id: str = Field(description="pseudonymous id of the recipient")
    recipient_role: RecipientRole
    channel: Channel
    template: str
    locale: str = "en"


class NotificationDelivered(Event):
    event_type = "notifications.notification_delivered"
    kind = "delivered"

    notification_id: str
    learner_id: str
    channel: Channel
    attempts: int = Field(ge=1)


class NotificationFailed(Event):
    event_type = "notifications.notification_failed"
    kind = "failed"

    notification_id: str
    learner_id: str
    channel: Channel
    attempts: int = Field(ge=1)
    reason: str
