"""Webhook signatures: HMAC-SHA256 over the timestamp and the body, so a receiver can check
that a request is ours, unaltered, and recent (it compares the timestamp with its clock)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Ledger-Signature"
DELIVERY_HEADER = "X-Ledger-Delivery"


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, header: str, body: bytes, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and the timestamp is within `tolerance`."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header)
