"""`make run` brings up NATS and four healthy services, no Docker; Ctrl-C stops them cleanly.

Runs the same command the Makefile runs (`ledgerctl dev`) as a real process, then drives the
system from outside: a learner registered over HTTP is readable, and a partner's evidence posted
over HTTP ends in a mastery decision readable over HTTP; a CASE framework imported with
`ledgerctl framework import` gives a pathway that the decision moves on.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from eventlog.embedded_nats import port_is_free

from .case_package import FIRST, SECOND, package

pytestmark = pytest.mark.integration

LEDGERCTL = str(Path(sys.executable).parent / "ledgerctl")
SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "oneroster"
READY = re.compile(r"^(\w+)\s+(http://127\.0\.0\.1:\d+)\s+\(ready")
NATS_LINE = re.compile(r"listening on (nats://127\.0\.0\.1:(\d+))")


def _read_until_ready(
    process: subprocess.Popen[str], timeout: float
) -> tuple[str, dict[str, str], list[str]]:
    services: dict[str, str] = {}
    lines: list[str] = []
    nats_url = ""
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while len(services) < 4:
        assert time.monotonic() < deadline, f"not ready in {timeout}s; saw {services}"
        line = process.stdout.readline()
        assert line, f"ledgerctl dev ended early with {process.poll()}"
        lines.append(line)
        if match := NATS_LINE.search(line):
            nats_url = match.group(1)
        if match := READY.match(line):
            services[match.group(1)] = match.group(2)
    return nats_url, services, lines


def _ledgerctl(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEDGERCTL, *args, "--state-dir", str(state)], capture_output=True, text=True
    )


def _token(state: Path, role: str, *options: str) -> str:
    return subprocess.run(
        [LEDGERCTL, "token", "--role", role, *options, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_ledgerctl_dev_starts_four_healthy_services_and_stops_on_ctrl_c(tmp_path):
    state = tmp_path / "ledger"
    process = subprocess.Popen(
        [LEDGERCTL, "dev", "--state-dir", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        nats_url, services, startup = _read_until_ready(process, timeout=120)
        assert set(services) == {"profiles", "evidence", "pathways", "notifications"}
        for url in services.values():
            assert httpx.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"
            assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200
        recorded = json.loads((state / "dev.json").read_text())
        assert recorded["nats_url"] == nats_url

        token = _token(state, "district_admin", "--sub", "per-admin", "--district", "d1")
        admin = {"Authorization": f"Bearer {token}"}
        registered = httpx.post(
            f"{services['profiles']}/v1/learners",
            json={"sis_id": "sis-42", "given_name": "Ada", "family_name": "Byron"},
            headers=admin,
            timeout=10,
        )
        assert registered.status_code == 201, registered.text
        learner_id = registered.json()["learner_id"]
        deadline = time.monotonic() + 20
        while True:
            response = httpx.get(
                f"{services['profiles']}/v1/learners/{learner_id}", headers=admin, timeout=5
            )
            if response.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "active"
        assert response.json()["name"]["given_name"] == "Ada"

        # Evidence from a partner over HTTP, through INGEST and the intake, to a decision.
        configured = httpx.put(
            f"{services['evidence']}/v1/ingest", json={"partners": ["acme"]}, headers=admin
        )
        assert configured.status_code == 200, configured.text
        framework_file = tmp_path / "fractions.json"
        framework_file.write_text(json.dumps(package()))
        imported = _ledgerctl(state, "framework", "import", str(framework_file), "--district", "d1")
        assert imported.returncode == 0, imported.stderr
        assert "version 1 (new version)" in imported.stdout
        again = _ledgerctl(state, "framework", "import", str(framework_file), "--district", "d1")
        assert "version 1 (unchanged)" in again.stdout
        assigned = httpx.post(
            f"{services['pathways']}/v1/learners/{learner_id}/pathways",
            json={"framework_id": package()["CFDocument"]["identifier"], "pathway_id": "p1"},
            headers=admin,
            timeout=20,
        )
        assert assigned.status_code == 200, assigned.text
        partner_token = _token(state, "partner", "--sub", "acme", "--partner", "acme")
        partner = {"Authorization": f"Bearer {partner_token}"}
        evidence = {
            "id": "quiz-1",
            "district": "d1",
            "learner_sis_id": "sis-42",
            "competency": "M.1",
            "scaled": 0.9,
            "observed_at": "2026-10-01T09:00:00Z",
        }
        deadline = time.monotonic() + 20
        while True:  # the framework reaches the evidence service's read model asynchronously
            posted = httpx.post(
                f"{services['evidence']}/v1/evidence", json=evidence, headers=partner, timeout=20
            )
            if posted.status_code != 422 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert posted.status_code == 200, posted.text
        assert posted.json()["items"][0]["status"] == "recorded"
        deadline = time.monotonic() + 20
        while True:
            decided = httpx.get(
                f"{services['evidence']}/v1/learners/{learner_id}/mastery", headers=admin
            ).json()
            if decided or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [d["competency_id"] for d in decided] == [FIRST]
        deadline = time.monotonic() + 20
        while True:  # the decision moves the pathway on: M.1 mastered, M.2 ready
            paths = httpx.get(
                f"{services['pathways']}/v1/learners/{learner_id}/pathways", headers=admin
            ).json()["pathways"]
            if (paths and paths[0]["next_steps"] == [SECOND]) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert paths[0]["next_steps"] == [SECOND], paths
        # …and the learner hears about it in their in-app inbox.
        learner_token = _token(state, "learner", "--sub", learner_id, "--district", "d1")
        learner = {"Authorization": f"Bearer {learner_token}"}
        deadline = time.monotonic() + 20
        while True:
            inbox = httpx.get(f"{services['notifications']}/v1/inbox", headers=learner).json()
            if inbox or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [item["template"] for item in inbox] == ["mastery_gained"]
        assert "mail (SMTP) on 127.0.0.1:" in "".join(startup)

        bundle = SHARED / "catalyst-moodle-enrol_oneroster" / "Test_full_data_set"
        if bundle.is_dir():  # the team's shared fixtures; absent outside the team
            imported = subprocess.run(
                [
                    LEDGERCTL,
                    "roster",
                    "import",
                    str(bundle),
                    "--district",
                    "d1",
                    "--state-dir",
                    str(state),
                ],
                capture_output=True,
                text=True,
            )
            assert imported.returncode == 0, imported.stderr
            assert "LearnerRegistered" not in imported.stderr
            assert "Register" in imported.stdout
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "stopped" in out
    assert port_is_free(int(nats_url.rsplit(":", 1)[1])), "nats-server still listening after Ctrl-C"
    for url in services.values():
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"{url}/healthz", timeout=2)
