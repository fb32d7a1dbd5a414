"""Composition root of the notifications service: the only place that wires things together."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from eventlog.http import create_http_app, serve
from eventlog.sealing import keystore_metadata, master_key_from_settings
from eventlog.service import Service, ServiceParts
from eventlog.settings import Settings
from notifications import handlers
from notifications.api import inbox as inbox_api
from notifications.api import preferences as preferences_api
from notifications.api import settings as settings_api
from notifications.config import DeliverySettings
from notifications.context import NotificationsContext, utc_now
from notifications.delivery import claims, deliverer
from notifications.projections import inbox, outbox, recipients
from notifications.projections import settings as settings_model

NAME = "notifications"


def parts(ctx: NotificationsContext, partitions: int = 1) -> ServiceParts:
    return ServiceParts(
        name=NAME,
        projections=[
            inbox.InboxProjection(),
            outbox.OutboxProjection(),
            recipients.RecipientsProjection(),
            recipients.CompetenciesProjection(),
            settings_model.SettingsProjection(),
        ],
        read_models=[
            inbox.metadata,
            outbox.metadata,
            recipients.metadata,
            settings_model.metadata,
            handlers.metadata,
            claims.metadata,
            keystore_metadata,
        ],
        handlers=handlers.build_handlers(ctx),
        batches=handlers.build_mastery_intake(ctx, partitions),
        tasks=[deliverer.Deliverer(ctx).run_forever],
    )


def create_app(
    settings: Settings | None = None,
    delivery: DeliverySettings | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    settings = settings or Settings(service=NAME)
    ctx = NotificationsContext(
        delivery or DeliverySettings(), master_key_from_settings(settings), clock
    )
    service = Service(parts(ctx, settings.partitions), settings)
    ctx.bind(service)
    app = create_http_app(service, [inbox_api.router, preferences_api.router, settings_api.router])
    app.state.notifications = ctx
    return app


def main() -> None:
    serve(create_app, NAME)
