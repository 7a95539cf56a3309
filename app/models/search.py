"""The PostgreSQL search engine's documents (``app.services.search.postgres_engine``): one row per
searchable record (a patient, an appointment, a visit, ...), written by the index jobs after each
commit and by ``flask search reindex``. The embedded engine (whoosh) keeps the same documents in
files instead; on SQLite the table exists (one schema everywhere) and stays empty."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column

from app.models.types import UTCDateTime, utcnow

# The text search configuration made by migration 0028_search (and by ``create_all`` below):
# ``simple`` (no stemming, no stop words) with ``unaccent`` in front for words. PostgreSQL has no
# Vietnamese stemmer or dictionary, and Vietnamese words do not inflect: a stemmer for another
# language would only damage the syllables; unaccent + simple matches "Nguyễn" and "nguyen" alike.
TS_CONFIG = "clinic_search"
# The kinds of ``app.services.search.kinds``: each has a GIN index of its own on PostgreSQL (a
# partial index), so that a search of one kind reads that kind's matches only and may stop after
# the first few thousand (``postgres_engine``). A new kind needs its index: a migration.
SEARCH_KINDS = ("patients", "appointments", "visits", "prescriptions", "medicines", "invoices")


class SearchDocument(Model):
    __tablename__ = "search_document"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Unicode(20), nullable=False)  # patients, visits, ...
    ref_id: Mapped[int] = mapped_column(nullable=False)  # the record's id in its own table
    patient_id: Mapped[int | None] = mapped_column()  # whose record it is (the portal's own search)
    # Folded (lower case, no accents) texts: names (typos matched by trigrams), other words, and
    # exact keys (codes, phone digits, national ID, invoice number; written without separators).
    names: Mapped[str] = mapped_column(sa.UnicodeText, nullable=False, default="")
    body: Mapped[str] = mapped_column(sa.UnicodeText, nullable=False, default="")
    keys: Mapped[str] = mapped_column(sa.UnicodeText, nullable=False, default="")
    # PostgreSQL: the tsvector of the three, weighted (names and keys A, body C); elsewhere unused.
    tsv: Mapped[str | None] = mapped_column(sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("kind", "ref_id", name="uq_search_document_kind_ref"),
        # GIN indexes without a pending list (``fastupdate``), which every search would read through;
        # one per kind (PostgreSQL only; migration 0030_search_kind_indexes).
        *(sa.Index(f"ix_search_document_tsv_{kind}", "tsv", postgresql_using="gin",
                   postgresql_with={"fastupdate": "off"}, postgresql_where=sa.text(f"kind = '{kind}'"))
          .ddl_if(dialect="postgresql") for kind in SEARCH_KINDS),
        # A typed code, phone number or ID: ``string_to_array(keys, ' ') && :keys`` (PostgreSQL only).
        sa.Index("ix_search_document_keys", sa.text("string_to_array(keys, ' ')"),
                 postgresql_using="gin", postgresql_with={"fastupdate": "off"}).ddl_if(dialect="postgresql"),
        sa.Index("ix_search_document_patient", "patient_id"),
    )


class SearchWord(Model):
    """Every word of the indexed names (PostgreSQL engine): the typo round looks a typed word's
    one-edit variants up here and searches only those that exist. Words are added as documents are
    written and never removed (a word no document has any more only finds nothing)."""

    __tablename__ = "search_word"
    word: Mapped[str] = mapped_column(sa.Unicode(40), primary_key=True)


CREATE_CONFIGURATION = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{TS_CONFIG}') THEN
    CREATE TEXT SEARCH CONFIGURATION {TS_CONFIG} (COPY = simple);
    ALTER TEXT SEARCH CONFIGURATION {TS_CONFIG}
      ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part WITH unaccent, simple;
  END IF;
END $$;
"""


@sa.event.listens_for(SearchDocument.__table__, "before_create")
def _search_extensions(target: sa.Table, connection: sa.Connection, **_kw: object) -> None:
    """A schema built from the models (benches, ``create_all``) needs what migration 0028_search makes."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS unaccent")
        connection.exec_driver_sql(CREATE_CONFIGURATION)
