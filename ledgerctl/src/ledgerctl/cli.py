"""ledgerctl — run the system locally, inspect streams, issue dev tokens, export the contract."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import nats
import typer

from eventlog.dev_keys import ensure_dev_keypair, issue_token
from eventlog.settings import Settings
from ledgerctl import devstate
from shared_events.streams import ALL

app = typer.Typer(no_args_is_help=True, help=__doc__)
schemas = typer.Typer(no_args_is_help=True, help="The event contract as JSON Schema and AsyncAPI.")
app.add_typer(schemas, name="schemas")
roster = typer.Typer(no_args_is_help=True, help="District rosters (OneRoster 1.1 CSV).")
app.add_typer(roster, name="roster")
framework = typer.Typer(no_args_is_help=True, help="Competency frameworks (1EdTech CASE 1.0).")
app.add_typer(framework, name="framework")

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


def _dev_token(state: Path, role: str, sub: str, district: str | None) -> str:
    settings = Settings()
    private_key, _ = ensure_dev_keypair(state)
    return issue_token(
        private_key.read_bytes(),
        issuer=settings.auth_issuer,
        audience=settings.auth_audience,
        subject=sub,
        roles=[role],
        district=district,
    )


def _upload(
    service: str,
    route: str,
    content: bytes,
    content_type: str,
    district: str,
    url: str | None,
    bearer: str | None,
    state_dir: Path | None,
) -> dict[str, Any]:
    """POST `content` to a running service as a district admin; exit 1 listing each problem
    if it is refused. Returns the answer, after printing its warnings."""
    from ledgerctl.uploads import post

    state = devstate.state_dir(state_dir)
    target = url or devstate.service_url(state, service)
    jwt = bearer or _dev_token(state, "district_admin", "ledgerctl", district)
    status, body = post(f"{target.rstrip('/')}{route}", jwt, content, content_type)
    if status != 200:
        detail = body.get("detail")
        for problem in detail if isinstance(detail, list) else [detail]:
            typer.echo(f"refused ({status}): {problem}", err=True)
        raise typer.Exit(1)
    return body


def _warnings(body: dict[str, Any]) -> None:
    warnings = body.get("warnings")
    for warning in warnings if isinstance(warnings, list) else []:
        typer.echo(f"warning: {warning}")


DistrictOption = Annotated[str, typer.Option(help="the district it is for")]
TokenOption = Annotated[
    str | None, typer.Option("--token", help="a district_admin token (default: a dev token)")
]


@roster.command("import")
def roster_import(
    path: Annotated[Path, typer.Argument(help="a bundle directory or zip", exists=True)],
    district: DistrictOption,
    url: Annotated[str | None, typer.Option(help="profiles service URL")] = None,
    bearer: TokenOption = None,
    state_dir: StateDir = None,
) -> None:
    """Import a roster: only the differences from what is recorded are appended."""
    from ledgerctl.uploads import bundle_bytes

    bundle = bundle_bytes(path)
    body = _upload(
        "profiles", "/v1/rosters", bundle, "application/zip", district, url, bearer, state_dir
    )
    typer.echo(f"changes: {body['changes'] or 'none'}; events appended: {body['appended']}")
    _warnings(body)


@framework.command("import")
def framework_import(
    path: Annotated[Path, typer.Argument(help="a CASE 1.0 CFPackage JSON file", exists=True)],
    district: DistrictOption,
    url: Annotated[str | None, typer.Option(help="pathways service URL")] = None,
    bearer: TokenOption = None,
    state_dir: StateDir = None,
) -> None:
    """Import a framework: unchanged, nothing happens; changed, a new version is recorded."""
    package = path.read_bytes()
    body = _upload(
        "pathways", "/v1/frameworks", package, "application/json", district, url, bearer, state_dir
    )
    state_word = "new version" if body["changed"] else "unchanged"
    typer.echo(f"{body['framework_id']} version {body['version']} ({state_word})")
    for kind, ids in (body.get("changes") or {}).items():
        if ids and kind != "from_version":
            typer.echo(f"  {kind}: {len(ids)}")
    _warnings(body)


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
    """Write a JSON Schema per event, asyncapi.json, and the native ingest format's schema."""
    import json

    from evidence.ingest.native import NATIVE_SCHEMA
    from shared_events.schema_export import export

    written = export(directory)
    native = directory / "ingest" / "native-evidence.json"
    native.parent.mkdir(parents=True, exist_ok=True)
    native.write_text(json.dumps(NATIVE_SCHEMA, indent=2) + "\n")
    typer.echo(f"wrote {len(written) + 1} files to {directory}")
