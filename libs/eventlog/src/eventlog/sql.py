"""The read-model database: SQLAlchemy 2 async, SQLite by default and PostgreSQL when configured.

Also the runtime's own tables: projector checkpoints (written in the same transaction as the rows
they cover) and parked events (what still failed after every redelivery, with the reason).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    event,
    func,
    insert,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

runtime_metadata = MetaData()

checkpoints = Table(
    "projection_checkpoints",
    runtime_metadata,
    Column("projection", String(100), primary_key=True),
    Column("stream", String(64), nullable=False),
    Column("last_sequence", BigInteger, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)

parked_events = Table(
    "parked_events",
    runtime_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False, index=True),
    Column("stream", String(64), nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("subject", String(255), nullable=False),
    Column("event_id", String(128)),
    Column("deliveries", Integer, nullable=False),
    Column("reason", Text, nullable=False),
    Column("parked_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
)


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url` (sqlite+aiosqlite:// or postgresql+asyncpg://)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: object, _record: ConnectionPoolEntry) -> None:
    # WAL lets queries read while a projector writes; foreign keys are off by default in SQLite;
    # secure_delete overwrites deleted rows, so a destroyed data key leaves no bytes behind.
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA busy_timeout=30000")
    # Replicas opening a new file at the same moment both switch it to WAL, and SQLite may
    # answer "database is locked" at once rather than wait (it avoids a deadlock): try again.
    for attempt in range(50):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            break
        except Exception as exc:  # the driver's OperationalError, however it is wrapped
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)  # in the driver's own thread, never the event loop
    cursor.execute("PRAGMA secure_delete=ON")
    # Durable at every checkpoint, not every commit: read models are rebuilt from the log.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def create_tables(engine: AsyncEngine, *metadatas: MetaData) -> None:
    """Create the runtime's tables and every given read model's tables if missing.

    Replicas starting together race to create the same tables: the loser's "already exists"
    means the work is done, so it looks again rather than failing its start."""
    for attempt in range(5):
        try:
            async with engine.begin() as conn:
                for metadata in (runtime_metadata, *metadatas):
                    await conn.run_sync(metadata.create_all)
            return
        except DBAPIError as exc:
            # SQLite and PostgreSQL say "already exists"; PostgreSQL may instead trip over
            # the catalogue's own unique key (pg_type) when both create a table at once.
            said = str(exc.orig).lower()
            if not ("already exists" in said or "pg_type" in said) or attempt == 4:
                raise


def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


T = TypeVar("T")

IN_LIST_LIMIT = 400
"""Values per `IN (...)`: well inside every database's bound-parameter limit."""


def in_chunks(values: Sequence[T], size: int = IN_LIST_LIMIT) -> Iterator[Sequence[T]]:
    """`values` in slices small enough for one `IN (...)` each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def put_row(
    session: AsyncSession, table: Table, key: Mapping[str, object], **values: object
) -> None:
    """Make the row with `key` hold exactly `values` (portable upsert: delete, then insert)."""
    match = and_(*(table.c[name] == value for name, value in key.items()))
    await session.execute(delete(table).where(match))
    await session.execute(insert(table).values(**key, **values))


async def delete_rows(session: AsyncSession, table: Table, **key: object) -> None:
    match = and_(*(table.c[name] == value for name, value in key.items()))
    await session.execute(delete(table).where(match))


async def insert_new(
    session: AsyncSession, table: Table, rows: Sequence[Mapping[str, object]]
) -> None:
    """Insert `rows`, leaving alone any whose primary key is already there: a redelivered input
    notes again what it noted before, and that must be harmless."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    else:  # pragma: no cover - the two databases the project supports
        raise NotImplementedError(f"insert_new: no conflict clause for {dialect}")
    await session.execute(dialect_insert(table).on_conflict_do_nothing(), list(rows))
