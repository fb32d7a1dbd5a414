"""Composition root of the evidence service: the only place that wires things together."""

from __future__ import annotations

from fastapi import FastAPI

from eventlog.batches import BatchConsumer
from eventlog.handlers import EventHandlers
from eventlog.handover import Handover
from eventlog.http import create_http_app, serve
from eventlog.sealing import pseudonym_secret_from_settings
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings
from evidence.api import ingest as ingest_api
from evidence.api import mastery as mastery_api
from evidence.api import settings as settings_api
from evidence.api import xapi as xapi_api
from evidence.context import EvidenceContext
from evidence.handlers import build_handlers, build_intake
from evidence.intake import bookkeeping
from evidence.projections import mastery, reference

NAME = "evidence"


def parts(handlers: EventHandlers, intake: tuple[BatchConsumer, Handover]) -> ServiceParts:
    consumer, handover = intake
    return ServiceParts(
        name=NAME,
        projections=[
            mastery.MasteryProjection(),
            reference.LearnersProjection(),
            reference.CompetenciesProjection(),
            reference.SettingsProjection(),
        ],
        read_models=[mastery.metadata, reference.metadata, bookkeeping.metadata],
        handlers=handlers,
        batches=[consumer],
        handovers=[handover],
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings(service=NAME)
    ctx = EvidenceContext(pseudonym_secret_from_settings(settings))
    service = Service(parts(build_handlers(ctx), build_intake(ctx)), settings)
    ctx.bind(service)
    app = create_http_app(
        service,
        [mastery_api.router, ingest_api.router, xapi_api.router, settings_api.router],
        public_paths=frozenset({"/xapi/about"}),
    )
    app.state.evidence = ctx
    return app


def main() -> None:
    serve(create_app, NAME)
