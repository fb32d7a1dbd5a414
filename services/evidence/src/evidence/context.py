"""What the evidence service's handlers and routes need, built once per running service."""

from __future__ import annotations

from eventlog.sealing import Pseudonyms
from eventlog.service import Service

READ_MODELS = ("evidence-learners", "evidence-competencies", "evidence-settings")


class EvidenceContext:
    def __init__(self, pseudonym_secret: bytes) -> None:
        self.ids = Pseudonyms(pseudonym_secret)
        self._service: Service | None = None

    def bind(self, service: Service) -> None:
        self._service = service

    @property
    def service(self) -> Service:
        if self._service is None:
            raise RuntimeError("the evidence context is not bound to a service")
        return self._service

    async def reference_caught_up(self) -> None:
        """Learners, competencies and settings reflect the log (before saying "unknown")."""
        for name in READ_MODELS:
            await self.service.projector(name).wait_caught_up()
