"""Sealing personal data per learner, and shredding it by erasing the learner's key.

Key store tests run once on SQLite and once on PostgreSQL; secret files and pseudonyms need neither.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from eventlog.sealing import (
    KeyStore,
    Pseudonyms,
    Sealer,
    Shredded,
    data_keys,
    keystore_metadata,
    master_key_from_settings,
    pseudonym_secret_from_settings,
)
from eventlog.settings import Settings
from eventlog.sql import create_engine

pytestmark = pytest.mark.integration

MASTER_KEY = bytes(range(32))
OTHER_MASTER_KEY = bytes(range(32, 64))
IDENTITY = {
    "given_name": "Zoë",
    "family_name": "Łukasiewicz-Ångström",
    "email": "zoe.lukasiewicz@example.org",
    "external_ids": ["S-1042"],
}


def _secure_delete(dbapi_connection, _record) -> None:
    # What eventlog.sql will set on every SQLite connection: deleted bytes are overwritten.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


@pytest.fixture
async def engine(database_url: str):
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _secure_delete)
    async with engine.begin() as conn:
        await conn.run_sync(keystore_metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def keys(engine) -> KeyStore:
    return KeyStore(engine, MASTER_KEY)


async def stored_rows(engine, subject_id: str) -> list:
    async with engine.connect() as conn:
        query = select(data_keys).where(data_keys.c.subject_id == subject_id)
        return list((await conn.execute(query)).all())


async def test_a_sealed_identity_opens_to_the_same_value(keys):
    sealer = Sealer(keys)

    sealed = await sealer.seal("lrn-1", IDENTITY)

    assert sealed.alg == "A256GCM"
    assert len(base64.urlsafe_b64decode(sealed.nonce + "==")) == 12
    assert await sealer.open(sealed) == IDENTITY


async def test_the_sealed_form_shows_neither_name_nor_email(keys):
    sealed = await Sealer(keys).seal("lrn-1", IDENTITY)

    wire = sealed.model_dump_json()
    ciphertext = base64.urlsafe_b64decode(sealed.ciphertext + "==")
    for clear in ("Zoë", "Zo\\u00eb", "ukasiewicz", "Ångström", "zoe.lukasiewicz", "S-1042"):
        assert clear not in wire
        assert clear.encode() not in ciphertext


async def test_each_learner_has_a_key_of_their_own_and_keeps_it(keys, engine):
    first_id, first_key = await keys.data_key("lrn-1")
    second_id, second_key = await keys.data_key("lrn-2")

    assert first_id != second_id
    assert first_key != second_key
    assert await keys.data_key("lrn-1") == (first_id, first_key)
    assert await KeyStore(engine, MASTER_KEY).data_key("lrn-1") == (first_id, first_key)
    assert "lrn-1" not in first_id


async def test_racing_first_seals_for_a_new_learner_agree_on_one_key(engine):
    # Two stores stand for two processes: neither can see the other's cache.
    stores = [KeyStore(engine, MASTER_KEY), KeyStore(engine, MASTER_KEY)]

    results = await asyncio.gather(*(stores[i % 2].data_key("lrn-new") for i in range(10)))

    assert len(set(results)) == 1
    assert len(await stored_rows(engine, "lrn-new")) == 1


async def test_erasing_a_learner_shreds_everything_sealed_for_them(keys, engine):
    sealer = Sealer(keys)
    sealed = await sealer.seal("lrn-1", IDENTITY)
    kept = await sealer.seal("lrn-2", IDENTITY)

    assert await keys.destroy("lrn-1") is True

    with pytest.raises(Shredded, match=sealed.key_id) as shredded:
        await sealer.open(sealed)
    assert "lrn-1" not in str(shredded.value)
    with pytest.raises(Shredded):
        await Sealer(KeyStore(engine, MASTER_KEY)).open(sealed)
    assert await keys.exists("lrn-1") is False
    assert await keys.destroy("lrn-1") is False
    assert await sealer.open(kept) == IDENTITY


async def test_a_learner_erased_by_another_process_is_gone_here_too(keys, engine):
    sealed = await Sealer(keys).seal("lrn-1", IDENTITY)

    assert await KeyStore(engine, MASTER_KEY).destroy("lrn-1") is True

    assert await keys.exists("lrn-1") is False
    assert await stored_rows(engine, "lrn-1") == []
    with pytest.raises(Shredded):
        await Sealer(KeyStore(engine, MASTER_KEY)).open(sealed)


async def test_a_tampered_ciphertext_is_refused(keys):
    sealer = Sealer(keys)
    sealed = await sealer.seal("lrn-1", IDENTITY)
    raw = bytearray(base64.urlsafe_b64decode(sealed.ciphertext + "=="))
    raw[0] ^= 1
    tampered = sealed.model_copy(
        update={"ciphertext": base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")}
    )

    with pytest.raises(ValueError, match="sealed value: authentication failed"):
        await sealer.open(tampered)


async def test_a_value_relabelled_with_another_learners_key_is_refused(keys):
    sealer = Sealer(keys)
    sealed = await sealer.seal("lrn-1", IDENTITY)
    other_key_id, _ = await keys.data_key("lrn-2")

    with pytest.raises(ValueError, match="authentication failed"):
        await sealer.open(sealed.model_copy(update={"key_id": other_key_id}))


async def test_stored_keys_are_useless_without_the_master_key(keys, engine):
    key_id, key = await keys.data_key("lrn-1")
    [row] = await stored_rows(engine, "lrn-1")

    assert row.key_id == key_id
    assert key not in row.wrapped_key
    with pytest.raises(ValueError, match="cannot unwrap"):
        await KeyStore(engine, OTHER_MASTER_KEY).key(key_id)


async def test_an_erased_key_leaves_no_bytes_behind(keys, engine, database_url):
    for subject in ("lrn-1", "lrn-2", "lrn-3"):
        await keys.data_key(subject)
    _, key = await keys.data_key("lrn-2")
    [row] = await stored_rows(engine, "lrn-2")
    if engine.dialect.name == "sqlite":
        assert row.wrapped_key in sqlite_bytes(database_url)  # the search below can find it

    await keys.destroy("lrn-2")

    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(data_keys)) == 2
    assert await stored_rows(engine, "lrn-2") == []
    if engine.dialect.name == "sqlite":
        on_disk = sqlite_bytes(database_url)
        assert row.wrapped_key not in on_disk
        assert key not in on_disk


def sqlite_bytes(database_url: str) -> bytes:
    database = Path(str(make_url(database_url).database))
    files = [database, database.with_name(f"{database.name}-wal")]
    return b"".join(path.read_bytes() for path in files if path.exists())


@pytest.mark.parametrize(
    ("read_secret", "variable", "file_name"),
    [
        (master_key_from_settings, "LEDGER_MASTER_KEY", "master.key"),
        (pseudonym_secret_from_settings, "LEDGER_PSEUDONYM_KEY", "pseudonym.key"),
    ],
)
def test_a_dev_secret_is_created_once_private_and_the_environment_wins(
    read_secret, variable, file_name, tmp_path, monkeypatch
):
    monkeypatch.delenv(variable, raising=False)
    settings = Settings(state_dir=tmp_path / "state")

    with ThreadPoolExecutor(8) as pool:
        racing = list(pool.map(lambda _: read_secret(settings), range(8)))

    assert len(racing[0]) == 32
    assert set(racing) == {racing[0]}
    assert read_secret(settings) == racing[0]
    path = tmp_path / "state" / file_name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [file_name]
    from_environment = bytes(range(100, 132))
    monkeypatch.setenv(variable, base64.urlsafe_b64encode(from_environment).decode().rstrip("="))
    assert read_secret(settings) == from_environment


def test_a_master_key_that_is_not_32_bytes_is_refused(tmp_path, monkeypatch):
    short = base64.urlsafe_b64encode(bytes(31)).decode().rstrip("=")
    monkeypatch.setenv("LEDGER_MASTER_KEY", short)

    with pytest.raises(ValueError, match="LEDGER_MASTER_KEY must be 32 bytes") as refused:
        master_key_from_settings(Settings(state_dir=tmp_path))
    assert short not in str(refused.value)
    monkeypatch.setenv("LEDGER_MASTER_KEY", "not base64!")
    with pytest.raises(ValueError, match="LEDGER_MASTER_KEY must be base64url"):
        master_key_from_settings(Settings(state_dir=tmp_path))
    with pytest.raises(ValueError, match="32 bytes"):
        KeyStore(create_engine("sqlite+aiosqlite://"), bytes(31))


def test_pseudonyms_are_stable_and_say_nothing_about_the_external_id():
    pseudonyms = Pseudonyms(b"s" * 32)
    ids = [
        pseudonyms.learner_id("d1", "S-1042"),
        pseudonyms.learner_id("d2", "S-1042"),
        pseudonyms.person_id("d1", "S-1042"),
        pseudonyms.class_id("d1", "S-1042"),
        Pseudonyms(b"t" * 32).learner_id("d1", "S-1042"),
    ]

    assert pseudonyms.learner_id("d1", "S-1042") == ids[0]
    assert len(set(ids)) == len(ids)
    assert [i[:4] for i in ids[:4]] == ["lrn-", "lrn-", "per-", "cls-"]
    for pseudonym in ids:
        assert re.fullmatch(r"[a-z0-9-]{1,64}", pseudonym)
        assert "1042" not in pseudonym


def test_pseudonyms_keep_their_published_derivation():
    """Ids already in the log must not change: HMAC-SHA256 over district, kind and external id,
    lowercase base32 of the whole digest, its first 20 characters."""
    secret = b"s" * 32
    for district, external in [("d1", "S-1042"), ("district-9", "0"), ("d", "x" * 300)]:
        digest = hmac.new(secret, f"{district}\x1flearner\x1f{external}".encode(), "sha256")
        expected = "lrn-" + base64.b32encode(digest.digest()).decode().lower()[:20]
        assert Pseudonyms(secret).learner_id(district, external) == expected


def test_pseudonyms_refuse_ambiguous_input_and_weak_secrets():
    with pytest.raises(ValueError, match="at least 32 bytes"):
        Pseudonyms(b"short")
    with pytest.raises(ValueError, match="non-empty"):
        Pseudonyms(b"s" * 32).learner_id("d1\x1flearner", "S-1042")
    with pytest.raises(ValueError, match="non-empty"):
        Pseudonyms(b"s" * 32).learner_id("d1", "")
