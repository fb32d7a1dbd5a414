"""Bearer tokens and route guards: who gets in, who is turned away, and with what answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import stat
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Annotated

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import APIRouter, Depends, FastAPI

from eventlog.auth import (
    InvalidToken,
    Principal,
    SigningKeysUnavailable,
    TokenVerifier,
    allow,
    guarded_routes_missing,
    verifier_from_settings,
)
from eventlog.dev_keys import ensure_dev_keypair, issue_token
from eventlog.settings import Settings

ISSUER = "learner-ledger-test"
AUDIENCE = "learner-ledger"


@pytest.fixture
def private_pem(tmp_path) -> bytes:
    return ensure_dev_keypair(tmp_path)[0].read_bytes()


@pytest.fixture
def public_pem(tmp_path, private_pem) -> bytes:
    return ensure_dev_keypair(tmp_path)[1].read_bytes()


@pytest.fixture
def verifier(public_pem) -> TokenVerifier:
    return TokenVerifier(ISSUER, AUDIENCE, public_key_pem=public_pem)


def token_for(private_pem: bytes, roles=("teacher",), **overrides) -> str:
    claims = {"issuer": ISSUER, "audience": AUDIENCE, "subject": "p-7f3a", "roles": roles}
    return issue_token(private_pem, **(claims | overrides))


def refusal(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token)
    return refused.value.reason


def valid_claims(**extra) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "p-7f3a", "iat": now, "exp": now + 60}
    return claims | {"roles": ["teacher"]} | extra


def forged(header: dict, claims: dict, hmac_secret: bytes | None) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    signature = b""
    if hmac_secret is not None:
        signature = hmac.new(hmac_secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


# Tokens


def test_a_dev_token_verifies_into_the_principal_it_names(private_pem, verifier):
    teacher = token_for(private_pem, roles=["teacher", "guardian"], district="d-12")
    partner = token_for(private_pem, roles=["partner"], subject="p-partner", partner="acme")

    assert verifier.verify(teacher) == Principal(
        subject="p-7f3a", roles=frozenset({"teacher", "guardian"}), district="d-12", partner=None
    )
    assert verifier.verify(partner) == Principal(
        subject="p-partner", roles=frozenset({"partner"}), district=None, partner="acme"
    )


def test_an_expired_token_is_refused_after_the_clock_leeway(private_pem, verifier):
    assert verifier.verify(token_for(private_pem, ttl_seconds=-10)).subject == "p-7f3a"
    assert refusal(verifier, token_for(private_pem, ttl_seconds=-60)) == "token expired"


def test_a_token_for_another_audience_is_refused(private_pem, public_pem):
    elsewhere = TokenVerifier(ISSUER, "another-system", public_key_pem=public_pem)
    assert refusal(elsewhere, token_for(private_pem)) == "wrong audience"


def test_a_token_from_another_issuer_is_refused(private_pem, verifier):
    assert refusal(verifier, token_for(private_pem, issuer="someone-else")) == "wrong issuer"


def test_a_token_signed_by_another_key_is_refused(tmp_path, verifier):
    stranger = ensure_dev_keypair(tmp_path / "stranger")[0].read_bytes()
    assert refusal(verifier, token_for(stranger)) == "signature invalid"


@pytest.mark.parametrize(
    "header",
    [{"alg": "HS256", "typ": "JWT", "kid": "dev"}, {"alg": "none", "typ": "JWT"}],
    ids=["hmac-with-the-public-key", "unsigned"],
)
def test_a_token_that_chooses_its_own_algorithm_is_refused(public_pem, verifier, header):
    secret = public_pem if header["alg"] == "HS256" else None
    assert refusal(verifier, forged(header, valid_claims(), secret)) == "algorithm not allowed"


def test_a_token_with_a_role_outside_the_ledger_is_refused(private_pem, verifier):
    token = jwt.encode(valid_claims(roles=["teacher", "superuser"]), private_pem, "ES256")
    assert refusal(verifier, token) == "unknown role: superuser"


def test_a_token_without_an_expiry_is_refused(private_pem, verifier):
    claims = valid_claims()
    del claims["exp"]
    assert refusal(verifier, jwt.encode(claims, private_pem, "ES256")) == "missing claim: exp"


def test_tokens_are_only_issued_for_known_roles(private_pem):
    with pytest.raises(ValueError, match="unknown role: headmaster"):
        token_for(private_pem, roles=["teacher", "headmaster"])


def test_the_dev_key_pair_is_made_once_and_the_private_half_kept_private(tmp_path):
    private_path, public_path = ensure_dev_keypair(tmp_path / "state")
    first = private_path.read_bytes(), public_path.read_bytes()

    assert ensure_dev_keypair(tmp_path / "state") == (private_path, public_path)
    assert (private_path.read_bytes(), public_path.read_bytes()) == first
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600


def test_without_configured_keys_services_trust_the_dev_key(tmp_path):
    settings = Settings(
        state_dir=tmp_path, auth_issuer=ISSUER, auth_jwks_url=None, auth_public_key_file=None
    )
    verifier = verifier_from_settings(settings)
    private_pem = (tmp_path / "dev-signing-key.pem").read_bytes()

    assert verifier.verify(token_for(private_pem)).roles == {"teacher"}


# Keys published by an identity provider


class JwksServer(ThreadingHTTPServer):
    document: bytes = b""
    requests_served: int = 0


class JwksHandler(BaseHTTPRequestHandler):
    server: JwksServer

    def do_GET(self):
        self.server.requests_served += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.server.document)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def jwks_server(public_pem) -> Iterator[JwksServer]:
    public_key = load_pem_public_key(public_pem)
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    jwk = jwt.algorithms.ECAlgorithm.to_jwk(public_key, as_dict=True)
    server = JwksServer(("127.0.0.1", 0), JwksHandler)
    server.document = json.dumps({"keys": [jwk | {"kid": "dev", "use": "sig"}]}).encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def jwks_url(server: JwksServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"


def test_a_token_verifies_against_the_published_key_set(private_pem, jwks_server):
    verifier = TokenVerifier(ISSUER, AUDIENCE, jwks_url=jwks_url(jwks_server))

    assert verifier.verify(token_for(private_pem)).subject == "p-7f3a"
    assert verifier.verify(token_for(private_pem, subject="p-other")).subject == "p-other"
    assert jwks_server.requests_served == 1


def test_a_token_naming_an_unpublished_key_is_refused(private_pem, jwks_server):
    verifier = TokenVerifier(ISSUER, AUDIENCE, jwks_url=jwks_url(jwks_server))
    assert refusal(verifier, token_for(private_pem, key_id="retired")) == "unknown signing key"


def test_an_unreachable_key_set_is_not_blamed_on_the_caller(private_pem):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    verifier = TokenVerifier(ISSUER, AUDIENCE, jwks_url=f"http://127.0.0.1:{port}/jwks.json")

    with pytest.raises(SigningKeysUnavailable):
        verifier.verify(token_for(private_pem))


# Routes


def gradebook(verifier: TokenVerifier) -> FastAPI:
    app = FastAPI()
    app.state.verifier = verifier

    @app.get("/grades")
    def grades(teacher: Annotated[Principal, Depends(allow("teacher"))]) -> dict[str, str]:
        return {"subject": teacher.subject}

    return app


async def get(app: FastAPI, headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ledger.test") as client:
        return await client.get("/grades", headers=headers)


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        (None, "missing or malformed bearer token"),
        ("Basic cDpx", "missing or malformed bearer token"),
        ("Bearer not.a.jwt", "malformed token"),
    ],
)
async def test_a_caller_without_a_valid_token_is_asked_to_authenticate(
    verifier, authorization, detail
):
    headers = {"Authorization": authorization} if authorization else {}
    response = await get(gradebook(verifier), headers)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"detail": detail}


async def test_a_caller_without_the_role_is_forbidden(private_pem, verifier):
    learner = token_for(private_pem, roles=["learner"])
    response = await get(gradebook(verifier), {"Authorization": f"Bearer {learner}"})

    assert response.status_code == 403
    assert response.json() == {"detail": "role required: one of [teacher]"}


async def test_a_caller_with_the_role_is_served(private_pem, verifier):
    response = await get(gradebook(verifier), {"Authorization": f"Bearer {token_for(private_pem)}"})

    assert response.status_code == 200
    assert response.json() == {"subject": "p-7f3a"}


def test_a_rule_must_name_at_least_one_known_role():
    with pytest.raises(TypeError):
        allow()
    with pytest.raises(ValueError, match="unknown role: teachr"):
        allow("teachr")


def current_auditor(auditor: Annotated[Principal, Depends(allow("auditor"))]) -> Principal:
    """A dependency that is guarded itself, so any route using it is guarded."""
    return auditor


def test_routes_without_a_rule_are_reported_unless_public(verifier):
    app = gradebook(verifier)
    staff = APIRouter(prefix="/staff", dependencies=[Depends(allow("district_admin"))])

    @staff.get("/report")
    def report() -> dict[str, str]:
        return {}

    app.include_router(staff)

    @app.get("/audit")
    def audit(auditor: Annotated[Principal, Depends(current_auditor)]) -> dict[str, str]:
        return {}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {}

    @app.get("/open")
    def open_to_all() -> dict[str, str]:
        return {}

    assert guarded_routes_missing(app, {"/healthz"}) == ["/open"]
