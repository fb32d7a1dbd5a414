"""The event loop a service's process runs on: uvloop where it is installed, as uvicorn picks it
for the services (`eventlog.http.serve`), else asyncio's own. Benchmarks run on it too, so they
measure what the services run."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:  # not built for this platform: asyncio's loop does the same work
        return asyncio.run(main)
    return uvloop.run(main)
