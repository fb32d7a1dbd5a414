"""Settings every service reads from its environment (12-factor; no file is required)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    service: str = "ledger"
    nats_url: str = Field(
        "nats://127.0.0.1:4222", validation_alias=AliasChoices("NATS_URL", "LEDGER_NATS_URL")
    )
    database_url: str | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "LEDGER_DATABASE_URL")
    )
    state_dir: Path = Path(".ledger")
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    auth_issuer: str = "learner-ledger-dev"
    auth_audience: str = "learner-ledger"
    auth_jwks_url: str | None = None
    auth_public_key_file: Path | None = None
    log_level: str = "INFO"
    ready_max_lag: int = Field(
        1000, description="/readyz fails while a projector is more events than this behind"
    )
    stream_replicas: int = 1
    handler_ack_wait: float = Field(
        30.0, description="seconds before an unacknowledged handler message is redelivered"
    )

    batch_ack_wait: float = Field(
        3.0,
        description="seconds before a batch consumer's message is delivered again if no progress "
        "is heard of it (a live replica reports progress every third of this): how soon a dead "
        "replica's messages are taken up by another",
    )
    partitions: int = Field(
        4,
        ge=1,
        description="partitions a service's per-learner consumers are split into; replicas "
        "share them (at most ceil(partitions / replicas) each)",
    )
    lease_ttl: float = Field(
        10.0,
        description="seconds a replica holds a batch consumer's lease without renewing it; "
        "a standby takes over after this when the holder dies",
    )

    sweep_interval: float = Field(
        3600.0, description="seconds between a service's periodic sweeps (pathways: pace)"
    )

    gc_threshold: int = Field(
        10_000,
        description="new objects between young garbage collections (CPython's default is 700); "
        "a started service also freezes its start-up heap out of full collections. 0 leaves "
        "the collector as it is",
        ge=0,
    )

    def sqlalchemy_url(self) -> str:
        """The read-model database: DATABASE_URL, else a SQLite file in the state directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.state_dir / (self.service + '.db')}"
