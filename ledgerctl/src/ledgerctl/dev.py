"""`ledgerctl dev`: the whole system on this machine, no Docker.

An embedded nats-server (JetStream, `sync_interval: always`, store under `.ledger/nats`), the
streams, a local mail catcher (SMTP; every message the notifications service sends is saved in
`.ledger/mail/`), and the four services as child processes with SQLite read models in
`.ledger/`. Ctrl-C stops the services, then the server.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
from aiosmtpd.controller import Controller

from eventlog.dev_keys import ensure_dev_keypair
from eventlog.embedded_nats import EmbeddedNats, free_port, port_is_free
from eventlog.stream_setup import ensure_streams
from ledgerctl import devstate

SERVICES = ("profiles", "evidence", "pathways", "notifications")
FIRST_SERVICE_PORT = 8001


class MailCatcher:
    """An SMTP server that keeps each message as a file: email without sending any."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        name = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.eml"
        (self.folder / name).write_bytes(envelope.content)
        return "250 Message accepted"


@dataclass
class Child:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _service_port(preferred: int) -> int:
    return preferred if port_is_free(preferred) else free_port()


async def _create_streams(url: str) -> list[str]:
    nc = await nats.connect(url)
    try:
        return await ensure_streams(nc.jetstream())
    finally:
        await nc.close()


def _wait_ready(children: list[Child], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    waiting = list(children)
    while waiting:
        for child in list(waiting):
            if child.process.poll() is not None:
                raise RuntimeError(f"{child.name} exited with {child.process.returncode}")
            try:
                if httpx.get(f"{child.url}/readyz", timeout=1).status_code == 200:
                    waiting.remove(child)
            except httpx.HTTPError:
                pass
        if time.monotonic() > deadline:
            names = ", ".join(c.name for c in waiting)
            raise TimeoutError(f"not ready after {timeout:.0f}s: {names}")
        time.sleep(0.2)


def _stop(children: list[Child]) -> None:
    for child in children:
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.process.kill()


def run(state: Path, nats_port: int | None = None, ready_timeout: float = 60.0) -> int:
    state = state.resolve()
    state.mkdir(parents=True, exist_ok=True)
    ensure_dev_keypair(state)
    server = EmbeddedNats(state / "nats", port=nats_port, log_file=state / "nats-server.log")
    url = server.start()
    print(f"NATS (JetStream) listening on {url}  store: {state / 'nats'}", flush=True)
    mail_port = free_port()
    mail = Controller(MailCatcher(state / "mail"), hostname="127.0.0.1", port=mail_port)
    mail.start()
    print(f"mail (SMTP) on 127.0.0.1:{mail_port}  saved in: {state / 'mail'}", flush=True)
    children: list[Child] = []
    interrupted = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal interrupted
        interrupted = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        for line in asyncio.run(_create_streams(url)):
            print(f"stream {line}", flush=True)
        for offset, name in enumerate(SERVICES):
            port = _service_port(FIRST_SERVICE_PORT + offset)
            env = {
                **os.environ,
                "NATS_URL": url,
                "LEDGER_STATE_DIR": str(state),
                "LEDGER_HTTP_PORT": str(port),
                "LEDGER_HTTP_HOST": "127.0.0.1",
            }
            if name == "notifications":
                env |= {
                    "LEDGER_SMTP_PORT": str(mail_port),
                    "LEDGER_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true",
                }
                if not env.get("DATABASE_URL"):
                    # People's data keys live with the profiles service's read models.
                    keystore = state / "profiles.db"
                    env["LEDGER_KEYSTORE_URL"] = f"sqlite+aiosqlite:///{keystore}"
            log = (state / f"{name}.log").open("ab")
            process = subprocess.Popen(
                [sys.executable, "-m", name], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            children.append(Child(name, port, process))
        _wait_ready(children, ready_timeout)
        devstate.record(state, url, {c.name: c.url for c in children})
        for child in children:
            print(f"{child.name:<14} {child.url}  (ready; docs at {child.url}/docs)", flush=True)
        print(
            f"logs in {state}; `ledgerctl token --role teacher --sub t1` for a token; Ctrl-C stops",
            flush=True,
        )
        while not interrupted:
            for child in children:
                if child.process.poll() is not None:
                    print(f"{child.name} stopped with {child.process.returncode}", flush=True)
                    interrupted = True
            time.sleep(0.2)
        return 0
    except (RuntimeError, TimeoutError) as exc:
        print(f"ledgerctl dev: {exc}; see the logs in {state}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("stopping services and NATS…", flush=True)
        _stop(children)
        mail.stop()
        server.stop()
        (state / "dev.json").unlink(missing_ok=True)
        print("stopped", flush=True)
