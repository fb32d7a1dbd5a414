"""The collector settings a started service applies, and gives back when the last one stops."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from eventlog import heap
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings


@pytest.fixture
def clean_collector(monkeypatch: pytest.MonkeyPatch):
    """No service counted as started (a service another test left running is not ours)."""
    monkeypatch.setattr(heap, "_started", 0)
    monkeypatch.setattr(heap, "_saved", None)
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    gc.unfreeze()
    yield before
    gc.set_threshold(*before)
    if frozen:
        gc.freeze()


def test_first_settles_last_releases(clean_collector):
    before = clean_collector
    heap.settle(12_345)
    assert gc.get_threshold() == (12_345, *before[1:])
    assert gc.get_freeze_count() > 1000  # the modules, classes and schemas imported so far
    heap.settle(999)  # a second service in the process changes nothing
    assert gc.get_threshold()[0] == 12_345
    heap.release()
    assert gc.get_threshold()[0] == 12_345  # one is still running
    heap.release()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    heap.release()  # more stops than starts: nothing to give back
    assert gc.get_threshold() == before


def test_zero_leaves_the_collector_alone(clean_collector):
    heap.settle(0)
    assert gc.get_threshold() == clean_collector
    assert gc.get_freeze_count() == 0
    heap.release()
    assert gc.get_threshold() == clean_collector


async def test_a_service_settles_on_start_and_releases_on_stop(
    clean_collector, nats_url: str, tmp_path: Path
):
    settings = Settings(service="heap", nats_url=nats_url, state_dir=tmp_path, gc_threshold=4321)
    service = Service(ServiceParts(name="heap"), settings)
    await service.start()
    try:
        assert gc.get_threshold()[0] == 4321
        assert gc.get_freeze_count() > 0
    finally:
        await service.stop()
    assert gc.get_threshold() == clean_collector
    assert gc.get_freeze_count() == 0
    await service.stop()  # a second stop gives back nothing twice
    assert gc.get_threshold() == clean_collector
