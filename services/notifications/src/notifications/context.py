"""What the notifications service's handlers, deliverer and routes share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from eventlog.sealing import KeyStore, Sealer
from eventlog.service import ServiceBound
from eventlog.sql import create_engine
from notifications.config import DeliverySettings
from shared_events import Envelope, Event, Timeline
from shared_events.envelope import derived_event_id

SOURCE = "notifications"


def utc_now() -> datetime:
    return datetime.now(UTC)


class NotificationsContext(ServiceBound):
    def __init__(
        self,
        delivery: DeliverySettings,
        master_key: bytes,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        super().__init__()
        self.delivery = delivery
        self.clock = clock
        self._master_key = master_key
        self._keys: KeyStore | None = None

    @property
    def keys(self) -> KeyStore:
        """People's data keys: the same store the profiles service seals identities with."""
        if self._keys is None:
            url = self.delivery.keystore_url
            # Another service's database lives as long as this process.
            engine = create_engine(url) if url else self.service.engine
            self._keys = KeyStore(engine, self._master_key)
        return self._keys

    @property
    def sealer(self) -> Sealer:
        return Sealer(self.keys)

    async def append(
        self, district: str, entity: str, events: list[tuple[str, Event]], cause: str | None
    ) -> None:
        """Append `(what it is for, event)` pairs to `notifications.<district>.<entity>.*`;
        each id derives from what it is for (a notification id and its outcome), so the same
        decision appended again is a duplicate the log drops."""
        envelopes = [
            Envelope.wrap(
                event,
                source=SOURCE,
                subject=entity,
                district=district,
                id=derived_event_id(purpose),
                causationid=cause,
            )
            for purpose, event in events
        ]
        await self.service.store.append(Timeline("notifications", district, entity), envelopes)
