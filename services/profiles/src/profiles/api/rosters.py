"""Roster import: a OneRoster 1.1 CSV bundle, zipped, as the request body."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from eventlog.auth import Principal, allow
from eventlog.http import district_of, read_body
from profiles.api.deps import Context
from profiles.commands.roster import import_roster
from profiles.roster.bundle import InvalidRoster
from profiles.roster.reader import files_from_zip

router = APIRouter(prefix="/v1/rosters", tags=["rosters"])

Admin = Annotated[Principal, Depends(allow("district_admin"))]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


@router.post("", responses={413: {}, 422: {}})
async def post_roster(request: Request, ctx: Context, principal: Admin) -> Any:
    """Import the district's roster (a zip of the OneRoster CSV files); only differences from
    what is already recorded are appended. Refused whole, with every problem, when invalid."""
    district = district_of(principal)
    body = await read_body(request, MAX_UPLOAD_BYTES)
    try:
        result = await import_roster(ctx, district, files_from_zip(body))
    except InvalidRoster as invalid:
        problems = [
            {"file": p.file, "line": p.line, "field": p.field, "rule": p.rule}
            for p in invalid.problems
        ]
        return JSONResponse({"detail": problems}, status_code=422)
    return {"changes": result.changes, "appended": result.appended, "warnings": result.warnings}
