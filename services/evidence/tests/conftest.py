import pytest

from eventlog.event_store import EventStore
from evidence.app import create_app
from shared_events import Timeline

from .evidence_world import DISTRICT, HOME, PARTNER, World, framework_event


@pytest.fixture
async def world(js, ledger_settings, running_app, bearer, until):
    settings = ledger_settings("evidence")
    app = create_app(settings)
    admin = bearer(settings, "district_admin", sub="per-admin", district=DISTRICT)
    partner_token = bearer(settings, "partner", sub=PARTNER, partner=PARTNER)
    async with running_app(app) as client:
        configured = await client.put(
            "/v1/ingest", json={"partners": [PARTNER], "sis_home_pages": [HOME]}, headers=admin
        )
        assert configured.status_code == 200, configured.text
        await EventStore(js).append(
            Timeline("frameworks", DISTRICT, "fw-math"), [framework_event()]
        )
        world = World(client, app, js, admin, partner_token, until)
        await world.ctx.reference_caught_up()
        yield world
