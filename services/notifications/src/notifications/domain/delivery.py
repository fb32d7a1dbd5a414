"""What makes one notification: at most one per (cause, recipient, channel)."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("0b6f8f5e-8a1e-4f53-b6a5-3f2d4c1a9e77")


def notification_id(cause_event_id: str, recipient_id: str, channel: str) -> str:
    """The same cause, recipient and channel always name the same notification."""
    return str(uuid.uuid5(_NAMESPACE, f"{cause_event_id}|{recipient_id}|{channel}"))
