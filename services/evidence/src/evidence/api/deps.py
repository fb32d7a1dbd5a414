"""Shared pieces of the evidence routes: the context, partner identity, publishing to INGEST
and waiting for the intake's outcome."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import RowMapping

from eventlog.auth import Principal, allow
from eventlog.http import read_body
from evidence.context import EvidenceContext
from evidence.ingest.observation import MAX_SUBMISSION_BYTES
from evidence.intake import bookkeeping as books
from shared_events.codec import MSG_ID
from shared_events.subjects import ingest

OUTCOME_WAIT_SECONDS = 15.0


def _context(request: Request) -> EvidenceContext:
    context: EvidenceContext = request.app.state.evidence
    return context


Context = Annotated[EvidenceContext, Depends(_context)]
Partner = Annotated[Principal, Depends(allow("partner"))]


def partner_of(principal: Principal) -> str:
    if not principal.partner:
        raise HTTPException(403, detail="partner: the token names no partner")
    return principal.partner


async def read_submission(request: Request) -> bytes:
    return await read_body(request, MAX_SUBMISSION_BYTES)


async def submit(
    ctx: EvidenceContext, partner: str, fmt: str, body: bytes, headers: dict[str, str]
) -> tuple[int, RowMapping | None]:
    """Store the submission in INGEST exactly as received, then wait for the intake's verdict.

    The same bytes sent again within the duplicate window are stored once (same msg id)."""
    msg_id = hashlib.sha256(partner.encode() + b"\0" + fmt.encode() + b"\0" + body).hexdigest()
    ack = await ctx.service.js.publish(
        ingest(partner, fmt), body, headers={MSG_ID: msg_id, **headers}, stream="INGEST"
    )
    deadline = asyncio.get_running_loop().time() + OUTCOME_WAIT_SECONDS
    while asyncio.get_running_loop().time() < deadline:
        async with ctx.service.sessions()() as session:
            found = await books.outcome(session, ack.seq)
        if found is not None:
            return ack.seq, found
        await asyncio.sleep(0.01)
    return ack.seq, None


def rejection_status(field: str | None, rule: str | None) -> int:
    """400 for what is not readable at all, 409 for a conflicting resend, 422 for the rest."""
    if field in {"body", "X-Experience-API-Version", "dataVersion"}:
        return 400
    if rule and rule.startswith("conflict"):
        return 409
    return 422


def outcome_body(sequence: int, outcome: RowMapping) -> dict[str, Any]:
    if outcome["status"] == "rejected":
        return {
            "detail": [{"field": outcome["field"], "rule": outcome["rule"]}],
            "ingest_sequence": sequence,
        }
    return {"ingest_sequence": sequence, "items": outcome["items"]}
