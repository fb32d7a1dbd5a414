"""The cyclic garbage collector, set for a long-running service process.

With CPython's defaults a service spends about a tenth of its time in the collector: a young
collection every 700 new objects, and now and then a full one that walks every object the process
holds, the ~140 000 made by importing and starting it included (~80 ms each here; see
`docs/benchmarks.md`). A started service therefore

- freezes what exists once it has started (`gc.freeze()`): modules, schemas, connections and
  engines live as long as the process, so full collections leave them out;
- collects the young generation every `gc_threshold` new objects instead of 700 (the older
  generations' ratios are kept).

Reference counting, which frees almost everything, is untouched: only cycles wait longer. The
first service started in a process applies this and the last one stopped undoes it, so a process
that hosts several (the tests) ends as it began.
"""

from __future__ import annotations

import gc

_started = 0
_saved: tuple[int, int, int] | None = None


def settle(threshold: int) -> None:
    """A service has started: freeze what exists and space out young collections.
    A `threshold` of 0 leaves the collector as it is."""
    global _started, _saved
    _started += 1
    if _started > 1 or threshold <= 0:
        return
    _saved = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(threshold, *_saved[1:])


def release() -> None:
    """A service has stopped; the last one to stop gives the collector back its settings."""
    global _started, _saved
    _started = max(0, _started - 1)
    if _started or _saved is None:
        return
    gc.unfreeze()
    gc.set_threshold(*_saved)
    _saved = None
