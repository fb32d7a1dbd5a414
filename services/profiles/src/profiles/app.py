"""Composition root of the profiles service: the only place that wires things together."""

from __future__ import annotations

from fastapi import FastAPI

from eventlog.handlers import EventHandlers
from eventlog.http import create_http_app, serve
from eventlog.sealing import (
    keystore_metadata,
    master_key_from_settings,
    pseudonym_secret_from_settings,
)
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings
from profiles.api import classes as classes_api
from profiles.api import learners as learners_api
from profiles.api import rosters as rosters_api
from profiles.context import ProfilesContext
from profiles.handlers import build_handlers
from profiles.projections import directory, progress

NAME = "profiles"


def parts(handlers: EventHandlers) -> ServiceParts:
    return ServiceParts(
        name=NAME,
        projections=[
            directory.DirectoryProjection(),
            progress.StandingsProjection(),
            progress.InterventionsProjection(),
        ],
        read_models=[directory.metadata, progress.metadata, keystore_metadata],
        handlers=handlers,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service=NAME)
    ctx = ProfilesContext(
        master_key_from_settings(settings), pseudonym_secret_from_settings(settings)
    )
    service = Service(parts(build_handlers(ctx)), settings)
    ctx.bind(service)
    app = create_http_app(service, [learners_api.router, classes_api.router, rosters_api.router])
    app.state.profiles = ctx
    return app


def main() -> None:
    serve(create_app, NAME)
