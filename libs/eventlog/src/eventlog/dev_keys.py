"""The local signing key for development: an ES256 key pair in the state directory.

Services verify tokens with the public half; local tools and tests sign with the private half.
Production never uses this key: there, tokens come from the identity provider's JWKS.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from eventlog.auth import ROLES

PRIVATE_KEY_FILE = "dev-signing-key.pem"
PUBLIC_KEY_FILE = "dev-signing-key.pub.pem"


def ensure_dev_keypair(state_dir: Path) -> tuple[Path, Path]:
    """The paths of the dev private and public key, creating the pair on first use."""
    private_path, public_path = state_dir / PRIVATE_KEY_FILE, state_dir / PUBLIC_KEY_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    if not private_path.exists():
        _create_private_key(private_path)
    public_pem = _public_pem(private_path.read_bytes())
    if not public_path.exists() or public_path.read_bytes() != public_pem:
        _replace_file(public_path, public_pem, mode=0o644)
    return private_path, public_path


def issue_token(
    private_key_pem: bytes,
    *,
    issuer: str,
    audience: str,
    subject: str,
    roles: Sequence[str],
    district: str | None = None,
    partner: str | None = None,
    ttl_seconds: int = 3600,
    key_id: str = "dev",
) -> str:
    """A signed ES256 access token for `subject` holding `roles`."""
    if isinstance(roles, str):
        raise TypeError("roles must be a sequence of role names, not one string")
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role: {role}")
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "exp": now + ttl_seconds,
        "roles": list(roles),
    }
    if district is not None:
        claims["district"] = district
    if partner is not None:
        claims["partner"] = partner
    return jwt.encode(claims, private_key_pem, algorithm="ES256", headers={"kid": key_id})


def _create_private_key(path: Path) -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Several services may start at once on one state directory. Linking a finished file into
    # place fails if another process got there first, so every process ends up with one key.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


def _public_pem(private_pem: bytes) -> bytes:
    private_key = serialization.load_pem_private_key(private_pem, password=None)
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _replace_file(path: Path, content: bytes, *, mode: int) -> None:
    # Written aside and renamed, so a concurrent reader never sees half a key.
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as file:
        file.write(content)
    os.chmod(temporary, mode)
    os.replace(temporary, path)
