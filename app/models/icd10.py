"""The ICD-10 code table (issue 9, item 3): the codes a clinic diagnoses with, each with its English
(WHO) and Vietnamese (Ministry of Health) title. Loaded by ``flask icd10 load FILE``; a diagnosis
keeps its code and the title as written at the time, so a later load never changes a record."""
from __future__ import annotations

import sqlalchemy as sa
from flask_appbuilder import Model
from sqlalchemy.orm import Mapped, mapped_column


class Icd10Code(Model):
    __tablename__ = "icd10_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.Unicode(10), nullable=False)
    title_en: Mapped[str] = mapped_column(sa.Unicode(300), nullable=False)
    title_vi: Mapped[str] = mapped_column(sa.Unicode(300), nullable=False)
    # " code title_en title_vi " lower-case without accents (app.services.text.fold), words
    # separated by single spaces: what the search matches (a word starts after a space).
    search_text: Mapped[str] = mapped_column(sa.Unicode(700), nullable=False)
    __table_args__ = (
        sa.UniqueConstraint("code", name="uq_icd10_code_code"),
        # Code prefixes ("J06" -> J06.x) with LIKE 'J06%' on PostgreSQL (its default collation
        # cannot use the unique index for LIKE).
        sa.Index("ix_icd10_code_prefix", "code", postgresql_ops={"code": "varchar_pattern_ops"}),
        # Words anywhere in the titles (LIKE '%viem hong%'): a trigram index on PostgreSQL
        # (pg_trgm, created by migration 0014_dx); elsewhere a plain index, unused by such LIKEs.
        sa.Index("ix_icd10_code_search", "search_text", postgresql_using="gin",
                 postgresql_ops={"search_text": "gin_trgm_ops"}),
    )

    def __repr__(self) -> str:
        return f"{self.code} {self.title_en}"


@sa.event.listens_for(Icd10Code.__table__, "before_create")
def _trigram_extension(target: sa.Table, connection: sa.Connection, **_kw: object) -> None:
    """A schema built from the models (benches, ``create_all``) needs pg_trgm for the search
    index too, as migration 0014_dx creates it."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
