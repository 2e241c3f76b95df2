"""The API. `/health` is its readiness probe and the one place the running version is reported (ADR-049 D5).

`/health` is public: it says which features are wired, never which secret or file names the process
sees or lacks. Those go to the container's log once, at start-up, where only operators read them."""

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from spectral_app import __version__
from spectral_app.wiring import SECRETS_DIR, feature_wiring, unwired

VERSION_FILE = Path("/app/version.json")
log = logging.getLogger("spectral_app")


def secrets_dir() -> Path:
    return Path(os.environ.get("SPECTRAL_SECRETS_DIR", SECRETS_DIR))


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    # The names an operator needs to fix a feature, in the log only (the container's log is private).
    for line in unwired(feature_wiring(os.environ, secrets_dir())):
        log.warning(line)
    yield


app = FastAPI(title="spectral-app (reference)", version=__version__, lifespan=lifespan)


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
        "features": {
            feature: {"wired": report["wired"]}
            for feature, report in feature_wiring(environ, secrets_dir()).items()
        },
    }
