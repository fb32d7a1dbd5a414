"""Composition root of the pathways service: the only place that wires things together."""

from __future__ import annotations

from fastapi import FastAPI

from eventlog.http import create_http_app, serve
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings
from pathways.api import frameworks as frameworks_api
from pathways.handlers import build_handlers
from pathways.projections import frameworks

NAME = "pathways"


def parts() -> ServiceParts:
    return ServiceParts(
        name=NAME,
        projections=[frameworks.FrameworksProjection()],
        read_models=[frameworks.metadata],
        handlers=build_handlers(),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service=NAME)
    return create_http_app(Service(parts(), settings), [frameworks_api.router])


def main() -> None:
    serve(create_app, NAME)
