"""Every stage against the intake, from one `make bench`: each benchmark notes its rate here
(`.ledger/bench-stages.json`, started afresh by the evidence benchmark) and this script prints
pathways and notifications as a share of the evidence intake's rate (target ≥ 1.0 each: a
stage slower than the intake lags without bound under a sustained load)."""

from __future__ import annotations

import json
from pathlib import Path

RECORD = Path(".ledger/bench-stages.json")


def note(stage: str, per_second: float, *, fresh: bool = False) -> None:
    found = {} if fresh or not RECORD.exists() else json.loads(RECORD.read_text())
    RECORD.parent.mkdir(parents=True, exist_ok=True)
    RECORD.write_text(json.dumps(found | {stage: per_second}))


def main() -> None:
    found = json.loads(RECORD.read_text()) if RECORD.exists() else {}
    intake = found.get("intake")
    print("Every stage against the intake (this run, sync_interval: always)")
    for stage in ("intake", "pathways", "notifications"):
        if stage not in found:
            print(f"  {stage:<14} not measured")
            continue
        share = f"  {found[stage] / intake:.2f} of the intake (target ≥ 1.0)" if intake else ""
        print(f"  {stage:<14} {found[stage]:>7.0f} /s{share if stage != 'intake' else ''}")


if __name__ == "__main__":
    main()
