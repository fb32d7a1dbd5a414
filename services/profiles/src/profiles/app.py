"""Composition root of the profiles service: the only place that wires things together."""

from __future__ import annotations

from fastapi import FastAPI

from eventlog.http import create_http_app, serve
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings
from profiles.api import learners as learners_api
from profiles.handlers import build_handlers
from profiles.projections import learners

NAME = "profiles"


def parts() -> ServiceParts:
    return ServiceParts(
        name=NAME,
        projections=[learners.LearnersProjection()],
        read_models=[learners.metadata],
        handlers=build_handlers(),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service=NAME)
    return create_http_app(Service(parts(), settings), [learners_api.router])


def main() -> None:
    serve(create_app, NAME)
