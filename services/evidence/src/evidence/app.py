"""Composition root of the evidence service: the only place that wires things together."""

from __future__ import annotations

from fastapi import FastAPI

from eventlog.http import create_http_app, serve
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings
from evidence.api import mastery as mastery_api
from evidence.handlers import build_handlers
from evidence.projections import mastery

NAME = "evidence"


def parts() -> ServiceParts:
    return ServiceParts(
        name=NAME,
        projections=[mastery.MasteryProjection()],
        read_models=[mastery.metadata],
        handlers=build_handlers(),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service=NAME)
    return create_http_app(Service(parts(), settings), [mastery_api.router])


def main() -> None:
    serve(create_app, NAME)
