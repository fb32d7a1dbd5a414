"""Where a running `ledgerctl dev` listens, so other commands can find it."""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_STATE_DIR = Path(".ledger")


def state_dir(given: Path | None = None) -> Path:
    return given or Path(os.environ.get("LEDGER_STATE_DIR", DEFAULT_STATE_DIR))


def record(state: Path, nats_url: str, services: dict[str, str]) -> None:
    (state / "dev.json").write_text(
        json.dumps({"nats_url": nats_url, "services": services}, indent=2)
    )


def nats_url(state: Path) -> str:
    """NATS_URL if set, else the server a running `ledgerctl dev` recorded, else the default."""
    if url := os.environ.get("NATS_URL"):
        return url
    path = state / "dev.json"
    if path.exists():
        return str(json.loads(path.read_text())["nats_url"])
    return "nats://127.0.0.1:4222"


def service_url(state: Path, service: str) -> str:
    """Where a running `ledgerctl dev` serves `service`."""
    path = state / "dev.json"
    if not path.exists():
        raise SystemExit(f"no running `ledgerctl dev` found in {state}; pass --url")
    return str(json.loads(path.read_text())["services"][service])
