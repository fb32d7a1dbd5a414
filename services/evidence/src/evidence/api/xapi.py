"""The xAPI Statement resource: POST/PUT statements, GET one or a filtered page, and /about.

Statements go through INGEST like everything else; the answer waits for the intake's verdict,
so a conflicting resend gets 409 and an invalid statement 400 with the field and the rule.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select, tuple_

from evidence.api.deps import Context, Partner, outcome_body, partner_of, read_submission, submit
from evidence.ingest.json_body import loaded, no_constant, unique_keys
from evidence.ingest.observation import Rejection
from evidence.intake import bookkeeping as books
from evidence.intake.resolve import agent_key

router = APIRouter(prefix="/xapi", tags=["xapi"])

VERSIONS = ["1.0.3", "2.0.0"]
VERSION_HEADER = {"X-Experience-API-Version": "2.0.0"}

Version = Annotated[str | None, Header(alias="X-Experience-API-Version")]


def _require_version(version: str | None) -> str:
    if not version:
        raise HTTPException(
            400,
            detail="X-Experience-API-Version: the header is required",
            headers=VERSION_HEADER,
        )
    return version


def _answer(sequence: int, outcome: Any, ok: Response) -> Response:
    if outcome is None:
        return JSONResponse({"ingest_sequence": sequence}, status_code=202, headers=VERSION_HEADER)
    if outcome["status"] == "rejected":
        conflict = (outcome["rule"] or "").startswith("conflict")
        return JSONResponse(
            outcome_body(sequence, outcome),
            status_code=409 if conflict else 400,
            headers=VERSION_HEADER,
        )
    return ok


@router.get("/about")
async def about() -> JSONResponse:
    """Which xAPI versions this resource speaks (public, as the specification asks)."""
    return JSONResponse({"version": VERSIONS}, headers=VERSION_HEADER)


@router.post("/statements")
async def post_statements(
    request: Request, ctx: Context, principal: Partner, version: Version = None
) -> Response:
    """One statement or an array; answers the statement ids, in order."""
    headers = {"X-Experience-API-Version": _require_version(version)}
    body = await read_submission(request)
    sequence, outcome = await submit(ctx, partner_of(principal), "xapi", body, headers)
    ids = [item["source_id"] for item in outcome["items"]] if outcome and outcome["items"] else []
    return _answer(sequence, outcome, JSONResponse(ids, headers=VERSION_HEADER))


@router.put("/statements", status_code=204)
async def put_statement(
    request: Request,
    ctx: Context,
    principal: Partner,
    statement_id: Annotated[str, Query(alias="statementId")],
    version: Version = None,
) -> Response:
    headers = {"X-Experience-API-Version": _require_version(version)}
    body = await read_submission(request)
    try:
        # As strictly as the intake reads it: the statement is sent on re-encoded, so a key
        # given twice would otherwise be lost, and a body too deep or a number too long to
        # read would fail here as a 500.
        statement = loaded(
            lambda: json.loads(
                body.decode("utf-8-sig"), object_pairs_hook=unique_keys, parse_constant=no_constant
            )
        )
    except Rejection as refused:
        raise HTTPException(400, detail=str(refused), headers=VERSION_HEADER) from None
    if not isinstance(statement, dict):
        raise HTTPException(400, detail="body: must be one statement", headers=VERSION_HEADER)
    if statement.setdefault("id", statement_id) != statement_id:
        raise HTTPException(
            400, detail="id: differs from the statementId parameter", headers=VERSION_HEADER
        )
    body = json.dumps(statement).encode()
    sequence, outcome = await submit(ctx, partner_of(principal), "xapi", body, headers)
    return _answer(sequence, outcome, Response(status_code=204, headers=VERSION_HEADER))


@router.get("/statements")
async def get_statements(
    request: Request,
    ctx: Context,
    principal: Partner,
    version: Version = None,
    statement_id: Annotated[str | None, Query(alias="statementId")] = None,
    voided_statement_id: Annotated[str | None, Query(alias="voidedStatementId")] = None,
    agent: str | None = None,
    verb: str | None = None,
    activity: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=0)] = 0,
    ascending: bool = False,
    more: str | None = None,
) -> JSONResponse:
    """One statement this partner sent (`statementId`, or `voidedStatementId` for a voided
    one), or a StatementResult of its statements filtered by agent, verb, activity and time,
    newest first unless `ascending`, with a `more` link to the next page."""
    _require_version(version)
    partner = partner_of(principal)
    if statement_id is not None or voided_statement_id is not None:
        wanted = statement_id or voided_statement_id
        assert wanted is not None
        async with ctx.service.sessions()() as session:
            found = await session.execute(
                select(books.statements).where(
                    (books.statements.c.partner == partner)
                    & (books.statements.c.statement_id == wanted)
                    & (books.statements.c.voided == (voided_statement_id is not None))
                )
            )
            row = found.mappings().first()
        if row is None:
            name = "statementId" if statement_id is not None else "voidedStatementId"
            raise HTTPException(404, detail=f"{name}: no such statement {wanted!r}")
        return JSONResponse(await _statement(ctx, partner, row), headers=VERSION_HEADER)
    query = select(books.statements).where(
        (books.statements.c.partner == partner) & (books.statements.c.voided.is_(False))
    )
    if agent is not None:
        query = query.where(books.statements.c.agent_key == _agent_key(ctx, agent))
    if verb is not None:
        query = query.where(books.statements.c.verb == verb)
    if activity is not None:
        query = query.where(books.statements.c.object_id == activity)
    if since is not None:
        query = query.where(books.statements.c.stored_at > _instant(since, "since"))
    if until is not None:
        query = query.where(books.statements.c.stored_at <= _instant(until, "until"))
    order = (books.statements.c.ingest_sequence, books.statements.c.item)
    if more is not None:
        after = tuple_(*order) > _position(more) if ascending else tuple_(*order) < _position(more)
        query = query.where(after)
    page = min(limit or PAGE, PAGE)
    query = query.order_by(*(c if ascending else c.desc() for c in order)).limit(page + 1)
    async with ctx.service.sessions()() as session:
        rows = (await session.execute(query)).mappings().all()
    statements = [await _statement(ctx, partner, row) for row in rows[:page]]
    link = ""
    if len(rows) > page:
        last = rows[page - 1]
        params = dict(request.query_params) | {"more": f"{last['ingest_sequence']}.{last['item']}"}
        link = f"/xapi/statements?{urlencode(params)}"
    return JSONResponse({"statements": statements, "more": link}, headers=VERSION_HEADER)


PAGE = 100  # statements per page, at most


async def _statement(ctx: Any, partner: str, row: Any) -> dict[str, Any]:
    """The statement as received, with the `id`, `stored` and `authority` the LRS assigns."""
    stored = await ctx.service.js.get_msg("INGEST", row["ingest_sequence"])
    received = json.loads((stored.data or b"null").decode("utf-8-sig"))
    statement = dict(received[row["item"]] if isinstance(received, list) else received)
    statement.setdefault("id", row["statement_id"])
    stored_at = row["stored_at"]
    if stored_at.tzinfo is None:  # SQLite gives naive datetimes back
        stored_at = stored_at.replace(tzinfo=UTC)
    statement["stored"] = stored_at.isoformat()
    statement.setdefault(
        "authority",
        {"objectType": "Agent", "account": {"homePage": AUTHORITY_HOME, "name": partner}},
    )
    return statement


AUTHORITY_HOME = "urn:learner-ledger:partner"


def _agent_key(ctx: Any, agent: str) -> str | None:
    try:
        parsed = json.loads(agent)
    except json.JSONDecodeError:
        raise HTTPException(400, detail="agent: must be a JSON Agent object") from None
    key = agent_key(ctx, parsed) if isinstance(parsed, dict) else None
    if key is None:
        raise HTTPException(
            400, detail="agent: needs one identifier (mbox, mbox_sha1sum, openid or account)"
        )
    return key


def _instant(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, detail=f"{name}: must be an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        raise HTTPException(400, detail=f"{name}: needs a timezone")
    return parsed


def _position(more: str) -> tuple[int, int]:
    sequence, _, item = more.partition(".")
    if not (sequence.isdigit() and item.isdigit()):
        raise HTTPException(400, detail="more: not a link this resource gave")
    return int(sequence), int(item)
