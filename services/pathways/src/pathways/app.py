"""Composition root of the pathways service: the only place that wires things together."""

from __future__ import annotations

from fastapi import FastAPI

from eventlog.handlers import EventHandlers
from eventlog.http import create_http_app, serve
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings
from pathways.api import classes as classes_api
from pathways.api import frameworks as frameworks_api
from pathways.api import pathways as pathways_api
from pathways.api import policy as policy_api
from pathways.context import PathwaysContext
from pathways.handlers import build_handlers, build_mastery_intake, pace_sweeper
from pathways.projections import frameworks, progress, reference

NAME = "pathways"


def parts(ctx: PathwaysContext, handlers: EventHandlers, settings: Settings) -> ServiceParts:
    return ServiceParts(
        name=NAME,
        projections=[
            frameworks.FrameworksProjection(),
            reference.PoliciesProjection(),
            reference.LearnerFactsProjection(),
            reference.MasteryProjection(),
            progress.PathwaysProjection(),
        ],
        read_models=[frameworks.metadata, reference.metadata, progress.metadata],
        handlers=handlers,
        batches=build_mastery_intake(ctx, settings.partitions),
        tasks=[pace_sweeper(ctx, settings.sweep_interval)],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service=NAME)
    ctx = PathwaysContext()
    service = Service(parts(ctx, build_handlers(ctx), settings), settings)
    ctx.bind(service)
    app = create_http_app(
        service, [frameworks_api.router, pathways_api.router, classes_api.router, policy_api.router]
    )
    app.state.pathways = ctx
    return app


def main() -> None:
    serve(create_app, NAME)
