"""xAPI statements (1.0.3 and 2.0), as partners send them to the Statement resource, translated
into what the evidence service records.

A body is one statement or an array of them. Like an LRS, a batch is taken whole or refused
whole: the first invalid statement raises a `Rejection` whose field starts with its index
(`[2].actor.account.homePage`). A valid statement means, for evidence:

- a voiding statement (verb `…/verbs/voided`, object a StatementRef): a `Voiding` of the
  statement it names;
- a statement with `result.score`: an `Observation` of its actor, scored in [0, 1], about the
  object Activity and then the context activities (parent, grouping, category, other);
- any other statement: `NoEvidence`.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from fractions import Fraction
from typing import Any

from evidence.ingest.json_body import loaded
from evidence.ingest.observation import (
    LearnerRef,
    NoEvidence,
    Observation,
    Parsed,
    Rejection,
    Voiding,
)
from evidence.ingest.xapi_agents import identifier
from evidence.ingest.xapi_formats import read_json, timestamp
from evidence.ingest.xapi_rules import VOIDED, check_statement

VERSION_HEADER = "X-Experience-API-Version"
# 1.0 and 2.0 alone are what early clients of each version sent; LRSs read them as x.0.0.
_SUPPORTED = re.compile(r"1\.0(?:\.[0-3])?|2\.0(?:\.\d+)?")
# Derived statement ids live in their own UUID5 namespace, so they never collide with others.
_CONTENT_IDS = uuid.uuid5(uuid.NAMESPACE_URL, "urn:learner-ledger:xapi:statement-content")
_CONTEXT_ACTIVITIES = ("parent", "grouping", "category", "other")


def parse_statements(
    body: bytes, *, received_at: datetime, version: str | None = None
) -> list[Parsed]:
    """The meaning of each statement in `body`, in order; all of them or a Rejection.

    `version` is the X-Experience-API-Version header when known. Without it both versions'
    properties are accepted; with a 1.0.x header, the 2.0 additions are refused.
    """
    xapi_2_0 = _version(version)
    found = _json(body)
    batch = isinstance(found, list)
    items = found if batch else [found]
    if not items:
        raise Rejection("body", "an empty batch")
    parsed: list[Parsed] = []
    given: dict[str, int] = {}
    for index, item in enumerate(items):
        prefix = f"[{index}]." if batch else ""
        source_id = statement_id(item) if isinstance(item, Mapping) else None
        try:
            statement = check_statement(item, xapi_2_0=xapi_2_0)
            assert source_id is not None  # check_statement refuses anything but an object
            parsed.append(_meaning(statement, source_id, received_at))
        except Rejection as rejection:
            raise Rejection(prefix + rejection.field, rejection.rule, source_id) from None
        if "id" in statement:
            if source_id in given:
                rule = f"repeats the id of statement [{given[source_id]}] of this batch"
                raise Rejection(f"{prefix}id", rule, source_id)
            given[source_id] = index
    return parsed


def statement_id(statement: Mapping[str, Any]) -> str:
    """The statement's id: the `id` it carries, else a UUID5 of its canonical JSON, so that a
    resend of the same content is known as the same statement."""
    given = statement.get("id")
    if isinstance(given, str):
        return given
    canonical = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return str(uuid.uuid5(_CONTENT_IDS, canonical))


def _version(header: str | None) -> bool:
    """Whether xAPI 2.0 properties are allowed under this version header."""
    if header is None:
        return True
    if not _SUPPORTED.fullmatch(header.strip()):
        raise Rejection(
            VERSION_HEADER, f"unsupported version {header!r}: send 1.0.0 to 1.0.3, or 2.0.x"
        )
    return header.strip().startswith("2.")


def _json(body: bytes) -> Any:
    try:
        # utf-8-sig: a leading byte order mark is tolerated, as RFC 8259 lets parsers do.
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Rejection("body", "must be JSON encoded as UTF-8") from None
    return loaded(lambda: read_json(text))


def _meaning(statement: Mapping[str, Any], source_id: str, received_at: datetime) -> Parsed:
    target = statement["object"]
    if statement["verb"]["id"] == VOIDED:
        return Voiding(source_id=source_id, voided_source_id=target["id"])
    score = statement.get("result", {}).get("score")
    if score is None:
        return NoEvidence(source_id=source_id, reason="no result.score")
    is_activity = target.get("objectType", "Activity") == "Activity"
    return Observation(
        source_id=source_id,
        learner=_learner(statement["actor"]),
        score=_score(score),
        observed_at=(
            timestamp(statement["timestamp"], "timestamp")
            if "timestamp" in statement
            else received_at
        ),
        competency_refs=_competency_refs(statement, is_activity),
        assessment_id=target["id"] if is_activity else None,
        assessment_title=_title(target) if is_activity else None,
    )


def _learner(actor: Mapping[str, Any]) -> LearnerRef:
    if actor.get("objectType") == "Group":
        raise Rejection("actor", "evidence must be about one learner, not a Group")
    if "account" in actor:
        return LearnerRef(sis_id=actor["account"]["name"], home_page=actor["account"]["homePage"])
    return LearnerRef(other=identifier(actor))


def _score(score: Mapping[str, float]) -> float:
    """The score in [0, 1]: `scaled`, else `raw` placed between `min` and `max`."""
    if "scaled" in score:
        if score["scaled"] < 0:
            # xAPI allows down to -1 (e.g. penalties); mastery has no place below nothing.
            raise Rejection("result.score.scaled", "must be between 0 and 1 for evidence")
        return float(score["scaled"])
    if "raw" not in score:
        raise Rejection("result.score", "give scaled, or raw with min and max, to score evidence")
    for part in ("min", "max"):
        if part not in score:
            raise Rejection(f"result.score.{part}", "is needed with raw when scaled is absent")
    # Exact arithmetic: with min and max near the float limits, max - min overflows a float.
    low, high, raw = (Fraction(score[part]) for part in ("min", "max", "raw"))
    return float((raw - low) / (high - low))


def _competency_refs(statement: Mapping[str, Any], is_activity: bool) -> tuple[str, ...]:
    """Activity ids that may name the competency, most specific first, each once."""
    refs = [statement["object"]["id"]] if is_activity else []
    context = statement.get("context", {}).get("contextActivities", {})
    for key in _CONTEXT_ACTIVITIES:
        entry = context.get(key, [])
        refs.extend(activity["id"] for activity in (entry if isinstance(entry, list) else [entry]))
    if not refs:
        raise Rejection("object", "evidence must name an Activity, as object or in context")
    return tuple(dict.fromkeys(refs))


def _title(activity: Mapping[str, Any]) -> str | None:
    """The activity's name in English when it has one, else in its first language."""
    names: Mapping[str, str] = activity.get("definition", {}).get("name", {})
    english = [tag for tag in names if tag.lower() == "en" or tag.lower().startswith("en-")]
    preferred = sorted(english, key=lambda tag: tag.lower() != "en") + list(names)
    return names[preferred[0]] if preferred else None
