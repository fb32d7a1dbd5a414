"""The notifications service's own settings (environment `LEDGER_…`): the SMTP server, the key
store, and how deliveries are paced and retried."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DeliverySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout: float = 10.0
    keystore_url: str | None = Field(
        None,
        description="the database holding people's data keys (default: this service's own); "
        "contacts are opened with them at send time and are unreadable once a key is destroyed",
    )
    delivery_interval: float = Field(0.5, description="seconds between looks at the outbox")
    claim_ttl: float = Field(
        60.0, description="seconds a replica holds a delivery before another may try it"
    )
    max_attempts: int = Field(5, ge=1, description="tries per delivery before NotificationFailed")
    backoff_base: float = Field(2.0, description="seconds before the 2nd try; doubles after")
    backoff_cap: float = 600.0
    webhook_timeout: float = 10.0
    webhook_allow_loopback_http: bool = Field(
        False, description="accept http:// webhooks on loopback addresses (development only)"
    )
