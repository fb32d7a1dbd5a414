"""The HTTP app of a service: its routers, `/healthz`, `/readyz`, authentication, lifecycle.

Every route must declare who may call it (`eventlog.auth.allow`); a route that does not is a
start-up error, so access is denied by default.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

import uvicorn
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from eventlog import operations
from eventlog.auth import Principal, guarded_routes_missing, verifier_from_settings
from eventlog.logs import setup_logging
from eventlog.service import Service
from eventlog.settings import Settings
from eventlog.telemetry import setup_telemetry

PUBLIC_PATHS = {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


class StrictBody(BaseModel):
    """A request body that refuses fields it does not know (422 naming them)."""

    model_config = ConfigDict(extra="forbid")


class UnguardedRoutes(RuntimeError):
    pass


def create_http_app(
    service: Service,
    routers: Sequence[APIRouter] = (),
    *,
    title: str | None = None,
    public_paths: frozenset[str] = frozenset(),
    configure_process: bool = True,
) -> FastAPI:
    """The ASGI app of `service`; starting it starts the service (NATS, SQL, consumers)."""
    settings = service.settings
    if configure_process:
        setup_logging(service.parts.name, settings.log_level)
        setup_telemetry(service.parts.name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = FastAPI(title=title or f"Learner Ledger — {service.parts.name}", lifespan=lifespan)
    app.state.service = service
    app.state.verifier = verifier_from_settings(settings)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok", "service": service.parts.name}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """NATS connected, streams present, projectors caught up: ready for traffic."""
        checks = await service.readiness()
        return JSONResponse(checks, status_code=200 if checks["ready"] else 503)

    for router in (*routers, operations.router):
        app.include_router(router)

    missing = guarded_routes_missing(app, PUBLIC_PATHS | set(public_paths))
    if missing:
        raise UnguardedRoutes(f"routes without an access rule: {', '.join(sorted(missing))}")
    return app


def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated[Service, Depends(_service)]


def district_of(principal: Principal) -> str:
    """The district a staff token acts for; 403 when the token names none."""
    if not principal.district:
        raise HTTPException(403, detail="district: the token names no district")
    return principal.district


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, detail=f"body: larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, detail=f"body: larger than {limit} bytes")
    return bytes(body)


def problem(status: int, field: str, rule: str, **extra: Any) -> JSONResponse:
    """A 4xx answer that names the field and the rule it broke."""
    return JSONResponse({"detail": [{"field": field, "rule": rule, **extra}]}, status_code=status)


def serve(create_app: Callable[[Settings], FastAPI], service: str) -> None:
    """Run a service's app with uvicorn on the configured host and port (the process entry)."""
    settings = Settings(service=service)
    uvicorn.run(
        create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None
    )
