"""Which secrets each feature expects, and which of them this process can see: names only, never values."""

from collections.abc import Mapping
from pathlib import Path
from typing import TypedDict

SECRETS_DIR = Path("/etc/spectral")

# The API's view of the alpha secrets manifest (Pulumi.alpha.yaml). Workers-only secrets are absent
# on purpose: the supervisor never hands them to the API, so listing them would report them missing.
API_FEATURES: dict[str, dict[str, tuple[str, ...]]] = {
    "database": {"env": ("API_DATABASE_URL",), "files": ("supabase-ca.crt",)},
    "auth": {"env": ("SUPABASE_JWT_SECRET",), "files": ()},
    "billing": {"env": ("STRIPE_SECRET_KEY",), "files": ()},
    "error_reporting": {"env": ("SENTRY_DSN",), "files": ()},
    "exports": {"env": (), "files": ("gcs-service-account.json",)},
}


class FeatureWiring(TypedDict):
    wired: bool
    present: list[str]
    missing: list[str]


def feature_wiring(
    environ: Mapping[str, str],
    secrets_dir: Path = SECRETS_DIR,
    features: Mapping[str, Mapping[str, tuple[str, ...]]] = API_FEATURES,
) -> dict[str, FeatureWiring]:
    """Per feature, the expected env vars and files that are present or missing (a file is `files/<name>`)."""
    report: dict[str, FeatureWiring] = {}
    for feature, expected in features.items():
        checks = [(name, name in environ) for name in expected["env"]]
        checks += [(f"files/{name}", (secrets_dir / name).is_file()) for name in expected["files"]]
        present = [name for name, found in checks if found]
        missing = [name for name, found in checks if not found]
        report[feature] = {"wired": not missing, "present": present, "missing": missing}
    return report


def unwired(report: Mapping[str, FeatureWiring]) -> list[str]:
    """One log line per feature that lacks something, naming what (names only, never values)."""
    return [
        f"feature {feature} is not wired: missing {', '.join(wiring['missing'])}"
        for feature, wiring in report.items()
        if not wiring["wired"]
    ]
