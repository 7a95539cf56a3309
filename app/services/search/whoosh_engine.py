"""The embedded engine: a whoosh (Whoosh-Reloaded) index in files under ``SEARCH_INDEX_DIR``.

Texts arrive folded (no accents, lower case); queries are whoosh query objects built from the
cleaned terms (``app.services.search.query``), never parsed from the person's text. Each term
matches a name exactly (boosted), with one typo (``FuzzyTerm``, names of 4 letters or more) or as
the start of a word (``Prefix``: search as you type), a word of the body, or a key.

Lock errors. whoosh allows one writer at a time per index, guarded by a lock file (``flock``, which
also holds between threads of one process, each writer opening its own descriptor). Every write
here takes the lock with ``ix.writer(timeout=WRITE_TIMEOUT)``: a second writer waits for the first
(whoosh retries every ``delay`` seconds) instead of failing with ``LockError``; a process-wide
``threading.Lock`` lets threads of one process queue without polling. The index jobs all go to
one queue (``app.jobs.search``, queue ``low``), so workers rarely meet at the lock at all; a writer
still waiting after ``WRITE_TIMEOUT`` fails its job, which RQ tries again later. Searches never
take the lock (readers see the last committed state)."""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from whoosh import index as whoosh_index, query as q
from whoosh.analysis import RegexTokenizer
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema

from app.services.search.base import (
    CORRUPT,
    INCOMPLETE,
    MISSING,
    OK,
    Document,
    Health,
    Hit,
    Query,
    SearchEngine,
    SearchUnavailable,
)

WRITE_TIMEOUT = 30.0  # seconds a writer waits for another to finish
INCOMPLETE_MARK = "NEEDS_REINDEX"  # made with an index created by a write: older records are not in it
_WORDS = RegexTokenizer(r"[0-9a-z]+")  # texts are folded already: words of letters and digits
_write_lock = threading.Lock()


def schema() -> Schema:
    return Schema(
        key=ID(unique=True),  # "kind:ref_id"
        kind=ID(stored=True),
        ref_id=STORED(),
        patient=ID(),
        names=TEXT(analyzer=_WORDS, phrase=False),
        body=TEXT(analyzer=_WORDS, phrase=False),
        keys=KEYWORD(lowercase=True, commas=False),
    )


def _key(kind: str, ref_id: int) -> str:
    return f"{kind}:{ref_id}"


def _fields(doc: Document) -> dict[str, Any]:
    return {"key": _key(doc.kind, doc.ref_id), "kind": doc.kind, "ref_id": doc.ref_id,
            "patient": str(doc.patient_id) if doc.patient_id is not None else "",
            "names": doc.names, "body": doc.body, "keys": " ".join(doc.keys)}


def _term_query(term: str, last: bool) -> q.Query:
    options: list[q.Query] = [q.Term("names", term, boost=4.0), q.Term("body", term), q.Term("keys", term, boost=4.0)]
    if len(term) >= 3:  # one typo in a name ("anhh" -> "anh", "vam" -> "van", "nguen" -> "nguyen")
        options.append(q.FuzzyTerm("names", term, boost=1.0, maxdist=1, prefixlength=1))
    if last or len(term) >= 3:  # the start of a word: search as you type
        options.append(q.Prefix("names", term, boost=2.0))
        options.append(q.Prefix("body", term))
    if len(term) >= 3:
        options.append(q.Prefix("keys", term, boost=2.0))
    return q.Or(options)


def build_query(query: Query) -> q.Query | None:
    """The whoosh query of a cleaned ``Query`` (None: nothing to look for)."""
    parts: list[q.Query] = []
    if query.terms:
        last = len(query.terms) - 1
        parts.append(q.And([_term_query(term, i == last) for i, term in enumerate(query.terms)]))
    parts.extend(q.Term("keys", key, boost=8.0) for key in query.keys)
    parts.extend(q.Prefix("keys", key, boost=4.0) for key in query.keys if len(key) >= 4)
    if not parts:
        return None
    return q.Or(parts)


class WhooshEngine(SearchEngine):
    name = "whoosh"

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self._index: Any = None
        self._lock = threading.Lock()

    # --- opening -----------------------------------------------------------------------------------

    def _exists(self) -> bool:
        """Whether an index is there (readable or not: a damaged table of contents counts)."""
        if not self.directory.is_dir():
            return False
        try:
            return bool(whoosh_index.exists_in(str(self.directory)))
        except Exception:  # noqa: BLE001 - whoosh opens the index to tell: there, but unreadable
            return True

    def _open(self) -> Any:
        """The index for reading; ``SearchUnavailable`` when missing or unreadable."""
        if not self._exists():
            raise SearchUnavailable(MISSING, str(self.directory))
        with self._lock:
            if self._index is None:
                try:
                    self._index = whoosh_index.open_dir(str(self.directory))
                except Exception as exc:  # noqa: BLE001 - any failure to read the files is a corrupt index
                    raise SearchUnavailable(CORRUPT, repr(exc)) from exc
            return self._index

    def _open_for_writing(self) -> Any:
        """The index, created empty when missing (marked incomplete: the records written before are
        not in it until ``flask search reindex``)."""
        if not self._exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._index = whoosh_index.create_in(str(self.directory), schema())
            (self.directory / INCOMPLETE_MARK).touch()
        return self._open()

    def _writer(self, ix: Any) -> Any:
        return ix.writer(timeout=WRITE_TIMEOUT, delay=0.05)

    def _forget(self) -> None:
        with self._lock:
            self._index = None

    # --- SearchEngine ------------------------------------------------------------------------------

    def index(self, documents: Iterable[Document]) -> int:
        documents = list(documents)
        if not documents:
            return 0
        with _write_lock:
            writer = self._writer(self._open_for_writing())
            try:
                for doc in documents:
                    writer.update_document(**_fields(doc))
            except BaseException:
                writer.cancel()
                raise
            writer.commit()
        return len(documents)

    def delete(self, kind: str, ref_ids: Iterable[int]) -> None:
        ref_ids = list(ref_ids)
        if not ref_ids or not self._exists():
            return
        with _write_lock:
            writer = self._writer(self._open())
            try:
                for ref_id in ref_ids:
                    writer.delete_by_term("key", _key(kind, ref_id))
            except BaseException:
                writer.cancel()
                raise
            writer.commit()

    def search(self, query: Query) -> dict[str, list[Hit]]:
        wanted = build_query(query)
        if wanted is None or not query.kinds:
            return {kind: [] for kind in query.kinds}
        ix = self._open()
        found: dict[str, list[Hit]] = {}
        try:
            with ix.searcher() as searcher:
                for kind in query.kinds:
                    parts: list[q.Query] = [wanted, q.Term("kind", kind)]
                    if query.patient_id is not None:
                        parts.append(q.Term("patient", str(query.patient_id)))
                    results = searcher.search(q.And(parts), limit=query.limit)
                    found[kind] = [Hit(kind, int(r["ref_id"]), float(r.score or 0.0)) for r in results]
        except SearchUnavailable:
            raise
        except Exception as exc:  # noqa: BLE001 - unreadable segment files: a corrupt index
            self._forget()
            raise SearchUnavailable(CORRUPT, repr(exc)) from exc
        return found

    def rebuild(self, kind: str, batches: Iterable[list[Document]]) -> int:
        written = 0
        with _write_lock:
            ix = self._open_for_writing()
            writer = self._writer(ix)
            try:
                writer.delete_by_term("kind", kind)
                for batch in batches:
                    for doc in batch:
                        writer.add_document(**_fields(doc))
                    written += len(batch)
            except BaseException:
                writer.cancel()
                raise
            writer.commit(optimize=False)
        return written

    def clear(self) -> None:
        """A new, empty index (also the cure of a corrupt one)."""
        with _write_lock:
            self._forget()
            if self.directory.exists():
                shutil.rmtree(self.directory)
            self.directory.mkdir(parents=True, exist_ok=True)
            whoosh_index.create_in(str(self.directory), schema())

    def mark_complete(self) -> None:
        (self.directory / INCOMPLETE_MARK).unlink(missing_ok=True)

    def health(self) -> Health:
        try:
            ix = self._open()
            counts: dict[str, int] = {}
            with ix.searcher() as searcher:
                for kind in searcher.lexicon("kind"):
                    name = kind.decode() if isinstance(kind, bytes) else str(kind)
                    counts[name] = searcher.doc_frequency("kind", name)
        except SearchUnavailable as exc:
            return Health(exc.state, self.name, detail=str(exc))
        except Exception as exc:  # noqa: BLE001
            self._forget()
            return Health(CORRUPT, self.name, detail=repr(exc))
        state = INCOMPLETE if (self.directory / INCOMPLETE_MARK).exists() else OK
        return Health(state, self.name, counts)
