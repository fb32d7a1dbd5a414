"""Partner ingest over HTTP: native JSON and Caliper envelopes, through the same INGEST path as
NATS, authenticated as the partner."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from evidence.api.deps import (
    Context,
    Partner,
    outcome_body,
    partner_of,
    read_submission,
    rejection_status,
    submit,
)

router = APIRouter(tags=["ingest"])


async def _ingest(request: Request, ctx: Context, principal: Partner, fmt: str) -> JSONResponse:
    body = await read_submission(request)
    sequence, outcome = await submit(ctx, partner_of(principal), fmt, body, {})
    if outcome is None:
        return JSONResponse({"ingest_sequence": sequence, "status": "pending"}, status_code=202)
    status = 200
    if outcome["status"] == "rejected":
        status = rejection_status(outcome["field"], outcome["rule"])
    return JSONResponse(outcome_body(sequence, outcome), status_code=status)


@router.post("/v1/evidence", responses={400: {}, 409: {}, 413: {}, 422: {}})
async def post_native(request: Request, ctx: Context, principal: Partner) -> JSONResponse:
    """Evidence in the native format (one object or an array), answered with what became of it."""
    return await _ingest(request, ctx, principal, "native")


@router.post("/caliper", responses={400: {}, 409: {}, 413: {}, 422: {}})
async def post_caliper(request: Request, ctx: Context, principal: Partner) -> JSONResponse:
    """A Caliper 1.1/1.2 envelope."""
    return await _ingest(request, ctx, principal, "caliper")
