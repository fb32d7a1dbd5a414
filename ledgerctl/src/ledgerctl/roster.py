"""`ledgerctl roster import DIR|ZIP`: send a OneRoster 1.1 bundle to the profiles service."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import httpx


def bundle_bytes(path: Path) -> bytes:
    """A zip as is, or a directory of CSV files zipped in memory."""
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for csv_file in sorted(path.glob("*.csv")):
            archive.write(csv_file, csv_file.name)
    return buffer.getvalue()


def post_bundle(url: str, token: str, path: Path) -> tuple[int, dict[str, object]]:
    response = httpx.post(
        f"{url.rstrip('/')}/v1/rosters",
        content=bundle_bytes(path),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip"},
        timeout=300,
    )
    try:
        body = response.json()
    except json.JSONDecodeError:
        body = {"detail": response.text}
    return response.status_code, body
