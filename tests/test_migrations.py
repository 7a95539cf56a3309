"""The Alembic chain: it builds the whole schema on the configured engine, goes down and up
again, and matches the models exactly (no change left for autogenerate)."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_appbuilder import Model
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from config import TestConfig


@pytest.fixture
def scratch_app(scratch_url):
    from app import create_app

    application = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=scratch_url)
    yield application
    with application.app_context():
        from app.extensions import db

        db.engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(scratch_app, scratch_url):
    expected = set(Model.metadata.tables)
    with scratch_app.app_context():
        upgrade()
        assert tables(scratch_url) == expected
        downgrade(revision="base")
        assert tables(scratch_url) == set()
        upgrade()
        assert tables(scratch_url) == expected


def test_migrations_match_the_models(scratch_app, scratch_url):
    with scratch_app.app_context():
        upgrade()
    engine = create_engine(scratch_url)
    try:
        with engine.connect() as conn:
            from app.models.audit import include_in_autogenerate

            context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                             "include_object": include_in_autogenerate})
            diff = compare_metadata(context, Model.metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models and migrations differ; run `flask db migrate`: {diff}"


def test_constraints_live_in_the_database(scratch_app, scratch_url):
    """Rules that must hold even if a bug bypasses the services."""
    with scratch_app.app_context():
        upgrade()
    engine = create_engine(scratch_url)
    try:
        insp = inspect(engine)
        uniques = {tuple(u["column_names"]) for u in insp.get_unique_constraints("patient")}
        assert ("code",) in uniques and ("national_id",) in uniques
        assert ("number",) in {tuple(u["column_names"]) for u in insp.get_unique_constraints("invoice")}
        checks = {c["name"] for c in insp.get_check_constraints("stock_batch")}
        assert "ck_stock_batch_quantity_non_negative" in checks
        assert "ck_appointment_end_after_start" in {c["name"] for c in insp.get_check_constraints("appointment")}
        assert "ck_service_price_non_negative" in {c["name"] for c in insp.get_check_constraints("service")}
        fks = {fk["referred_table"] for fk in insp.get_foreign_keys("appointment")}
        assert {"patient", "doctor", "service"} <= fks
        indexes = {i["name"] for i in insp.get_indexes("appointment")}
        assert "ix_appointment_doctor_start" in indexes
    finally:
        engine.dispose()


def test_the_audit_chain_links_rows_written_before_it(scratch_app, scratch_url):
    """Migration 0006_audit_chain links the audit rows already there, in the order they were written."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from app.services.audit_chain import verify_chain

    with scratch_app.app_context():
        upgrade(revision="0003_permission_version")
        engine = create_engine(scratch_url)
        try:
            with engine.begin() as conn:
                for n in range(3):
                    conn.execute(text("INSERT INTO audit_event (at, action, entity, entity_id, details) "
                                      "VALUES (:at, 'create', 'Patient', :n, :d)"),
                                 {"at": datetime(2026, 1, 1, 8, n, 5, 123456, tzinfo=timezone.utc).replace(
                                     tzinfo=None if conn.dialect.name == "sqlite" else timezone.utc),
                                  "n": str(n), "d": '{"fields": ["tên"]}' if n else None})
        finally:
            engine.dispose()
        upgrade()
        from app.extensions import db

        report = verify_chain(db.session)
        assert report.intact and report.rows == 3 and report.waiting == 0
        db.session.rollback()
