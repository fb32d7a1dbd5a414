"""ledgerctl — run the system locally, inspect streams, issue dev tokens, export the contract."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import nats
import typer

from eventlog.dev_keys import ensure_dev_keypair, issue_token
from eventlog.settings import Settings
from ledgerctl import devstate
from shared_events.streams import ALL

app = typer.Typer(no_args_is_help=True, help=__doc__)
schemas = typer.Typer(no_args_is_help=True, help="The event contract as JSON Schema and AsyncAPI.")
app.add_typer(schemas, name="schemas")

StateDir = Annotated[
    Path | None,
    typer.Option("--state-dir", help="Local state (default .ledger or LEDGER_STATE_DIR)"),
]


@app.command()
def dev(
    state_dir: StateDir = None,
    nats_port: Annotated[
        int | None, typer.Option(help="NATS port (default 4222, or a free one if taken)")
    ] = None,
) -> None:
    """Start NATS, create the streams and run the four services until Ctrl-C."""
    from ledgerctl.dev import run

    raise typer.Exit(run(devstate.state_dir(state_dir), nats_port))


@app.command()
def streams(state_dir: StateDir = None) -> None:
    """Show every stream: messages, bytes, first and last sequence, consumers."""

    async def show() -> None:
        nc = await nats.connect(devstate.nats_url(devstate.state_dir(state_dir)))
        js = nc.jetstream()
        typer.echo(
            f"{'stream':<14}{'messages':>10}{'bytes':>12}{'first':>8}{'last':>8}{'consumers':>11}"
        )
        for spec in ALL:
            try:
                state = (await js.stream_info(spec.name)).state
            except nats.js.errors.NotFoundError:
                typer.echo(f"{spec.name:<14}{'(missing)':>10}")
                continue
            typer.echo(
                f"{spec.name:<14}{state.messages:>10}{state.bytes:>12}"
                f"{state.first_seq:>8}{state.last_seq:>8}{state.consumer_count:>11}"
            )
        await nc.close()

    asyncio.run(show())


@app.command()
def token(
    role: Annotated[list[str], typer.Option("--role", help="learner, guardian, teacher, …")],
    sub: Annotated[str, typer.Option("--sub", help="pseudonymous subject id")],
    district: Annotated[str | None, typer.Option(help="district claim")] = None,
    partner: Annotated[str | None, typer.Option(help="partner claim (partner tokens)")] = None,
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 3600,
    state_dir: StateDir = None,
) -> None:
    """Print a development bearer token signed with the local dev key."""
    settings = Settings()
    private_key, _ = ensure_dev_keypair(devstate.state_dir(state_dir))
    try:
        jwt = issue_token(
            private_key.read_bytes(),
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            subject=sub,
            roles=role,
            district=district,
            partner=partner,
            ttl_seconds=ttl,
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--role") from None
    typer.echo(jwt)


@schemas.command("export")
def export_schemas(
    directory: Annotated[Path, typer.Argument(help="where to write")] = Path("docs/schemas"),
) -> None:
    """Write a JSON Schema per event and asyncapi.json."""
    from shared_events.schema_export import export

    written = export(directory)
    typer.echo(f"wrote {len(written)} files to {directory}")
