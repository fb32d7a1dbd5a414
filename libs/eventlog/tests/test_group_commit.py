"""Units committed together in one transaction, on a real SQLite database: a unit whose rows
the database refuses fails alone; the others in its transaction are committed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select

from eventlog.group_commit import GroupCommit
from eventlog.sql import create_engine, create_tables, sessions

metadata = MetaData()
rows = Table("units", metadata, Column("name", String(20), primary_key=True))


async def test_one_units_bad_rows_fail_that_unit_only(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'g.db'}")
    await create_tables(engine, metadata)
    transactions: list[list[str]] = []

    async def write(session, names):
        transactions.append(list(names))
        for name in names:
            if name == "bad":
                raise ValueError("refused")
            await session.execute(insert(rows).values(name=name))

    commits = GroupCommit(write)
    results = await asyncio.gather(
        *(commits.commit(engine, name) for name in ("a", "b", "bad", "c")),
        return_exceptions=True,
    )

    assert [type(r).__name__ if r else None for r in results] == [None, None, "ValueError", None]
    assert any(len(t) > 1 and "bad" in t for t in transactions), "they were committed together"
    async with sessions(engine)() as session:
        stored = set((await session.execute(select(rows.c.name))).scalars())
    assert stored == {"a", "b", "c"}
    await engine.dispose()


pytestmark = pytest.mark.integration
