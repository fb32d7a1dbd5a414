"""The xAPI Statement resource: POST/PUT statements, GET one by id, and /about.

Statements go through INGEST like everything else; the answer waits for the intake's verdict,
so a conflicting resend gets 409 and an invalid statement 400 with the field and the rule.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse

from evidence.api.deps import Context, Partner, outcome_body, partner_of, read_submission, submit
from evidence.intake import bookkeeping as books

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
    try:
        statement = json.loads(await read_submission(request))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise HTTPException(400, detail="body: not JSON", headers=VERSION_HEADER) from None
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
async def get_statement(
    ctx: Context,
    principal: Partner,
    statement_id: Annotated[str, Query(alias="statementId")],
    version: Version = None,
) -> JSONResponse:
    """A statement this partner sent, as it was received."""
    _require_version(version)
    partner = partner_of(principal)
    async with ctx.service.sessions()() as session:
        found = await books.source(session, partner, statement_id)
    if found is None:
        raise HTTPException(404, detail=f"statementId: no statement {statement_id!r}")
    stored = await ctx.service.js.get_msg("INGEST", found["ingest_sequence"])
    received = json.loads(stored.data or b"null")
    statement = received[found["item"]] if isinstance(received, list) else received
    return JSONResponse(statement, headers=VERSION_HEADER)
