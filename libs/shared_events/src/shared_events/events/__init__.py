"""Every event of the system, one module per publishing service."""

from shared_events.events import evidence, notifications, pathways, profiles

__all__ = ["evidence", "notifications", "pathways", "profiles"]
