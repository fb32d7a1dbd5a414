"""Composition root of the notifications service: the only place that wires things together."""

from __future__ import annotations

from fastapi import FastAPI

from eventlog.http import create_http_app, serve
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
    serve(create_app, NAME)
