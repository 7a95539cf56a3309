"""The audit trail, and the SQL home of documents when no MongoDB is configured."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy.orm import Mapped, foreign, mapped_column, relationship

from app.models.types import UTCDateTime, utcnow


class AuditEvent(Model):
    """One row of the append-only audit trail. ``seq`` and ``hash`` chain each row to the one before
    (app/services/audit_chain.py says how; on PostgreSQL the database fills them at commit).
    ``user_id`` is deliberately not a foreign key: the trail keeps naming a deleted login by its id,
    where ON DELETE SET NULL would rewrite (and so break) the rows of that user."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(sa.Integer)
    user: Mapped[User | None] = relationship(User, primaryjoin=lambda: foreign(AuditEvent.user_id) == User.id,
                                             viewonly=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    action: Mapped[str] = mapped_column(sa.Unicode(40), nullable=False)  # create, update, delete, view, login...
    entity: Mapped[str] = mapped_column(sa.Unicode(60), nullable=False)
    entity_id: Mapped[str | None] = mapped_column(sa.Unicode(60))
    ip: Mapped[str | None] = mapped_column(sa.Unicode(45))
    details: Mapped[str | None] = mapped_column(sa.UnicodeText)  # JSON text
    # The web request (or job) that wrote the row, as in the logs: the log viewer shows a request's
    # events next to its audit rows. A correlation aid only, outside the hash chain.
    request_id: Mapped[str | None] = mapped_column(sa.Unicode(64))
    # Position in the chain (1, 2, ... without gaps) and SHA-256 (hex) of the previous row's hash and
    # this row's fields. NULL only until the writing transaction commits (PostgreSQL).
    seq: Mapped[int | None] = mapped_column(sa.BigInteger)
    hash: Mapped[str | None] = mapped_column(sa.String(64))
    __table_args__ = (
        sa.UniqueConstraint("seq", name="uq_audit_event_seq"),
        sa.Index("ix_audit_event_entity", "entity", "entity_id"),
        sa.Index("ix_audit_event_at", "at"),
        sa.Index("ix_audit_event_user", "user_id", "at"),
        sa.Index("ix_audit_event_request", "request_id"),
    )


# Indexes made by a migration only, on expressions that differ per database (the log events'
# JSON fields, migration 0027_logstore); autogenerate must neither drop nor compare them.
MIGRATION_ONLY_INDEXES = frozenset({"ix_stored_document_level", "ix_stored_document_request_id",
                                    "ix_stored_document_user_id", "ix_stored_document_status",
                                    "ix_stored_document_message"})


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's ``include_object`` (migrations/env.py and the test that models match migrations).
    Left out: the indexes only the migrations make, and a model's index made on PostgreSQL only
    (``ddl_if(dialect="postgresql")``) when the database compared has none of that name (SQLite,
    where it is never made; on PostgreSQL the test of the migrations' schema finds it)."""
    if type_ != "index":
        return True
    if name in MIGRATION_ONLY_INDEXES:
        return False
    only_on = getattr(getattr(obj, "_ddl_if", None), "dialect", None)
    return not (only_on == "postgresql" and not reflected and compare_to is None)


class StoredDocument(Model):
    """A schemaless document (chat message, log event) kept in SQL by the embedded document store."""

    __tablename__ = "stored_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    collection: Mapped[str] = mapped_column(sa.Unicode(60), nullable=False)
    doc_id: Mapped[str] = mapped_column(sa.Unicode(36), nullable=False)
    body: Mapped[str] = mapped_column(sa.UnicodeText, nullable=False)  # JSON text
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("collection", "doc_id", name="uq_stored_document_id"),
        sa.Index("ix_stored_document_collection_created", "collection", "created_at"),
    )
