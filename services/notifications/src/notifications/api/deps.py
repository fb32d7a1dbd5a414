"""Shared pieces of the notifications routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from notifications.context import NotificationsContext


def _context(request: Request) -> NotificationsContext:
    context: NotificationsContext = request.app.state.notifications
    return context


Context = Annotated[NotificationsContext, Depends(_context)]
