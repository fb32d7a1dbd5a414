"""A poison burst against the evidence intake, over NATS and HTTP at once: JSON nested 10,000
levels deep, lone surrogates, bytes that are not UTF-8, numbers no float can hold, keys given
twice — in the native, xAPI and Caliper formats — shuffled in among good submissions.

Proven: every good submission is recorded and decided exactly once; every bad one gets exactly
one rejection, for its own INGEST sequence, naming the field and the rule it broke; every HTTP
request is answered with its verdict; nothing is parked or left waiting; and a submission sent
after the burst is decided. Real NATS, real SQL.

The mix is drawn from a seeded `random.Random`: the seed is printed, and
`LEDGER_POISON_SEED=<seed>` replays the same burst.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from eventlog.sql import parked_events, sessions
from evidence.intake.bookkeeping import outcomes
from evidence.intake.submission import evidence_id

from .evidence_world import FRAC_URI, HOME, PARTNER, native

pytestmark = pytest.mark.integration

LEARNERS = ("sis-1", "sis-2", "sis-3", "sis-4")
GOOD_OVER_NATS, POISON_OVER_NATS = 100, 200
FORMATS = ("native", "xapi", "caliper")
ROUTES = {"native": "/v1/evidence", "xapi": "/xapi/statements", "caliper": "/caliper"}
HEADERS = {"native": {}, "xapi": {"X-Experience-API-Version": "1.0.3"}, "caliper": {}}
VERDICT_WAIT = 45.0  # seconds for the whole burst to have its verdicts

CALIPER = "http://purl.imsglobal.org/ctx/caliper/v1p2"
EXTENSION = "https://acme.example.com/xapi/extensions/notes"
MARK = "\x00poison-goes-here\x00"  # stands where a poison's raw JSON text is put in
WIDE = 30_000  # keys in one object: as many as a submission's 512 KiB holds, nearly
BIG, BIGGER = 1.2e308, 1.5e308  # near the largest float: their difference and sum overflow

# Where each format reports the submission's own id, its score, and a place any JSON may sit.
PLACES = {
    "native": {"id": "id", "score": "scaled", "room": "assessment"},
    "xapi": {"id": "id", "score": "result.score.scaled", "room": f"result.extensions.{EXTENSION}"},
    "caliper": {
        "id": "data[0].id",
        "score": "data[0].generated.scoreGiven",
        "room": "data[0].extensions.notes",
    },
}


@dataclass(frozen=True)
class Good:
    fmt: str
    body: bytes
    source_id: str
    sis_id: str
    score: float  # what it is recorded with


@dataclass(frozen=True)
class Poison:
    kind: str
    fmt: str
    body: bytes
    source_id: str
    field: str  # the rejection's field starts with this
    rule: str  # and its rule says this


@dataclass
class Ledger:
    """What was sent: the good submissions, and the INGEST sequence of each bad one."""

    goods: list[Good] = field(default_factory=list)
    refused: dict[int, Poison] = field(default_factory=dict)
    sent: int = 0  # INGEST messages stored, each owed a verdict


def observed(n: int) -> str:
    return (datetime(2026, 9, 1, tzinfo=UTC) + timedelta(minutes=n)).isoformat()


def a_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# A submission in each format about learner `sis_id`. `score` is a share, or a (given, most)
# pair; `room`, when given, is put where any JSON may sit. Either may be MARK.


def native_item(source_id: str, sis_id: str, score: Any, n: int, room: Any = None) -> dict:
    item = native(source_id, sis_id, score, observed(n))
    if isinstance(score, tuple):
        del item["scaled"]
        item["score"], item["max_score"] = score
    return item if room is None else {**item, "assessment": room}


def statement(source_id: str, sis_id: str, score: Any, n: int, room: Any = None) -> dict:
    if isinstance(score, tuple):
        given, most = score
        score = {"raw": given, "min": -most, "max": most}
    result: dict[str, Any] = {"score": {"scaled": score} if not isinstance(score, dict) else score}
    if room is not None:
        result["extensions"] = {EXTENSION: room}
    return {
        "id": source_id,
        "actor": {"objectType": "Agent", "account": {"homePage": HOME, "name": sis_id}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/scored", "display": {"en-US": "scored"}},
        "object": {"objectType": "Activity", "id": FRAC_URI},
        "result": result,
        "timestamp": observed(n),
    }


def envelope(source_id: str, sis_id: str, score: Any, n: int, room: Any = None) -> dict:
    given, most = score if isinstance(score, tuple) else (score, 1.0)
    learner = {
        "id": f"https://acme.example.com/people/{sis_id}",
        "type": "Person",
        "otherIdentifiers": [
            {
                "type": "SystemIdentifier",
                "identifier": sis_id,
                "identifierType": "SisSourcedId",
                "source": {"id": HOME, "type": "SoftwareApplication"},
            }
        ],
    }
    grade: dict[str, Any] = {
        "@context": CALIPER,
        "id": source_id,
        "type": "GradeEvent",
        "actor": {"id": "https://acme.example.com/grader", "type": "SoftwareApplication"},
        "action": "Graded",
        "object": {
            "id": f"https://acme.example.com/attempts/{n}",
            "type": "Attempt",
            "assignee": learner,
            "assignable": {
                "id": "https://acme.example.com/quizzes/fractions",
                "type": "Assessment",
                "learningObjectives": [{"id": FRAC_URI, "type": "LearningObjective"}],
            },
        },
        "eventTime": observed(n),
        "generated": {
            "id": f"https://acme.example.com/scores/{n}",
            "type": "Score",
            "scoreGiven": given,
            "maxScore": most,
        },
    }
    if room is not None:
        grade["extensions"] = {"notes": room}
    return {
        "sensor": "https://acme.example.com/sensor",
        "sendTime": observed(n),
        "dataVersion": CALIPER,
        "data": [grade],
    }


SHAPES: dict[str, Callable[..., dict]] = {
    "native": native_item,
    "xapi": statement,
    "caliper": envelope,
}


def new_id(fmt: str, n: int, rng: random.Random, kind: str) -> str:
    """An id as each format has them: the partner's own, a statement UUID, an event URN."""
    if fmt == "native":
        return f"{kind}-{n}"
    return a_uuid(rng) if fmt == "xapi" else f"urn:uuid:{a_uuid(rng)}"


def good(rng: random.Random, fmt: str, n: int) -> Good:
    """A valid submission. One in four gives its score with numbers near the largest float,
    whose sums and differences overflow: BIG out of BIGGER, or an xAPI raw score of BIG or -BIG
    between a min of -BIGGER and a max of BIGGER (a share of 0.9 or 0.1)."""
    source_id = new_id(fmt, n, rng, "good")
    sis_id = LEARNERS[n % len(LEARNERS)]
    expected = round(rng.random(), 2)
    score: Any = expected
    if rng.random() < 0.25:
        given = rng.choice([BIG, -BIG]) if fmt == "xapi" else BIG
        score = (given, BIGGER)
        expected = (given / BIGGER + 1) / 2 if fmt == "xapi" else BIG / BIGGER
    body = json.dumps(SHAPES[fmt](source_id, sis_id, score, n)).encode()
    return Good(fmt, body, source_id, sis_id, expected)


# Poison: a would-be good submission with one thing wrong, at the place it is reported at.


def _with(fmt: str, n: int, raw: str, at: str, rng: random.Random) -> tuple[str, str]:
    """The id and the JSON text of a submission holding `raw` (JSON text, not a value) at `at`
    (id, score or room); "{id}" in `raw` stands for the id."""
    source_id = new_id(fmt, n, rng, "poison")
    values: dict[str, Any] = {"id": source_id, "score": 0.5, "room": None, at: MARK}
    submission = SHAPES[fmt](values["id"], rng.choice(LEARNERS), values["score"], n, values["room"])
    return source_id, json.dumps(submission).replace(
        json.dumps(MARK), raw.replace("{id}", source_id)
    )


def deep(fmt: str, n: int, rng: random.Random) -> Poison:
    """JSON nested 10,000 levels: more than a parser's stack holds."""
    depth = 10_000
    raw = rng.choice(["[" * depth + "]" * depth, '{"a": ' * depth + "0" + "}" * depth])
    source_id, text = _with(fmt, n, raw, "room", rng)
    return Poison("deep", fmt, text.encode(), source_id, "body", "nested deeper than")


def nested_item(fmt: str, n: int, rng: random.Random) -> Poison:
    """An otherwise valid item carrying a value nested a few hundred levels deep."""
    depth = rng.randint(100, 400)
    source_id, text = _with(fmt, n, "[" * depth + "]" * depth, "room", rng)
    room = PLACES[fmt]["room"]
    return Poison("nested item", fmt, text.encode(), source_id, room, "nested deeper than")


def lone_surrogate(fmt: str, n: int, rng: random.Random) -> Poison:
    """A string (the id, or a key) holding half a surrogate pair, written as a JSON escape."""
    half = rng.choice(["\\ud800", "\\udbff", "\\udc00", "\\udfff"])
    at, raw = rng.choice([("id", f'"{{id}}{half}"'), ("room", f'{{"{half}": 1}}')])
    source_id, text = _with(fmt, n, raw, at, rng)
    where = PLACES[fmt][at]
    return Poison("lone surrogate", fmt, text.encode(), source_id, where, "lone surrogate")


def not_utf8(fmt: str, n: int, rng: random.Random) -> Poison:
    """A good submission's text in another encoding, or bytes in no encoding at all."""
    source_id, text = _with(fmt, n, '"caf\u00e9"', "room", rng)
    garbage = b"\xff\xfe\xfd" + rng.randbytes(24)
    body = rng.choice([text.encode("utf-16"), text.encode("latin-1"), garbage])
    return Poison("not UTF-8", fmt, body, source_id, "body", "UTF-8")


def huge_number(fmt: str, n: int, rng: random.Random) -> Poison:
    """A score no float holds: out of range, not a JSON number, or thousands of digits."""
    place = PLACES[fmt]["score"]
    raw, where, rule = rng.choice(
        [
            ("1e999", place, "finite"),
            ("-1e999", place, "finite"),
            ("NaN", "body", "NaN is not a JSON number"),
            ("Infinity", "body", "Infinity is not a JSON number"),
            ("-Infinity", "body", "Infinity is not a JSON number"),
            ("9" * 10_000, "body", "digits"),
            ("7" * 4_000, place, "number"),  # within the parser's limit, far past a float's
        ]
    )
    source_id, text = _with(fmt, n, raw, "score", rng)
    return Poison("huge number", fmt, text.encode(), source_id, where, rule)


def duplicate_key(fmt: str, n: int, rng: random.Random) -> Poison:
    """A key given twice with two different values: the id, right after itself, or the last of
    tens of thousands of keys (a search for the repeated key that compares every key with
    every other takes many seconds over that, and stops all else meanwhile)."""
    if rng.random() < 0.5:
        key, raw = "id", f'"{{id}}", "id": "{a_uuid(rng)}"'
    else:
        key = f"x-{WIDE - 1}"
        raw = '"{id}", ' + "".join(f'"x-{i}": 0, ' for i in range(WIDE)) + f'"{key}": 1'
    source_id, text = _with(fmt, n, raw, "id", rng)
    # xAPI names the property given twice; the other formats refuse the body as a whole.
    where = key if fmt == "xapi" else "body"
    return Poison("duplicate key", fmt, text.encode(), source_id, where, "appears")


POISONS = (deep, nested_item, lone_surrogate, not_utf8, huge_number, duplicate_key)


def burst(rng: random.Random) -> list[Good | Poison]:
    """Good submissions (mostly native) and poison (every kind in every format at least once,
    the rest drawn at random), shuffled together."""
    goods = [
        good(rng, rng.choices(FORMATS, weights=(7, 2, 1))[0], n) for n in range(GOOD_OVER_NATS)
    ]
    kinds = [(poison, fmt) for poison in POISONS for fmt in FORMATS]
    kinds += [
        (rng.choice(POISONS), rng.choice(FORMATS)) for _ in range(POISON_OVER_NATS - len(kinds))
    ]
    poisons = [poison(fmt, 1000 + n, rng) for n, (poison, fmt) in enumerate(kinds)]
    mixed: list[Good | Poison] = [*goods, *poisons]
    rng.shuffle(mixed)
    return mixed


# Over NATS, as a partner's sensor publishes; over HTTP, as a partner's client posts.


async def publish_all(world, ledger: Ledger, submissions: list[Good | Poison]) -> None:
    for submission in submissions:
        sequence = await world.publish(submission.fmt, submission.body, HEADERS[submission.fmt])
        ledger.sent += 1
        if isinstance(submission, Poison):
            ledger.refused[sequence] = submission
        else:
            ledger.goods.append(submission)


async def post(world, fmt: str, body: bytes):
    headers = {**world.partner, **HEADERS[fmt], "Content-Type": "application/json"}
    return await world.client.post(ROUTES[fmt], content=body, headers=headers)


def refusal(response) -> tuple[str, str]:
    """The field and the rule a refusal names, whichever shape its body has."""
    detail = response.json()["detail"]
    if isinstance(detail, str):  # "field: rule"
        where, _, rule = detail.partition(": ")
        return where, rule
    [problem] = detail
    return problem["field"], problem["rule"]


def assert_names_the_poison(response, poison: Poison) -> None:
    told = (poison.kind, poison.fmt, response.status_code, response.text[:300])
    assert response.status_code in (400, 422), told
    where, rule = refusal(response)
    assert where.startswith(poison.field), told
    assert poison.rule in rule, told


async def post_all(world, ledger: Ledger, rng: random.Random) -> None:
    """Each kind of poison to each route, after a good submission; every answer a verdict."""
    for fmt in FORMATS:
        for n, poison in enumerate(POISONS, start=2000 + 10 * FORMATS.index(fmt)):
            sent = good(rng, fmt, n)
            accepted = await post(world, fmt, sent.body)
            assert accepted.status_code == 200, (fmt, accepted.text)
            ledger.sent += 1
            ledger.goods.append(sent)

            bad = poison(fmt, n, rng)
            refused = await post(world, fmt, bad.body)
            assert_names_the_poison(refused, bad)
            ledger.sent += 1
            ledger.refused[refused.json()["ingest_sequence"]] = bad


# What the service holds afterwards.


async def every_one_has_a_verdict(world, ledger: Ledger) -> bool:
    async with sessions(world.ctx.service.engine)() as session:
        given = await session.scalar(select(func.count()).select_from(outcomes))
    return given == ledger.sent


async def parked(world) -> list[Any]:
    async with sessions(world.ctx.service.engine)() as session:
        return list((await session.execute(select(parked_events))).mappings().all())


async def nothing_waiting(world) -> bool:
    info = await world.js.consumer_info("INGEST", "evidence-ingest")
    return info.num_pending == 0 and info.num_ack_pending == 0


async def decided(world, sis_id: str, source_id: str) -> bool:
    wanted = evidence_id(PARTNER, source_id)
    decisions = await world.events(world.learner(sis_id), "mastery")
    return any(wanted in {e.evidence_id for e in d.evidence} for d in decisions)


def taken_in_turn(decisions: list[Any]) -> Iterator[str]:
    """The evidence each decision takes in beyond the one before it: exactly one each."""
    before: set[str] = set()
    for decision in decisions:
        now = {e.evidence_id for e in decision.evidence}
        [new] = now - before
        yield new
        before = now


async def test_a_poison_burst_over_nats_and_http_is_refused_one_by_one_while_good_evidence_flows(
    world,
):
    seed = int(os.environ.get("LEDGER_POISON_SEED") or random.randrange(2**32))
    print(f"LEDGER_POISON_SEED={seed}")
    rng = random.Random(seed)
    for sis_id in LEARNERS:
        await world.register(sis_id)
    await world.ctx.reference_caught_up()
    ledger = Ledger()

    await asyncio.gather(
        publish_all(world, ledger, burst(rng)), post_all(world, ledger, random.Random(seed + 1))
    )
    await world.publish("native", native("after-the-burst", "sis-1", 0.9, observed(1500)))
    ledger.sent += 1
    ledger.goods.append(Good("native", b"", "after-the-burst", "sis-1", 0.9))

    # The stream never stalls: what came after the burst is decided, everything has its
    # verdict, nothing waits for redelivery and nothing is parked.
    assert await world.until(lambda: decided(world, "sis-1", "after-the-burst"), VERDICT_WAIT)
    assert await world.until(lambda: every_one_has_a_verdict(world, ledger), VERDICT_WAIT)
    assert await world.until(lambda: nothing_waiting(world)), f"seed {seed}"
    assert await parked(world) == [], f"seed {seed}"

    # Every bad submission: one rejection, its own, naming the field and the rule it broke.
    rejections = await world.rejections()
    per_submission = Counter(r.ingest_sequence for r in rejections)
    assert set(per_submission) == set(ledger.refused), f"seed {seed}"
    assert [s for s, times in per_submission.items() if times > 1] == [], f"seed {seed}"
    for rejection in rejections:
        poison = ledger.refused[rejection.ingest_sequence]
        told = (seed, poison.kind, poison.fmt, rejection.field, rejection.rule)
        assert rejection.source_format == poison.fmt, told
        assert rejection.field.startswith(poison.field), told
        assert poison.rule in rejection.rule, told

    # Every good submission: recorded once, and taken in by exactly one decision.
    for sis_id in LEARNERS:
        learner = world.learner(sis_id)
        sent = {g.source_id: g for g in ledger.goods if g.sis_id == sis_id}
        recorded = await world.events(learner, "recorded")
        assert sorted(r.source_id for r in recorded) == sorted(sent), f"seed {seed}"
        for r in recorded:
            assert r.score == pytest.approx(sent[r.source_id].score), (seed, r.source_id)
        taken_in = list(taken_in_turn(await world.events(learner, "mastery")))
        assert sorted(taken_in) == sorted(r.evidence_id for r in recorded), f"seed {seed}"


async def test_poison_put_to_the_xapi_statement_resource_is_refused_naming_the_field_and_rule(
    world,
):
    """PUT reads the statement itself (to fill in its id), so it must read as strictly as the
    intake does: every kind of poison is refused with its field and rule, never a 500."""
    learner = await world.register("sis-1")
    rng = random.Random(7)
    headers = {**world.partner, **HEADERS["xapi"], "Content-Type": "application/json"}
    for n, poison in enumerate(POISONS):
        bad = poison("xapi", n, rng)
        refused = await world.client.put(
            f"/xapi/statements?statementId={bad.source_id}", content=bad.body, headers=headers
        )
        # The resource refuses a key given twice anywhere in the body, as the body.
        assert_names_the_poison(
            refused, replace(bad, field="body") if bad.kind == "duplicate key" else bad
        )

    statement_id = a_uuid(rng)
    sent = statement(statement_id, "sis-1", 0.75, 10)
    del sent["id"]
    stored = await world.client.put(
        f"/xapi/statements?statementId={statement_id}", json=sent, headers=headers
    )
    assert stored.status_code == 204, stored.text
    [recorded] = await world.events(learner, "recorded")
    assert recorded.source_id == statement_id
