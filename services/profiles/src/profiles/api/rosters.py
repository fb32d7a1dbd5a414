"""Roster import: a OneRoster 1.1 CSV bundle, zipped, as the request body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse

from eventlog.auth import Principal, allow
from profiles.api.deps import Context
from profiles.commands.roster import import_roster
from profiles.roster.bundle import InvalidRoster
from profiles.roster.reader import files_from_zip

router = APIRouter(prefix="/v1/rosters", tags=["rosters"])

Admin = Annotated[Principal, Depends(allow("district_admin"))]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


async def read_limited(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, detail=f"body: larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, detail=f"body: larger than {limit} bytes")
    return bytes(body)


@router.post("", responses={413: {}, 422: {}})
async def post_roster(request: Request, ctx: Context, principal: Admin) -> Any:
    """Import the district's roster (a zip of the OneRoster CSV files); only differences from
    what is already recorded are appended. Refused whole, with every problem, when invalid."""
    if not principal.district:
        raise HTTPException(403, detail="district: the token names no district")
    body = await read_limited(request, MAX_UPLOAD_BYTES)
    try:
        result = await import_roster(ctx, principal.district, files_from_zip(body))
    except InvalidRoster as invalid:
        problems = [
            {"file": p.file, "line": p.line, "field": p.field, "rule": p.rule}
            for p in invalid.problems
        ]
        return JSONResponse({"detail": problems}, status_code=422)
    return {"changes": result.changes, "appended": result.appended, "warnings": result.warnings}
