"""The factory, settings and /health."""
from __future__ import annotations

from pathlib import Path

import pytest

from config import TestConfig, database_url, persistent_secret


def test_secret_key_is_generated_once_and_kept(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = persistent_secret("SECRET_KEY", tmp_path)
    assert len(first) >= 32
    assert persistent_secret("SECRET_KEY", tmp_path) == first
    assert oct((tmp_path / "secret_key.txt").stat().st_mode)[-3:] == "600"


def test_secret_from_environment_wins(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert persistent_secret("SECRET_KEY", tmp_path) == "from-the-environment"
    assert not (tmp_path / "secret_key.txt").exists()


@pytest.mark.parametrize("raw, expected", [
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("mssql+pyodbc://u:p@h/db?driver=FreeTDS", "mssql+pyodbc://u:p@h/db?driver=FreeTDS"),
])
def test_database_url_normalisation(raw, expected):
    assert database_url(raw) == expected


def test_default_database_is_a_sqlite_file_in_instance():
    from config import INSTANCE_DIR

    assert database_url(None) == f"sqlite:///{INSTANCE_DIR / 'clinic.db'}"


def test_factory_builds_independent_apps(app, db_url):
    """Two apps from the factory each get their own routes (a module-level AppBuilder reused by a
    second app would leave it without any)."""
    from app import create_app

    other = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=db_url)
    rules = {rule.rule for rule in other.url_map.iter_rules()}
    assert "/api/v1/patient/" in rules and "/patientview/list/" in rules and "/health" in rules
    assert other.appbuilder is not app.appbuilder


def test_health_ok_with_embedded_services(client):
    response = client.get("/health")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "embedded"
    assert body["checks"]["documents"] == {"status": "ok", "backend": "sql"}


@pytest.mark.needs_redis
def test_health_reports_real_redis(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:6379/15")
    body = client.get("/health").get_json()
    assert body["checks"]["redis"]["status"] == "ok"


def test_health_is_503_when_redis_is_down(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", "redis://127.0.0.1:1/0")
    response = client.get("/health")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["checks"]["redis"]["status"] == "error"
    assert body["checks"]["database"]["status"] == "ok"
    assert "Traceback" not in response.get_data(as_text=True)


def test_health_is_503_when_the_document_store_is_down(app, client, monkeypatch):
    from app.services.documents import MongoDocumentStore

    unreachable = MongoDocumentStore("mongodb://127.0.0.1:1/clinic", server_timeout_ms=200)
    monkeypatch.setitem(app.extensions, "documents", unreachable)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["checks"]["documents"]["status"] == "error"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_unknown_api_resource_is_json_404(client):
    response = client.get("/api/v1/no_such_resource/")
    assert response.status_code == 404
    assert response.is_json


def test_login_page_is_served_as_utf8(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert "utf-8" in response.headers["Content-Type"].lower()


def test_behind_a_trusted_proxy_the_client_address_is_audited(app, db_url, api, admin_id):
    from app import create_app
    from app.models import AuditEvent
    from tests.factories import token_headers

    proxied = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=db_url, TRUSTED_PROXIES=1)
    client = proxied.test_client()
    headers = {**token_headers(proxied, "admin"), "X-Forwarded-For": "203.0.113.7"}
    response = client.post("/api/v1/specialty/", json={"name": "Da liễu"}, headers=headers)
    assert response.status_code == 201
    with proxied.app_context():
        from app.extensions import db

        event = db.session.query(AuditEvent).filter_by(entity="Specialty", action="create").one()
        assert event.ip == "203.0.113.7" and event.user_id == admin_id
