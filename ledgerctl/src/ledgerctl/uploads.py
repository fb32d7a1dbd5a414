"""Sending files to a running service: a OneRoster 1.1 bundle (zipped when a folder), a CASE
package."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

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


def post(url: str, token: str, content: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    """POST to a service with a bearer token; the status and the JSON answer."""
    response = httpx.post(
        url,
        content=content,
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        timeout=300,
    )
    try:
        body = response.json()
    except json.JSONDecodeError:
        body = {"detail": response.text}
    return response.status_code, body
