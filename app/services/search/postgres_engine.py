"""The PostgreSQL engine: the database's own full-text search over ``search_document``
(``app.models.search``), so every process and machine shares one index with no extra server.

Each document's ``tsv`` is built by the database from its folded texts with the ``clinic_search``
configuration (``simple`` + ``unaccent``; why not a language's stemmer: see ``app.models.search``),
names and keys weighted above the rest; a GIN index serves it. The query is a ``tsquery`` made
here from the cleaned terms (each a word of ``[0-9a-z]``, quoted, as a prefix: search as you type;
all of them required) and passed as a parameter; the typed keys (a code, phone digits) are
matched exactly. When the words find nothing in a kind, names are compared by trigram similarity
(``pg_trgm``, its GIN index on ``names``): "nguyen van anhh" still finds "nguyen van anh"."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from app.models.search import TS_CONFIG
from app.services.search.base import (
    CORRUPT,
    MISSING,
    OK,
    Document,
    Health,
    Hit,
    Query,
    SearchEngine,
    SearchUnavailable,
)

TRIGRAM_THRESHOLD = 0.35  # similarity of the typed words to a document's names (pg_trgm's default is 0.3)
BATCH = 1000

UPSERT = text(f"""
INSERT INTO search_document (kind, ref_id, patient_id, names, body, keys, tsv, updated_at)
VALUES (:kind, :ref_id, :patient_id, :names, :body, :keys,
        setweight(to_tsvector('{TS_CONFIG}', :names), 'A') || setweight(to_tsvector('{TS_CONFIG}', :keys), 'A')
        || setweight(to_tsvector('{TS_CONFIG}', :body), 'C'), :now)
ON CONFLICT ON CONSTRAINT uq_search_document_kind_ref DO UPDATE SET
  patient_id = EXCLUDED.patient_id, names = EXCLUDED.names, body = EXCLUDED.body, keys = EXCLUDED.keys,
  tsv = EXCLUDED.tsv, updated_at = EXCLUDED.updated_at
""")

# One statement for every kind: the best ``limit`` of each (a window over the matches).
SEARCH = text(f"""
SELECT kind, ref_id, score FROM (
  SELECT kind, ref_id, score, row_number() OVER (PARTITION BY kind ORDER BY score DESC, ref_id DESC) AS rank
  FROM (
    SELECT kind, ref_id,
           ts_rank(tsv, to_tsquery('{TS_CONFIG}', :tsquery)) + CASE WHEN keys_match THEN 10 ELSE 0 END AS score
    FROM (
      SELECT kind, ref_id, tsv, string_to_array(keys, ' ') && CAST(:keys AS text[]) AS keys_match
      FROM search_document
      WHERE kind = ANY(:kinds) AND (CAST(:patient_id AS integer) IS NULL OR patient_id = :patient_id)
        AND ((:tsquery <> '' AND tsv @@ to_tsquery('{TS_CONFIG}', :tsquery))
             OR string_to_array(keys, ' ') && CAST(:keys AS text[]))
    ) AS matched
  ) AS scored
) AS ranked
WHERE rank <= :limit
""")

TYPOS = text("""
SELECT kind, ref_id, similarity(names, :words) AS score FROM (
  SELECT kind, ref_id, names, row_number() OVER (PARTITION BY kind ORDER BY similarity(names, :words) DESC) AS rank
  FROM search_document
  WHERE kind = ANY(:kinds) AND (CAST(:patient_id AS integer) IS NULL OR patient_id = :patient_id)
    AND names % :words
) AS ranked WHERE rank <= :limit
""")


def tsquery(terms: Iterable[str]) -> str:
    """``'nguyen':* & 'van':*`` from cleaned terms (letters and digits only, quoted all the same)."""
    return " & ".join(f"'{term}':*" for term in terms if term.isalnum() and term.isascii())


class PostgresEngine(SearchEngine):
    name = "postgres"

    def __init__(self, engine: Engine | Callable[[], Engine]):
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine() if callable(self._engine) else self._engine

    def _rows(self, documents: Iterable[Document]) -> list[dict[str, Any]]:
        now = datetime.now(timezone.utc)
        return [{"kind": d.kind, "ref_id": d.ref_id, "patient_id": d.patient_id, "names": d.names, "body": d.body,
                 "keys": " ".join(d.keys), "now": now} for d in documents]

    def index(self, documents: Iterable[Document]) -> int:
        rows = self._rows(documents)
        if rows:
            with self.engine.begin() as conn:
                conn.execute(UPSERT, rows)
        return len(rows)

    def delete(self, kind: str, ref_ids: Iterable[int]) -> None:
        ids = list(ref_ids)
        if ids:
            with self.engine.begin() as conn:
                conn.execute(text("DELETE FROM search_document WHERE kind = :kind AND ref_id IN :ids")
                             .bindparams(bindparam("ids", expanding=True)), {"kind": kind, "ids": ids})

    def search(self, query: Query) -> dict[str, list[Hit]]:
        found: dict[str, list[Hit]] = {kind: [] for kind in query.kinds}
        words = tsquery(query.terms)
        if not query.kinds or not (words or query.keys):
            return found
        params = {"tsquery": words, "keys": list(query.keys), "kinds": list(query.kinds),
                  "patient_id": query.patient_id, "limit": query.limit}
        try:
            with self.engine.connect() as conn:
                for kind, ref_id, score in conn.execute(SEARCH, params):
                    found[kind].append(Hit(kind, int(ref_id), float(score)))
                missing = [kind for kind, hits in found.items() if not hits]
                if missing and query.terms and max(len(term) for term in query.terms) >= 3:
                    conn.execute(text("SELECT set_config('pg_trgm.similarity_threshold', :t, true)"),
                                 {"t": str(TRIGRAM_THRESHOLD)})
                    for kind, ref_id, score in conn.execute(TYPOS, {**params, "kinds": missing,
                                                                   "words": " ".join(query.terms)}):
                        found[kind].append(Hit(kind, int(ref_id), float(score)))
        except ProgrammingError as exc:  # no table, no configuration: the migration has not run
            raise SearchUnavailable(MISSING, str(exc.orig)[:200]) from exc
        except DBAPIError as exc:
            raise SearchUnavailable(CORRUPT, str(exc.orig)[:200]) from exc
        for hits in found.values():
            hits.sort(key=lambda hit: (-hit.score, -hit.ref_id))
        return found

    def rebuild(self, kind: str, batches: Iterable[list[Document]]) -> int:
        """In one transaction: searches see the old documents until the new ones are all in."""
        written = 0
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM search_document WHERE kind = :kind"), {"kind": kind})
            for batch in batches:
                if batch:
                    conn.execute(UPSERT, self._rows(batch))
                    written += len(batch)
        return written

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM search_document"))

    def health(self) -> Health:
        try:
            with self.engine.connect() as conn:
                if conn.execute(text("SELECT 1 FROM pg_ts_config WHERE cfgname = :name"),
                                {"name": TS_CONFIG}).first() is None:
                    return Health(MISSING, self.name, detail=f"text search configuration {TS_CONFIG}")
                counts = {kind: int(count) for kind, count in conn.execute(
                    text("SELECT kind, COUNT(*) FROM search_document GROUP BY kind"))}
        except ProgrammingError as exc:
            return Health(MISSING, self.name, detail=str(exc.orig)[:200])
        except DBAPIError as exc:
            return Health(CORRUPT, self.name, detail=str(exc.orig)[:200])
        return Health(OK, self.name, counts)
