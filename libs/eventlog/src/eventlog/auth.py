"""Who is calling: bearer tokens verified into a Principal, and the roles each route admits.

Tokens are JWTs signed with an asymmetric key, by the identity provider (published as a JWKS) or,
in development, by the local dev key. Each route names the roles it admits with `allow(...)`, and
a service refuses to start while any route names none (`guarded_routes_missing`): access is
denied by default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from eventlog.settings import Settings

log = logging.getLogger(__name__)

ROLES = ("learner", "guardian", "teacher", "district_admin", "auditor", "partner")
REQUIRED_CLAIMS = ("exp", "iat", "sub", "iss", "aud")
LEEWAY_SECONDS = 30


@dataclass(frozen=True)
class Principal:
    """A verified caller: a pseudonymous subject, its roles, and whom it acts for."""

    subject: str
    roles: frozenset[str]
    district: str | None = None
    partner: str | None = None


class InvalidToken(Exception):
    """A token that proves nothing; `reason` is short and safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SigningKeysUnavailable(Exception):
    """The JWKS endpoint could not be read: the service's trouble, not the caller's."""


class TokenVerifier:
    """Checks bearer tokens of one issuer for one audience, against a JWKS URL or one public key."""

    def __init__(
        self,
        issuer: str,
        audience: str,
        *,
        jwks_url: str | None = None,
        public_key_pem: bytes | None = None,
    ) -> None:
        if (jwks_url is None) == (public_key_pem is None):
            raise ValueError("give exactly one key source: jwks_url or public_key_pem")
        self.issuer, self.audience = issuer, audience
        # The key set is cached for five minutes; single keys are not cached on their own,
        # since PyJWKClient would keep them forever, even after the provider drops one.
        self._jwks = (
            None if jwks_url is None else jwt.PyJWKClient(jwks_url, lifespan=300, timeout=5)
        )
        self._key = None if public_key_pem is None else load_pem_public_key(public_key_pem)
        if self._key is not None and _algorithm_for(self._key) is None:
            raise ValueError("public key must be P-256 (ES256), RSA (RS256) or Ed25519 (EdDSA)")

    def verify(self, token: str) -> Principal:
        """The principal `token` proves, or InvalidToken saying why it proves nothing."""
        try:
            key = self._signing_key(token)
            algorithm = _algorithm_for(key)
            if algorithm is None:
                raise InvalidToken("unsupported signing key")
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=LEEWAY_SECONDS,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError) as error:
            raise SigningKeysUnavailable("signing keys unavailable") from error
        except jwt.PyJWTError as error:
            raise InvalidToken(_reason(error)) from error
        return _principal(claims)

    def _signing_key(self, token: str) -> Any:
        # Any: a PEM or JWK may hold any kind of key; `_algorithm_for` decides which are accepted.
        if self._jwks is None:
            return self._key
        return self._jwks.get_signing_key_from_jwt(token).key


def verifier_from_settings(settings: Settings) -> TokenVerifier:
    """The JWKS URL if set, else the configured public key, else the local dev key."""
    jwks_url, key_file = settings.auth_jwks_url or None, settings.auth_public_key_file
    if jwks_url is None and key_file is None:
        # Imported here: dev_keys builds on ROLES from this module.
        from eventlog.dev_keys import ensure_dev_keypair

        log.warning("auth: no JWKS URL or public key configured; trusting the local dev key")
        key_file = ensure_dev_keypair(settings.state_dir)[1]
    return TokenVerifier(
        settings.auth_issuer,
        settings.auth_audience,
        jwks_url=jwks_url,
        public_key_pem=None if key_file is None else key_file.read_bytes(),
    )


BearerCredentials = Annotated[
    HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))
]


class RoleGuard:
    """A route dependency: the caller, if its token is valid and holds one of `roles`."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        self.roles = roles

    # Not async: FastAPI then runs it in a worker thread, where fetching the JWKS may block.
    def __call__(self, request: Request, credentials: BearerCredentials) -> Principal:
        verifier: TokenVerifier = request.app.state.verifier
        try:
            if credentials is None:
                raise InvalidToken("missing or malformed bearer token")
            principal = verifier.verify(credentials.credentials)
        except InvalidToken as error:
            raise HTTPException(
                401, detail=error.reason, headers={"WWW-Authenticate": "Bearer"}
            ) from None
        except SigningKeysUnavailable as error:
            raise HTTPException(503, detail=str(error)) from None
        if principal.roles.isdisjoint(self.roles):
            raise HTTPException(403, detail=f"role required: one of [{', '.join(self.roles)}]")
        return principal


def allow(*roles: str) -> RoleGuard:
    """The dependency admitting callers that hold at least one of `roles`."""
    if not roles:
        raise TypeError("allow() needs at least one role; no route is open to any token holder")
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise ValueError(f"unknown role: {unknown[0]}")
    return RoleGuard(roles)


def guarded_routes_missing(app: FastAPI, public_paths: set[str]) -> list[str]:
    """Paths of API routes that are neither public nor guarded by `allow(...)` anywhere."""
    missing: list[str] = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or route.path in public_paths:
            continue
        if not _is_guarded(route.dependant) and route.path not in missing:
            missing.append(route.path)
    return missing


def _is_guarded(dependant: Dependant) -> bool:
    if isinstance(dependant.call, RoleGuard):
        return True
    return any(_is_guarded(sub) for sub in dependant.dependencies)


def _algorithm_for(key: object) -> str | None:
    # The key decides the algorithm, never the token's header: a token cannot choose `none`,
    # HMAC with the public key as secret, or any other algorithm the key was not made for.
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    if isinstance(key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    return None


_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.InvalidSignatureError, "signature invalid"),
    (jwt.InvalidAlgorithmError, "algorithm not allowed"),
    (jwt.exceptions.InvalidSubjectError, "invalid subject"),
    (jwt.PyJWKClientError, "unknown signing key"),
    (jwt.DecodeError, "malformed token"),
)


def _reason(error: jwt.PyJWTError) -> str:
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"missing claim: {error.claim}"
    return next((reason for kind, reason in _REASONS if isinstance(error, kind)), "invalid token")


def _principal(claims: dict[str, Any]) -> Principal:
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise InvalidToken("roles must be a list of strings")
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise InvalidToken(f"unknown role: {unknown[0]}")
    if not claims["sub"]:
        raise InvalidToken("invalid subject")
    for claim in ("district", "partner"):
        if claims.get(claim) is not None and not isinstance(claims[claim], str):
            raise InvalidToken(f"{claim} must be a string")
    return Principal(
        subject=claims["sub"],
        roles=frozenset(roles),
        district=claims.get("district"),
        partner=claims.get("partner"),
    )
