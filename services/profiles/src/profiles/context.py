"""What the profiles service's commands and queries need, built once per running service."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from eventlog.sealing import KeyStore, Pseudonyms, Sealer
from eventlog.service import ServiceBound

DIRECTORY = "profiles-directory"


class KeyedIds:
    """Pseudonymous ids and digests keyed with the deployment's pseudonym secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._pseudonyms = Pseudonyms(secret)

    def learner_id(self, district: str, external_id: str) -> str:
        return self._pseudonyms.learner_id(district, external_id)

    def person_id(self, district: str, external_id: str) -> str:
        return self._pseudonyms.person_id(district, external_id)

    def class_id(self, district: str, external_id: str) -> str:
        return self._pseudonyms.class_id(district, external_id)

    def digest(self, value: Mapping[str, Any]) -> str:
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        return hmac.new(self._secret, b"digest\x1f" + canonical, hashlib.sha256).hexdigest()


class ProfilesContext(ServiceBound):
    """Keys, pseudonyms and the running service; bound to the service once it exists."""

    def __init__(self, master_key: bytes, pseudonym_secret: bytes) -> None:
        super().__init__()
        self._master_key = master_key
        self.ids = KeyedIds(pseudonym_secret)

    @cached_property
    def keys(self) -> KeyStore:
        return KeyStore(self.service.engine, self._master_key)

    @cached_property
    def sealer(self) -> Sealer:
        return Sealer(self.keys)

    async def directory_caught_up(self) -> None:
        await self.service.projector(DIRECTORY).wait_caught_up()
