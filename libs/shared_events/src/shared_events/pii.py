"""Personal data inside events travels sealed: encrypted with the learner's own data key.

Erasing a learner destroys that key (crypto-shredding): the sealed values become noise while every
other fact about the learner (pseudonymous id, decisions) stays readable and auditable.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared_events.envelope import Value


class Sealed(Value):
    """A value encrypted with a learner's data key (AES-256-GCM); opaque to everyone else."""

    alg: Literal["A256GCM"] = "A256GCM"
    key_id: str = Field(min_length=1, description="Which data key sealed it (one per learner).")
    nonce: str = Field(min_length=1, description="base64url, 12 bytes")
    ciphertext: str = Field(min_length=1, description="base64url ciphertext with its GCM tag")
