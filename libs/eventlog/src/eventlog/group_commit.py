"""Rows from many concurrent units of work, written in few transactions.

Each unit hands its rows over and waits until they are committed. Whatever arrives while a
transaction is being written goes into the next one, so under load a transaction carries many
units' rows and when idle it carries one. If a transaction of several units fails, each is
written again alone (the write must be idempotent) and only a unit whose own transaction fails
gets the error: one unit's bad rows never fail another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from eventlog.sql import sessions

T = TypeVar("T")

Write = Callable[[AsyncSession, Sequence[T]], Awaitable[None]]


class GroupCommit(Generic[T]):
    def __init__(self, write: Write[T]) -> None:
        self.write = write
        self._waiting: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def commit(self, engine: AsyncEngine, item: T) -> None:
        """Return once `item` is committed (or raise what failed its transaction)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all(engine))
        await done

    async def _write_all(self, engine: AsyncEngine) -> None:
        while self._waiting:
            taken, self._waiting = self._waiting, []
            try:
                async with sessions(engine)() as session, session.begin():
                    await self.write(session, [item for item, _ in taken])
            except Exception:
                # Whose rows failed the transaction is not known: each is written alone, so
                # one unit's bad rows fail that unit only.
                await self._each_alone(engine, taken)
                continue
            except BaseException:
                # The process is going down: every waiter is cancelled with it (nothing of
                # theirs is to be answered for), whatever was not written comes again.
                for _, done in taken + self._waiting:
                    done.cancel()
                self._waiting = []
                raise
            for _, done in taken:
                if not done.done():
                    done.set_result(None)

    async def _each_alone(
        self, engine: AsyncEngine, taken: list[tuple[T, asyncio.Future[None]]]
    ) -> None:
        for item, done in taken:
            try:
                async with sessions(engine)() as session, session.begin():
                    await self.write(session, [item])
            except Exception as exc:
                if not done.done():
                    done.set_exception(exc)
            except BaseException:  # going down: as in `_write_all`
                for _, waiting in taken + self._waiting:
                    waiting.cancel()
                self._waiting = []
                raise
            else:
                if not done.done():
                    done.set_result(None)
