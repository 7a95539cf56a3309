"""The PostgreSQL engine: the database's own full-text search over ``search_document``
(``app.models.search``), so every process and machine shares one index with no extra server.

Each document's ``tsv`` is built by the database from its folded texts with the ``clinic_search``
configuration (``simple`` + ``unaccent``; why not a language's stemmer: see ``app.models.search``),
names and keys weighted above the rest; a GIN index serves it. The query is a ``tsquery`` made
here from the cleaned terms (each a word of ``[0-9a-z]``, quoted; all of them required; the last
one also as a prefix: search as you type) and passed as a parameter; the typed keys (a code,
phone digits) are matched exactly through a GIN index on the keys' array. One statement answers
every kind: a part per kind through that kind's own index, ranking at most its first ``CAP``
matches.

Typos: when the words find nothing in a kind, each word of 3 letters or more may also be one of
its one-edit variants that keep the first letter (made here, as whoosh's ``FuzzyTerm`` finds them)
and that some indexed name has (``search_word``, one indexed lookup): "nguyen van anhh" still finds
"nguyen van anh" through ``'nguyen' & 'van' & ('anhh':* | 'anh')``. Comparing trigrams of every
document's names instead grew with the documents sharing common name syllables."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, bindparam, text
from sqlalchemy.exc import DBAPIError, ProgrammingError

from app.models.search import SEARCH_KINDS, TS_CONFIG
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

WORDS = text("INSERT INTO search_word (word) SELECT DISTINCT unnest(CAST(:words AS text[])) ON CONFLICT DO NOTHING")
KNOWN_WORDS = text("SELECT word FROM search_word WHERE word = ANY(CAST(:words AS text[]))")
FUZZY_MIN = 3  # letters a word needs before a typo in it is looked for ("vam" -> "van")
LETTERS = "abcdefghijklmnopqrstuvwxyz"


CAP = 2000  # matches of one kind read and ranked at most (the first found): ranking all was the cost


@lru_cache(maxsize=256)  # one statement per set of kinds and shape, made once
def _search_statement(kinds: tuple[str, ...], words: bool, keys: bool) -> Any:
    """The best ``limit`` documents of each kind that match the words (a ``tsquery``: the kind's
    own GIN index on ``tsv``) or share a key with the typed text (the GIN index on the keys'
    array), ranked by ``ts_rank`` (a key match first) among the first ``CAP`` matches of that
    kind: a common name's words match tens of thousands of appointments, and any few of the
    equally good ones will do while the person types on. One part per kind, the kind written in
    (a name of the registry: the planner picks the kind's partial index only for a constant)."""
    matches = []
    if words:
        matches.append(f"tsv @@ to_tsquery('{TS_CONFIG}', :tsquery)")
    if keys:
        matches.append("string_to_array(keys, ' ') && CAST(:keys AS text[])")
    rank = f"ts_rank(tsv, to_tsquery('{TS_CONFIG}', :tsquery))" if words else "0"
    key_bonus = "CASE WHEN string_to_array(keys, ' ') && CAST(:keys AS text[]) THEN 10 ELSE 0 END" if keys else "0"
    parts = []
    for kind in kinds:
        if kind not in SEARCH_KINDS:
            raise ValueError(f"unknown search kind {kind!r}")
        parts.append(f"""(SELECT '{kind}' AS kind, ref_id, score FROM (
  SELECT ref_id, {rank} + {key_bonus} AS score FROM (
    SELECT ref_id, tsv, keys FROM search_document
    WHERE kind = '{kind}' AND (CAST(:patient_id AS integer) IS NULL OR patient_id = :patient_id)
      AND ({" OR ".join(matches)})
    LIMIT {CAP}
  ) AS found
) AS scored ORDER BY score DESC, ref_id DESC LIMIT :limit)""")
    return text("\nUNION ALL\n".join(parts))


def _quoted(term: str) -> bool:
    return term.isalnum() and term.isascii()


def tsquery(terms: Iterable[str], alternatives: dict[str, list[str]] | None = None) -> str:
    """``'nguyen' & 'van' & 'an':*`` from cleaned terms (letters and digits only, quoted all the
    same): every word required, the last one also as the start of a word (search as you type).
    ``alternatives``: other words a term may be instead (the typo round's variants)."""
    terms = [term for term in terms if _quoted(term)]
    parts = []
    for i, term in enumerate(terms):
        options = [f"'{term}':*" if i == len(terms) - 1 else f"'{term}'"]
        options.extend(f"'{word}'" for word in (alternatives or {}).get(term, ()) if _quoted(word) and word != term)
        parts.append(options[0] if len(options) == 1 else "(" + " | ".join(options) + ")")
    return " & ".join(parts)


def one_edit_variants(term: str) -> set[str]:
    """Every word one edit (a letter deleted, changed, added, or two swapped) from ``term`` that
    keeps its first letter, as whoosh's ``FuzzyTerm(maxdist=1, prefixlength=1)`` finds them."""
    first, rest = term[0], term[1:]
    found: set[str] = set()
    for i in range(len(rest) + 1):
        head, tail = rest[:i], rest[i:]
        if tail:
            found.add(first + head + tail[1:])
            found.update(first + head + letter + tail[1:] for letter in LETTERS)
            if len(tail) > 1:
                found.add(first + head + tail[1] + tail[0] + tail[2:])
        found.update(first + head + letter + tail for letter in LETTERS)
    found.discard(term)
    return {word for word in found if len(word) >= 2}


def _can_be_mistyped(term: str) -> bool:
    return len(term) >= FUZZY_MIN and term.isalpha() and term.isascii()


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

    @staticmethod
    def _write(conn: Any, rows: list[dict[str, Any]]) -> None:
        conn.execute(UPSERT, rows)
        words = sorted({word for row in rows for word in row["names"].split()
                        if word.isalpha() and 2 <= len(word) <= 40})
        if words:
            conn.execute(WORDS, {"words": words})

    def index(self, documents: Iterable[Document]) -> int:
        rows = self._rows(documents)
        if rows:
            with self.engine.begin() as conn:
                self._write(conn, rows)
        return len(rows)

    def delete(self, kind: str, ref_ids: Iterable[int]) -> None:
        ids = list(ref_ids)
        if ids:
            with self.engine.begin() as conn:
                conn.execute(text("DELETE FROM search_document WHERE kind = :kind AND ref_id IN :ids")
                             .bindparams(bindparam("ids", expanding=True)), {"kind": kind, "ids": ids})

    def search(self, query: Query) -> dict[str, list[Hit]]:
        """The words and keys in one statement for every kind; then, for the kinds that found
        nothing, a typo round: each word of 3 letters or more may also be one of its one-edit
        variants (first letter kept) that is a word of some indexed name."""
        found: dict[str, list[Hit]] = {kind: [] for kind in query.kinds}
        words = tsquery(query.terms)
        if not query.kinds or not (words or query.keys):
            return found
        params = {"tsquery": words, "keys": list(query.keys),
                  "patient_id": query.patient_id, "limit": query.limit}
        try:
            with self.engine.connect() as conn:
                self._collect(conn, _search_statement(tuple(query.kinds), bool(words), bool(query.keys)), params, found)
                missing = [kind for kind, hits in found.items() if not hits]
                mistyped = [term for term in query.terms if _can_be_mistyped(term)] if missing else []
                if mistyped:
                    variants = {term: one_edit_variants(term) for term in mistyped}
                    known = set(conn.execute(KNOWN_WORDS, {"words": sorted(set().union(*variants.values()))})
                                .scalars())
                    alternatives = {term: sorted(words & known) for term, words in variants.items()}
                    if any(alternatives.values()):
                        typos = tsquery(query.terms, alternatives)
                        self._collect(conn, _search_statement(tuple(missing), True, False),
                                      {**params, "tsquery": typos}, found)
        except ProgrammingError as exc:  # no table, no configuration: the migration has not run
            raise SearchUnavailable(MISSING, str(exc.orig)[:200]) from exc
        except DBAPIError as exc:
            raise SearchUnavailable(CORRUPT, str(exc.orig)[:200]) from exc
        for hits in found.values():
            hits.sort(key=lambda hit: (-hit.score, -hit.ref_id))
        return found

    @staticmethod
    def _collect(conn: Any, statement: Any, params: dict[str, Any], found: dict[str, list[Hit]]) -> None:
        for kind, ref_id, score in conn.execute(statement, params):
            found[kind].append(Hit(kind, int(ref_id), float(score)))

    def rebuild(self, kind: str, batches: Iterable[list[Document]]) -> int:
        """In one transaction: searches see the old documents until the new ones are all in."""
        written = 0
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM search_document WHERE kind = :kind"), {"kind": kind})
            for batch in batches:
                if batch:
                    self._write(conn, self._rows(batch))
                    written += len(batch)
        with self.engine.connect() as conn:  # the planner's figures for the rows just written
            conn.execute(text("ANALYZE search_document"))
            conn.commit()
        return written

    def clear(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM search_document"))
            conn.execute(text("DELETE FROM search_word"))

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
