"""The API. `/health` is its readiness probe and the one place the running version is reported (ADR-049 D5)."""

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from spectral_app import __version__
from spectral_app.wiring import SECRETS_DIR, feature_wiring

VERSION_FILE = Path("/app/version.json")

app = FastAPI(title="spectral-app (reference)", version=__version__)


def read_build(version_file: Path) -> dict[str, Any] | None:
    """The image's version.json, or None when run outside an image (pnpm dev, tests)."""
    try:
        build: dict[str, Any] = json.loads(version_file.read_text())
    except FileNotFoundError:
        return None
    return build


@app.get("/health")
def health() -> dict[str, Any]:
    environ = os.environ
    return {
        "status": "ok",
        "version": __version__,
        "build": read_build(Path(environ.get("SPECTRAL_VERSION_FILE", VERSION_FILE))),
        "generation": environ.get("SPECTRAL_GENERATION"),
        "features": feature_wiring(environ, Path(environ.get("SPECTRAL_SECRETS_DIR", SECRETS_DIR))),
    }
