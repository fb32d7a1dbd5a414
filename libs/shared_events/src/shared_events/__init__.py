"""The Learner Ledger event contract.

Every service imports its events, envelope, subjects and stream definitions from here and nowhere
else, so the contract lives once.
"""

from shared_events.codec import decode, encode
from shared_events.envelope import Envelope, Event, event_class, registered_events
from shared_events.subjects import Timeline

__all__ = [
    "Envelope",
    "Event",
    "Timeline",
    "decode",
    "encode",
    "event_class",
    "registered_events",
]
