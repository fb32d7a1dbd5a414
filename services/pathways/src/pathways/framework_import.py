"""Importing a CASE package: parse it, compare it with the latest version, append a new
version only when something a pathway depends on changed."""

from __future__ import annotations

import json
from typing import Any

from pathways.context import PathwaysContext, UnknownFramework
from pathways.domain.case import CaseRefused, Problem, changes_between, parse_package
from shared_events import Envelope, Timeline
from shared_events.events.pathways import FrameworkImported
from shared_events.subjects import UnsafeSubjectToken

MAX_PACKAGE_BYTES = 20 * 1024 * 1024


async def import_framework(
    ctx: PathwaysContext, district: str, body: bytes, imported_by: str
) -> dict[str, Any]:
    """The import's outcome: framework id, version, whether it changed, warnings."""
    try:
        package = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaseRefused((Problem("body", f"not JSON: {exc}"),)) from None
    parsed = parse_package(package)
    try:
        timeline = Timeline("frameworks", district, parsed.framework_id)
    except UnsafeSubjectToken as exc:
        raise CaseRefused((Problem("CFDocument.identifier", str(exc)),)) from None
    store = ctx.service.store
    expected = await store.last_sequence(timeline)
    await ctx.service.projector("pathways-frameworks").wait_caught_up()
    try:
        latest: FrameworkImported | None = await ctx.framework(district, parsed.framework_id)
    except UnknownFramework:
        latest = None
    if latest is not None and latest.content_hash == parsed.content_hash:
        return {
            "framework_id": parsed.framework_id,
            "version": latest.version,
            "changed": False,
            "changes": None,
            "warnings": list(parsed.warnings),
        }
    changes = (
        changes_between(latest.version, latest.competencies, latest.prerequisites, parsed)
        if latest is not None
        else None
    )
    imported = FrameworkImported(
        framework_id=parsed.framework_id,
        version=(latest.version + 1) if latest else 1,
        title=parsed.title,
        competencies=parsed.competencies,
        prerequisites=parsed.prerequisites,
        associations=parsed.associations,
        content_hash=parsed.content_hash,
        changes=changes,
        warnings=parsed.warnings,
        imported_by=imported_by,
    )
    envelope = Envelope.wrap(
        imported, source="pathways", subject=parsed.framework_id, district=district
    )
    await store.append(timeline, [envelope], expected)
    return {
        "framework_id": parsed.framework_id,
        "version": imported.version,
        "changed": True,
        "changes": changes.model_dump() if changes else None,
        "warnings": list(parsed.warnings),
        "event_id": envelope.id,
    }
