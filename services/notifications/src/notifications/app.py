"""Composition root of the notifications service: the only place that wires things together."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from eventlog.http import create_http_app
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings
from notifications.api import inbox as inbox_api
from notifications.handlers import build_handlers
from notifications.projections import inbox

NAME = "notifications"


def parts() -> ServiceParts:
    return ServiceParts(
        name=NAME,
        projections=[inbox.InboxProjection()],
        read_models=[inbox.metadata],
        handlers=build_handlers(),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service=NAME)
    return create_http_app(Service(parts(), settings), [inbox_api.router])


def main() -> None:
    settings = Settings(service=NAME)
    uvicorn.run(
        create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None
    )
