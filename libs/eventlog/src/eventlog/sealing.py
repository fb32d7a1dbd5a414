"""Per-subject data keys, the sealing of personal data with them, and pseudonymous ids.

Every subject (a learner) gets its own random AES-256 data key. Personal data is sealed with it
before it enters an event; erasing the subject deletes the key, and every value it ever sealed
becomes noise (crypto-shredding) while the rest of the log stays readable. Data keys are stored
wrapped with a master key, so the key table alone (a backup, a copied row) opens nothing.

Pseudonyms are the other half: keyed hashes of external ids, safe to put in subjects, headers,
metric labels and logs, and stable for as long as the pseudonym secret is.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    ColumnElement,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from shared_events.pii import Sealed

KEY_BYTES = 32
NONCE_BYTES = 12

keystore_metadata = MetaData()

data_keys = Table(
    "data_keys",
    keystore_metadata,
    Column("subject_id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False, unique=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)


class Shredded(Exception):
    """The key that sealed a value no longer exists: its subject was erased."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"data key {key_id} no longer exists (its subject was erased)")
        self.key_id = key_id


class KeyStore:
    """The data keys, one per subject, kept wrapped in the `data_keys` table.

    Unwrapped keys are cached per process. `destroy` evicts its own cache; another process that
    already holds the key keeps opening values until the key leaves its cache or it restarts.
    """

    def __init__(self, engine: AsyncEngine, master_key: bytes, *, cache_size: int = 10_000) -> None:
        _require_key_length(len(master_key), "master key")
        self._engine = engine
        self._master = AESGCM(master_key)
        self._cache = _KeyCache(cache_size)
        self._erasures = 0  # how many destroys this store has done; see _read

    async def data_key(self, subject_id: str) -> tuple[str, bytes]:
        """The subject's `(key_id, key)`, created on first use.

        After `destroy` this creates a new key: what the old one sealed stays shredded.
        """
        _require_subject_id(subject_id)
        if cached := self._cache.by_subject(subject_id):
            return cached
        while (stored := await self._read(data_keys.c.subject_id == subject_id)) is None:
            key_id, key = f"k_{secrets.token_urlsafe(16)}", AESGCM.generate_key(bit_length=256)
            # Another coroutine or process may be creating this subject's key right now: whichever
            # insert lands first wins, and everyone reads back that one key.
            async with self._engine.begin() as conn:
                await conn.execute(self._insert_or_ignore(subject_id, key_id, key))
        return stored

    async def key(self, key_id: str) -> bytes:
        """The data key named `key_id`; raises `Shredded` if its subject was erased."""
        if cached := self._cache.by_key_id(key_id):
            return cached
        if (stored := await self._read(data_keys.c.key_id == key_id)) is None:
            raise Shredded(key_id)
        return stored[1]

    async def destroy(self, subject_id: str) -> bool:
        """Delete the subject's key for good; True if there was one."""
        on_sqlite = self._engine.dialect.name == "sqlite"
        async with self._engine.begin() as conn:
            if on_sqlite:
                # Zero the row's bytes in the page instead of just unlinking them. The engine
                # should set this on every connection too: it also covers rows moved earlier.
                await conn.execute(text("PRAGMA secure_delete=ON"))
            deleted = await conn.execute(
                data_keys.delete().where(data_keys.c.subject_id == subject_id)
            )
        self._erasures += 1
        self._cache.evict(subject_id)
        if on_sqlite and deleted.rowcount:
            # Older copies of the page sit in the write-ahead log until a checkpoint overwrites
            # the database file and empties the log. A reader still in the log can stop it short:
            # then the old copies linger until the log is next reset.
            async with self._engine.connect() as conn:
                await conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        return bool(deleted.rowcount)

    def forget(self, subject_id: str) -> None:
        """Drop the subject's key from this process's cache (another process destroyed it)."""
        self._cache.evict(subject_id)

    async def exists(self, subject_id: str) -> bool:
        """Whether the subject has a key (asks the database: another process may have erased it)."""
        async with self._engine.connect() as conn:
            found = await conn.scalar(
                select(data_keys.c.key_id).where(data_keys.c.subject_id == subject_id)
            )
        return found is not None

    async def _read(self, where: ColumnElement[bool]) -> tuple[str, bytes] | None:
        erasures = self._erasures
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(data_keys).where(where))).first()
        if row is None:
            return None
        key = self._unwrap(row.key_id, row.wrapped_key)
        # A destroy that finished while we were reading must not find its key cached again.
        if erasures == self._erasures:
            self._cache.put(row.subject_id, row.key_id, key)
        return row.key_id, key

    def _insert_or_ignore(
        self, subject_id: str, key_id: str, key: bytes
    ) -> postgresql.Insert | sqlite.Insert:
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        return (
            dialect.insert(data_keys)
            .values(subject_id=subject_id, key_id=key_id, wrapped_key=self._wrap(key_id, key))
            .on_conflict_do_nothing(index_elements=["subject_id"])
        )

    def _wrap(self, key_id: str, key: bytes) -> bytes:
        # The key id is authenticated with the key, so a wrapped key pasted under another id fails.
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._master.encrypt(nonce, key, key_id.encode())

    def _unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        nonce, sealed_key = wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:]
        try:
            return self._master.decrypt(nonce, sealed_key, key_id.encode())
        except InvalidTag:
            raise ValueError(f"data key {key_id}: cannot unwrap it with this master key") from None


class Sealer:
    """Seals JSON values with their subject's data key, and opens them while the key exists."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    async def seal(self, subject_id: str, value: Any) -> Sealed:
        """`value` (anything JSON can carry) encrypted with `subject_id`'s data key."""
        key_id, key = await self._keys.data_key(subject_id)
        clear = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(key).encrypt(nonce, clear.encode(), key_id.encode())
        return Sealed(key_id=key_id, nonce=_b64encode(nonce), ciphertext=_b64encode(ciphertext))

    async def open(self, sealed: Sealed) -> Any:
        """The value that was sealed; raises `Shredded` once its subject is erased."""
        nonce, ciphertext = _b64decode(sealed.nonce), _b64decode(sealed.ciphertext)
        if len(nonce) != NONCE_BYTES:
            raise ValueError(f"sealed value: nonce must be {NONCE_BYTES} bytes")
        key = await self._keys.key(sealed.key_id)
        try:
            clear = AESGCM(key).decrypt(nonce, ciphertext, sealed.key_id.encode())
        except InvalidTag:
            raise ValueError("sealed value: authentication failed") from None
        return json.loads(clear)


class Pseudonyms:
    """Stable pseudonymous ids for people, learners and classes known by a district's own ids.

    The same secret always yields the same ids; without it, an id cannot be traced back to the
    external id, even by someone who can list every student number. Changing the secret renames
    everyone, so it is as permanent as the log.
    """

    def __init__(self, secret: bytes) -> None:
        # External ids are guessable (student numbers): the secret is all that hides them.
        if len(secret) < KEY_BYTES:
            raise ValueError(f"pseudonym secret must be at least {KEY_BYTES} bytes")
        self._secret = secret

    def learner_id(self, district: str, external_id: str) -> str:
        return self._pseudonym("lrn", "learner", district, external_id)

    def person_id(self, district: str, external_id: str) -> str:
        return self._pseudonym("per", "person", district, external_id)

    def class_id(self, district: str, external_id: str) -> str:
        return self._pseudonym("cls", "class", district, external_id)

    def _pseudonym(self, prefix: str, kind: str, district: str, external_id: str) -> str:
        # The separator must not occur inside a part, or two different inputs could hash alike.
        for part in (district, external_id):
            if not part or "\x1f" in part:
                raise ValueError("district and external id must be non-empty, without \\x1f")
        message = f"{district}\x1f{kind}\x1f{external_id}".encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        # Lowercase base32 keeps the id a valid NATS subject token; 20 characters are 100 bits,
        # all from the digest's first 15 bytes (base32 encodes 5 bytes at a time).
        return f"{prefix}-{base64.b32encode(digest[:15]).decode().lower()[:20]}"


class HasStateDir(Protocol):
    """Settings that name the directory where a dev deployment keeps its generated secrets."""

    @property
    def state_dir(self) -> Path: ...


def master_key_from_settings(settings: HasStateDir) -> bytes:
    """The key that wraps data keys: `LEDGER_MASTER_KEY`, else the dev file `master.key`."""
    return _secret("LEDGER_MASTER_KEY", settings.state_dir / "master.key")


def pseudonym_secret_from_settings(settings: HasStateDir) -> bytes:
    """The pseudonym secret: `LEDGER_PSEUDONYM_KEY`, else the dev file `pseudonym.key`."""
    return _secret("LEDGER_PSEUDONYM_KEY", settings.state_dir / "pseudonym.key")


def _secret(variable: str, dev_file: Path) -> bytes:
    if encoded := os.environ.get(variable, "").strip():
        return _decode_secret(encoded, variable)
    if not dev_file.exists():
        _create_secret_file(dev_file)
    return _decode_secret(dev_file.read_text().strip(), str(dev_file))


def _create_secret_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Services starting together race to create the file. Each writes a complete candidate
    # (mkstemp: O_CREAT|O_EXCL, mode 0600) and links it into place; the link fails for all but
    # the first, so nobody ever reads a half-written key and everyone ends up with the same one.
    fd, candidate = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as file:
            file.write(_b64encode(secrets.token_bytes(KEY_BYTES)) + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(candidate, path)
    finally:
        os.unlink(candidate)


def _decode_secret(encoded: str, source: str) -> bytes:
    # The error names where the secret came from, never any of its characters.
    try:
        secret = _b64decode(encoded)
    except ValueError:
        raise ValueError(f"{source} must be base64url of {KEY_BYTES} bytes") from None
    _require_key_length(len(secret), source)
    return secret


def _require_key_length(length: int, what: str) -> None:
    if length != KEY_BYTES:
        raise ValueError(f"{what} must be {KEY_BYTES} bytes (256 bits), got {length} bytes")


def _require_subject_id(subject_id: str) -> None:
    # SQLite would store a longer id that PostgreSQL refuses: fail alike on both.
    if not 1 <= len(subject_id) <= 64:
        raise ValueError("subject id must be 1 to 64 characters")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_", validate=True)
    except binascii.Error:
        raise ValueError("not base64url") from None


class _KeyCache:
    """Unwrapped keys recently used, by key id and by subject, least recently used first out."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._keys: OrderedDict[str, tuple[str, bytes]] = OrderedDict()  # key id → subject, key
        self._key_ids: dict[str, str] = {}  # subject → key id

    def by_key_id(self, key_id: str) -> bytes | None:
        if (entry := self._keys.get(key_id)) is None:
            return None
        self._keys.move_to_end(key_id)
        return entry[1]

    def by_subject(self, subject_id: str) -> tuple[str, bytes] | None:
        if (key_id := self._key_ids.get(subject_id)) is None:
            return None
        key = self.by_key_id(key_id)
        return None if key is None else (key_id, key)

    def put(self, subject_id: str, key_id: str, key: bytes) -> None:
        self.evict(subject_id)
        self._keys[key_id] = (subject_id, key)
        self._key_ids[subject_id] = key_id
        while len(self._keys) > self._size:
            _, (oldest_subject, _) = self._keys.popitem(last=False)
            del self._key_ids[oldest_subject]

    def evict(self, subject_id: str) -> None:
        if (key_id := self._key_ids.pop(subject_id, None)) is not None:
            self._keys.pop(key_id, None)
