"""The two channels that leave the system: email over SMTP (aiosmtplib) and signed HTTPS
webhooks (httpx). Each raises `Undeliverable` for what no retry can fix and `TryAgain` for what
a later attempt might."""

from __future__ import annotations

import json
import time
from email.message import EmailMessage
from email.utils import formataddr

import aiosmtplib
import httpx

from notifications.config import DeliverySettings
from notifications.domain.signing import DELIVERY_HEADER, SIGNATURE_HEADER, signature
from notifications.domain.templates import Message


class Undeliverable(Exception):
    """No retry can help (no address, the learner erased, the webhook gone)."""


class TryAgain(Exception):
    """This attempt failed; a later one may not (server down, timeout, HTTP 5xx)."""


async def send_email(
    settings: DeliverySettings,
    *,
    to: str,
    sender: tuple[str, str],
    reply_to: str | None,
    message: Message,
    message_id: str,
) -> None:
    email = EmailMessage()
    email["From"] = formataddr(sender)
    email["To"] = to
    email["Subject"] = message.subject
    email["Message-ID"] = f"<{message_id}@learner-ledger>"
    if reply_to:
        email["Reply-To"] = reply_to
    email.set_content(message.text)
    email.add_alternative(f"<html><body>{message.html}</body></html>", subtype="html")
    try:
        await aiosmtplib.send(
            email,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
            timeout=settings.smtp_timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        raise Undeliverable(f"smtp: recipient refused: {exc}") from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise TryAgain(f"smtp: {type(exc).__name__}: {exc}") from None


async def post_webhook(
    client: httpx.AsyncClient, url: str, secret: bytes, payload: dict[str, object], delivery: str
) -> None:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
        DELIVERY_HEADER: delivery,
    }
    try:
        response = await client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise TryAgain(f"webhook: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 300:
        raise TryAgain(f"webhook: HTTP {response.status_code}")
