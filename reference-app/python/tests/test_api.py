import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from spectral_app import __version__
from spectral_app.api import app


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> TestClient:
    version_file = tmp_path / "version.json"
    version_file.write_text(json.dumps({"sha": "a" * 40, "short_sha": "a" * 12}))
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "supabase-ca.crt").write_text("-----BEGIN CERTIFICATE-----")
    monkeypatch.setenv("SPECTRAL_VERSION_FILE", str(version_file))
    monkeypatch.setenv("SPECTRAL_SECRETS_DIR", str(secrets_dir))
    monkeypatch.setenv("SPECTRAL_GENERATION", "42")
    monkeypatch.setenv("API_DATABASE_URL", "postgres://api:hunter2@db/spectral")
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    return TestClient(app)


def test_health_reports_version_build_and_generation(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["version"] == __version__ == "0.1.0"
    assert body["build"] == {"sha": "a" * 40, "short_sha": "a" * 12}
    assert body["generation"] == "42"


def test_health_is_public_so_it_says_only_which_features_are_wired(client: TestClient) -> None:
    response = client.get("/health")
    features = response.json()["features"]
    assert features["database"] == {"wired": True}
    assert features["billing"] == {"wired": False}
    # No value, and no secret or file name: the public answer does not map the secrets.
    for leak in ("hunter2", "BEGIN CERTIFICATE", "API_DATABASE_URL", "STRIPE_SECRET_KEY", "supabase-ca.crt"):
        assert leak not in response.text


def test_start_up_logs_what_each_unwired_feature_lacks(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="spectral_app"), client:
        pass
    assert "feature billing is not wired: missing STRIPE_SECRET_KEY" in caplog.text
    assert "hunter2" not in caplog.text
    assert "feature database" not in caplog.text


def test_health_without_version_file_reports_null_build(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPECTRAL_VERSION_FILE", "/nonexistent/version.json")
    assert client.get("/health").json()["build"] is None
