"""A district for the notifications service under test: people registered as the profiles
service would (identities sealed with their own keys), a real SMTP server (aiosmtpd), a real
HTTP receiver for webhooks that checks signatures, and helpers to publish what other services
would."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import uvicorn
from aiosmtpd.controller import Controller
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from eventlog.embedded_nats import free_port
from eventlog.event_store import EventStore
from notifications.domain.signing import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from shared_events import Envelope, Timeline
from shared_events.events.evidence import EvidenceUsed, MasteryDecided, PolicyRef
from shared_events.events.notifications import NotificationDelivered, NotificationFailed
from shared_events.events.pathways import CompetencyDefinition, FrameworkImported
from shared_events.events.profiles import (
    ClassEnrolled,
    GuardianLinked,
    GuardianRegistered,
    LearnerRegistered,
    StaffRegistered,
)

D = "d1"


class Mailbox:
    """An SMTP server's handler: every message accepted, as (to, subject, text)."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.gate: asyncio.Event | None = None  # set: DATA waits for it

    async def handle_DATA(self, server, session, envelope):
        if self.gate is not None:
            await self.gate.wait()
        from email import message_from_bytes, policy

        parsed = message_from_bytes(envelope.content, policy=policy.default)
        body = parsed.get_body(("plain",))
        self.messages.append(
            {
                "to": ",".join(envelope.rcpt_tos),
                "subject": str(parsed["Subject"]),
                "text": body.get_content().strip() if body else "",
                "from": str(parsed["From"]),
                "message_id": str(parsed["Message-ID"]),
            }
        )
        return "250 Message accepted for delivery"


@dataclass
class Receiver:
    """A district system receiving webhooks: checks each signature; answers `failures` 500s
    first, then 200."""

    secret: bytes = b""
    failures: int = 0
    requests: list[dict] = field(default_factory=list)
    accepted: list[dict] = field(default_factory=list)

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        signed = verify(
            self.secret, request.headers.get(SIGNATURE_HEADER, ""), body, int(time.time())
        )
        self.requests.append({"signed": signed, "delivery": request.headers.get(DELIVERY_HEADER)})
        if not signed:
            return Response(status_code=401)
        if len(self.requests) <= self.failures:
            return Response(status_code=500)
        self.accepted.append(json.loads(body))
        return Response(status_code=204)


class Clock:
    """A scripted clock for the service: starts now, moves when told."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


async def start_receiver(receiver: Receiver) -> tuple[str, uvicorn.Server, asyncio.Task]:
    port = free_port()
    app = Starlette(routes=[Route("/hook", receiver.endpoint, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return f"http://127.0.0.1:{port}/hook", server, task


def start_smtp(mailbox: Mailbox) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


class District:
    def __init__(self, app, js, until, name: str = D) -> None:
        self.app, self.js, self.until, self.name = app, js, until, name
        self.store = EventStore(js)
        self.decisions = 0

    @property
    def ctx(self):
        return self.app.state.notifications

    async def profile(self, person: str, event) -> None:
        envelope = Envelope.wrap(event, source="profiles", subject=person, district=self.name)
        await self.store.append(Timeline("profiles", self.name, person), [envelope])

    async def register(self, person: str, kind: str, **identity: str) -> None:
        sealed = await self.ctx.sealer.seal(person, identity)
        event = {
            "learner": lambda: LearnerRegistered(learner_id=person, identity=sealed),
            "guardian": lambda: GuardianRegistered(person_id=person, identity=sealed),
            "teacher": lambda: StaffRegistered(person_id=person, role="teacher", identity=sealed),
        }[kind]()
        await self.profile(person, event)

    async def family(self) -> None:
        """Learner lrn-1 (Ada), guardian grd-1 (Grace), teacher tch-1 (Alan) of class cls-1."""
        await self.register("lrn-1", "learner", given_name="Ada", email="ada@school.test")
        await self.register("grd-1", "guardian", given_name="Grace", email="grace@home.test")
        await self.register("tch-1", "teacher", given_name="Alan", email="alan@school.test")
        await self.profile("lrn-1", GuardianLinked(learner_id="lrn-1", guardian_id="grd-1"))
        for person, role in (("lrn-1", "student"), ("tch-1", "teacher")):
            await self.profile(person, ClassEnrolled(person_id=person, class_id="cls-1", role=role))
        await self.app.state.service.projector("notifications-recipients").wait_caught_up()

    async def decide(self, mastered: bool, competency: str = "c1", learner: str = "lrn-1") -> str:
        self.decisions += 1
        at = datetime.now(UTC)
        event = MasteryDecided(
            learner_id=learner,
            competency_id=competency,
            policy=PolicyRef(policy_id="district-default", method="latest", version=1),
            evidence=(EvidenceUsed(evidence_id=f"e{self.decisions}", score=0.9, observed_at=at),),
            previous_level=None,
            new_level="mastered" if mastered else "familiar",
            previous_score=None,
            new_score=0.95 if mastered else 0.5,
            mastered=mastered,
        )
        envelope = Envelope.wrap(event, source="evidence", subject=learner, district=self.name)
        await self.store.append(Timeline("evidence", self.name, learner), [envelope])
        return envelope.id

    async def framework(self, **statements: str) -> None:
        """A competency framework imported, as the pathways service would: id=statement."""
        event = FrameworkImported(
            framework_id="fw",
            version=1,
            title="Framework",
            competencies=tuple(
                CompetencyDefinition(competency_id=competency, statement=statement)
                for competency, statement in statements.items()
            ),
            content_hash="0" * 64,
        )
        envelope = Envelope.wrap(event, source="pathways", subject="fw", district=self.name)
        await self.store.append(Timeline("frameworks", self.name, "fw"), [envelope])

    async def publish(self, learner: str, event) -> None:
        envelope = Envelope.wrap(event, source="pathways", subject=learner, district=self.name)
        await self.store.append(Timeline("pathways", self.name, learner), [envelope])

    async def log(self, learner: str = "lrn-1") -> list:
        timeline = Timeline("notifications", self.name, learner)
        return [e.envelope.data for e in await self.store.read(timeline)]

    async def outcomes(self, learner: str = "lrn-1") -> list:
        return [
            e
            for e in await self.log(learner)
            if isinstance(e, NotificationDelivered | NotificationFailed)
        ]
