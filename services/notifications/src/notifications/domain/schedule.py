"""When a message may go: after a recipient's quiet hours, at their daily digest time; and
when a failed delivery is tried again (exponential backoff with jitter)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from shared_events.events.notifications import QuietHours


def _clock(hhmm: str) -> time:
    hours, minutes = hhmm.split(":")
    return time(int(hours), int(minutes))


def after_quiet_hours(now: datetime, quiet: QuietHours | None) -> datetime | None:
    """When quiet hours end, if `now` falls inside them; None when it may go now. Quiet hours
    may span midnight (21:00 to 07:00)."""
    if quiet is None:
        return None
    zone = ZoneInfo(quiet.timezone)
    local = now.astimezone(zone)
    start, end = _clock(quiet.start), _clock(quiet.end)
    at = local.time()
    inside = start <= at < end if start < end else (at >= start or at < end)
    if not inside:
        return None
    end_day = local.date() if at < end else local.date() + timedelta(days=1)
    return datetime.combine(end_day, end, tzinfo=zone)


def next_digest(now: datetime, digest_time: str, timezone: str = "UTC") -> datetime:
    """The next daily digest time at or after `now`, in the recipient's time zone."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    at = datetime.combine(local.date(), _clock(digest_time), tzinfo=zone)
    return at if at >= local else at + timedelta(days=1)


def backoff(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Seconds to wait after failed attempt `attempt` (1, 2, …): base·2^(attempt-1), capped,
    scaled by `jitter` in [0.5, 1.5) so that replicas retrying together spread out."""
    return min(cap, base * 2 ** (attempt - 1)) * jitter
